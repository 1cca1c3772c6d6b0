// Package drills is the drill engine: a rig (a seeded sandbox and a drill worker bound only
// to it, on the drill task queue), fault injection, the scorecard with its leak and upstream
// checks, its renderers (text, Markdown, HTML), replay of a recorded run and the diff of the
// two, drill schedules as Temporal Schedules, and trends over past drills.
//
// It runs the same compiled Plan and the same interpreter workflow as production. It never
// reads flags, environment or configuration: cmd/firebreak resolves them and passes a Config
// and Settings in.
package drills
