package drills

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/testenv"
)

// ThreadMessage is one message of the sandbox Slack channel as a responder reads it: when, who,
// whether it is a reply in a thread, and its text with Slack's markup simplified. Text is the
// message as it stands after its edits. (firebreak redacts what it sends to Slack before it
// leaves; the command redacts the thread again before showing it.)
type ThreadMessage struct {
	At    time.Time `json:"at"`
	User  string    `json:"user"`
	Reply bool      `json:"reply,omitempty"`
	Text  string    `json:"text"`
	Edits int       `json:"edits,omitempty"`
}

// SlackThread is what the sandbox's channel received during a drill, in the order a responder
// reads it: each top-level message followed by its thread replies.
func SlackThread(sb *testenv.Sandbox, channel string) []ThreadMessage {
	msgs := sb.Slack.Messages(channel)
	replies := map[string][]testenv.SlackMessage{}
	var top []testenv.SlackMessage
	for _, m := range msgs {
		if m.ThreadTS != "" && m.ThreadTS != m.TS {
			replies[m.ThreadTS] = append(replies[m.ThreadTS], m)
		} else {
			top = append(top, m)
		}
	}
	var out []ThreadMessage
	add := func(m testenv.SlackMessage, reply bool) {
		out = append(out, ThreadMessage{At: m.Posted, User: m.User, Reply: reply, Text: readable(m), Edits: m.Edits})
	}
	for _, m := range top {
		add(m, false)
		for _, r := range replies[m.TS] {
			add(r, true)
		}
		delete(replies, m.TS)
	}
	// Replies to a parent the channel does not hold (none expected) still show, last.
	for _, ts := range slices.Sorted(maps.Keys(replies)) {
		for _, r := range replies[ts] {
			add(r, true)
		}
	}
	return out
}

// readable is what a responder sees of m: its Block Kit blocks when it has them (the text is
// then only the notification's fallback), else its text; simplified.
func readable(m testenv.SlackMessage) string {
	text := m.Text
	if bt := blockText(m.Blocks); bt != "" {
		text = bt
	}
	return SimplifyMrkdwn(text)
}

// blockText collects the visible text of Block Kit blocks: headers, sections and their fields,
// context elements, and buttons as [label].
func blockText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	type textObj struct {
		Text string `json:"text"`
	}
	var blocks []struct {
		Type     string    `json:"type"`
		Text     *textObj  `json:"text"`
		Fields   []textObj `json:"fields"`
		Elements []struct {
			Type string   `json:"type"`
			Text *textObj `json:"text"`
		} `json:"elements"`
	}
	if json.Unmarshal(raw, &blocks) != nil {
		return ""
	}
	var lines []string
	for _, b := range blocks {
		if b.Text != nil && b.Text.Text != "" {
			lines = append(lines, b.Text.Text)
		}
		for _, f := range b.Fields {
			lines = append(lines, f.Text)
		}
		var els []string
		for _, e := range b.Elements {
			switch {
			case e.Type == "button" && e.Text != nil:
				els = append(els, "["+e.Text.Text+"]")
			case e.Text != nil:
				els = append(els, e.Text.Text)
			}
		}
		if len(els) > 0 {
			lines = append(lines, strings.Join(els, " "))
		}
	}
	return strings.Join(lines, "\n")
}

var (
	slackLink     = regexp.MustCompile(`<([^<>|]+)\|([^<>]+)>`)
	slackRef      = regexp.MustCompile(`<([@#!])([^<>|]+)>`)
	slackBareLink = regexp.MustCompile(`<([^<>@#!][^<>]*)>`)
	slackEmphasis = regexp.MustCompile(`(^|[\s(])([*_~])([^\s*_~](?:[^*_~\n]*[^\s*_~])?)([*_~])([\s).,:;!?]|$)`)
)

// SimplifyMrkdwn turns Slack's mrkdwn into plain text: links show their label (or address),
// mentions their id, and *bold*, _italic_, ~strike~ and `code` their text.
func SimplifyMrkdwn(s string) string {
	s = slackLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := slackLink.FindStringSubmatch(m)
		switch sub[1][0] {
		case '@', '!':
			return "@" + sub[2]
		case '#':
			return "#" + sub[2]
		}
		return sub[2]
	})
	s = slackRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := slackRef.FindStringSubmatch(m)
		if sub[1] == "#" {
			return "#" + sub[2]
		}
		return "@" + sub[2]
	})
	s = slackBareLink.ReplaceAllString(s, "$1")
	for range 2 { // adjacent emphases share a boundary
		s = slackEmphasis.ReplaceAllStringFunc(s, func(m string) string {
			sub := slackEmphasis.FindStringSubmatch(m)
			if sub[2] != sub[4] {
				return m
			}
			return sub[1] + sub[3] + sub[5]
		})
	}
	s = strings.ReplaceAll(s, "```", "")
	s = strings.ReplaceAll(s, "`", "")
	return html.UnescapeString(s)
}

// PrintSlackThread prints a drill's Slack channel as a responder reads it: time, who, and the
// text, thread replies indented under their parent.
func PrintSlackThread(w io.Writer, channel string, msgs []ThreadMessage) {
	fmt.Fprintf(w, "  Slack %s (sandbox), as a responder reads it — %d messages:\n", channel, len(msgs))
	if len(msgs) == 0 {
		fmt.Fprintln(w, "    (nothing was posted)")
	}
	for _, m := range msgs {
		indent, mark := "    ", ""
		if m.Reply {
			indent, mark = "      ", "↳ "
		}
		edited := ""
		if m.Edits > 0 {
			edited = fmt.Sprintf(" (edited %d×)", m.Edits)
		}
		lines := strings.Split(strings.TrimSpace(m.Text), "\n")
		fmt.Fprintf(w, "%s%s%s %s%s: %s\n", indent, mark, m.At.Local().Format(time.TimeOnly), m.User, edited, lines[0])
		for _, l := range lines[1:] {
			if l = strings.TrimSpace(l); l != "" {
				fmt.Fprintf(w, "%s%s    %s\n", indent, strings.Repeat(" ", len([]rune(mark))), l)
			}
		}
	}
}
