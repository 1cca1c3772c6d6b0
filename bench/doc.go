// Package bench holds firebreak's end-to-end benchmarks that need a whole rig: the embedded
// Temporal server, the sandbox and a worker in a child process. It has no API; everything is
// in its tests. Nothing imports it.
//
//	go test -run '^$' -bench Mass -benchtime 1x ./bench
//
// runs the mass-deprovisioning benchmark (1,000 developers; flags -mass.n, -mass.compare,
// -mass.production, -mass.ratelimited, -mass.rate-n, the rate flags and -mass.run-timeout
// change it; 10,000 needs a longer -mass.run-timeout and -timeout), and `go test ./bench` checks the same rig's
// correctness on a handful of developers. Both build firebreak with -tags noserver (the
// production worker's binary) into a temporary directory, with the go command on PATH.
package bench
