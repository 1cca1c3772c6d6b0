package drills

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/testenv"
)

func TestSimplifyMrkdwn(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"*Drill* compromised-dev-key: _contained_", "Drill compromised-dev-key: contained"},
		{"see <https://temporal.example.com/x|the run> now", "see the run now"},
		{"approver <@U0CAROL> in <#C0DRILLS|drills>", "approver @U0CAROL in #drills"},
		{"<!here> ~old~ `acc-1` &lt;ok&gt; &amp; done", "@here old acc-1 <ok> & done"},
		{"a*b*c stays, 2 * 3 * 4 too", "a*b*c stays, 2 * 3 * 4 too"},
		{"<https://example.com>", "https://example.com"},
	} {
		if got := SimplifyMrkdwn(c.in); got != c.want {
			t.Errorf("SimplifyMrkdwn(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

// TestSlackThreadAsAResponderReadsIt: a reply posted after a later top-level message still
// reads under its parent; blocks win over the fallback text (buttons as [label]); edits are
// counted.
func TestSlackThreadAsAResponderReadsIt(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	post := func(form url.Values) string {
		t.Helper()
		form.Set("channel", testenv.DrillChannel)
		req, _ := http.NewRequest(http.MethodPost, sb.Slack.URL()+"/api/chat.postMessage", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+sb.Slack.BotToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			OK    bool   `json:"ok"`
			TS    string `json:"ts"`
			Error string `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.OK {
			t.Fatalf("chat.postMessage: %v %s", err, out.Error)
		}
		return out.TS
	}
	parent := post(url.Values{"text": {"*Drill* compromised-dev-key for <@U0ALICE>"}})
	post(url.Values{"text": {"second top-level"}})
	post(url.Values{"thread_ts": {parent}, "text": {"fallback only"}, "blocks": {`[{"type":"section","text":{"type":"mrkdwn","text":"_Approve_ rotating secrets?"}},{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Approve"},"action_id":"a"},{"type":"button","text":{"type":"plain_text","text":"Deny"},"action_id":"d"}]}]`}})
	post(url.Values{"thread_ts": {parent}, "text": {"*done*"}})

	th := SlackThread(sb, testenv.DrillChannel)
	if len(th) != 4 {
		t.Fatalf("%d messages; want 4: %+v", len(th), th)
	}
	want := []struct {
		reply bool
		text  string
	}{
		{false, "Drill compromised-dev-key for @U0ALICE"},
		{true, "Approve rotating secrets?\n[Approve] [Deny]"},
		{true, "done"},
		{false, "second top-level"},
	}
	for i, w := range want {
		if th[i].Reply != w.reply || !strings.HasPrefix(th[i].Text, w.text) || th[i].At.IsZero() || th[i].User != testenv.SlackBotUserID {
			t.Errorf("message %d: %+v; want reply=%v text %q, a time and the bot", i, th[i], w.reply, w.text)
		}
	}
	var b bytes.Buffer
	PrintSlackThread(&b, testenv.DrillChannel, th)
	out := b.String()
	if !strings.Contains(out, "4 messages") || !strings.Contains(out, "      ↳ ") {
		t.Errorf("printed thread:\n%s", out)
	}
	if i, j := strings.Index(out, "[Approve] [Deny]"), strings.Index(out, "second top-level"); i < 0 || j < i {
		t.Errorf("the replies do not read under their parent:\n%s", out)
	}
}
