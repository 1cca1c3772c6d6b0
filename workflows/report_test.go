package workflows

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/mock"

	"github.com/firebreak-dev/firebreak/activities/slack"
)

// postRecorder replaces the fake slack.Post and keeps every input.
type postRecorder struct {
	mu    sync.Mutex
	posts []slack.PostInput
}

func (p *postRecorder) install(fe *featureEnv) {
	fe.env.OnActivity("slack.Post", mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in slack.PostInput) (slack.PostResult, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.posts = append(p.posts, in)
			return slack.PostResult{Channel: "C1", TS: "1.0001"}, nil
		})
}

func TestApprovalRequestCarriesButtonsAndRunLink(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	var rec postRecorder
	rec.install(fe)
	var got []string
	lead := []string{"security-lead"}
	fe.update(time.Minute, ApprovalRequest{Step: "approve", Approver: "bob", ApproverRoles: lead, Decision: DecisionApprove}, &got)
	fe.update(2*time.Minute, ApprovalRequest{Step: "approve", Approver: "carol", ApproverRoles: lead, Decision: DecisionApprove}, &got)
	in := fanoutInput(t, "u1")
	in.Report = Report{SlackChannel: "C1", TemporalUIURL: "http://127.0.0.1:8233/namespaces/default/"}
	if _, err := fe.run(t, in); err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(got, "\n"))
	}
	const wfID = "drill/x/alice/test"

	var status, ask *slack.PostInput
	for i, p := range rec.posts {
		switch {
		case strings.HasSuffix(p.IdempotencyKey, "/status"):
			status = &rec.posts[i]
		case strings.HasSuffix(p.IdempotencyKey, "/pending/approve/approval"):
			ask = &rec.posts[i]
		}
	}
	if status == nil || ask == nil {
		t.Fatalf("expected a status message and an approval request among %d posts, found status=%v request=%v", len(rec.posts), status != nil, ask != nil)
	}
	wantLink := "<http://127.0.0.1:8233/namespaces/default/workflows/drill%2Fx%2Falice%2Ftest|drill/x/alice/test>"
	if !strings.Contains(status.Text, "Run: "+wantLink) {
		t.Errorf("status message: expected the run link %s, found:\n%s", wantLink, status.Text)
	}
	if ask.ThreadTS != "1.0001" || !strings.Contains(ask.Text, "Approval needed — approve") || !strings.Contains(ask.Text, "/firebreak approve "+wfID+" step=approve") {
		t.Errorf("approval request: expected a thread reply with a text fallback naming the command, found thread %q text:\n%s", ask.ThreadTS, ask.Text)
	}
	// The blocks must be what the activity accepts: slack-go's Block Kit.
	var blocks slackapi.Blocks
	if err := json.Unmarshal(ask.Blocks, &blocks); err != nil {
		t.Fatalf("approval blocks do not parse as Block Kit: %v\n%s", err, ask.Blocks)
	}
	if len(blocks.BlockSet) != 2 {
		t.Fatalf("expected a section and an actions block, found %d blocks", len(blocks.BlockSet))
	}
	sec, ok := blocks.BlockSet[0].(*slackapi.SectionBlock)
	if !ok || sec.Text == nil || sec.Text.Text != ask.Text {
		t.Errorf("first block: expected a section with the request text, found %#v", blocks.BlockSet[0])
	}
	acts, ok := blocks.BlockSet[1].(*slackapi.ActionBlock)
	if !ok || acts.Elements == nil || len(acts.Elements.ElementSet) != 2 {
		t.Fatalf("second block: expected actions with two buttons, found %#v", blocks.BlockSet[1])
	}
	var ids []string
	for _, el := range acts.Elements.ElementSet {
		b, ok := el.(*slackapi.ButtonBlockElement)
		if !ok {
			t.Fatalf("expected button elements, found %T", el)
		}
		ids = append(ids, b.ActionID+":"+b.Text.Text)
		var v DecisionButton
		if err := json.Unmarshal([]byte(b.Value), &v); err != nil || v.WorkflowID != wfID || v.Step != "approve" {
			t.Errorf("button %s value: expected {workflow_id: %s, step: approve}, found %s (%v)", b.ActionID, wfID, b.Value, err)
		}
	}
	if strings.Join(ids, ",") != ActionApprove+":Approve,"+ActionDeny+":Deny" {
		t.Errorf("buttons: expected approve then deny, found %v", ids)
	}
}

func TestDecisionBlocksByKind(t *testing.T) {
	for _, tc := range []struct{ kind, yes, no string }{
		{PendingKindApproval, "Approve", "Deny"},
		{PendingKindManual, "Done", "Could not do it"},
		{PendingKindEscalation, "Carry on", "Abort run"},
	} {
		long := strings.Repeat("é", 2000) // 4000 bytes: over Slack's section limit
		raw := decisionBlocks(long, "run/1", PendingApproval{Step: "s", Kind: tc.kind})
		if again := decisionBlocks(long, "run/1", PendingApproval{Step: "s", Kind: tc.kind}); string(again) != string(raw) {
			t.Fatalf("%s: blocks differ between two calls; replay would see other bytes", tc.kind)
		}
		var blocks slackapi.Blocks
		if err := json.Unmarshal(raw, &blocks); err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		sec := blocks.BlockSet[0].(*slackapi.SectionBlock)
		if n := len(sec.Text.Text); n > 3000 || !strings.HasSuffix(sec.Text.Text, "é…") {
			t.Errorf("%s: section text of %d bytes, expected ≤ 3000 cut on a rune boundary", tc.kind, n)
		}
		els := blocks.BlockSet[1].(*slackapi.ActionBlock).Elements.ElementSet
		if y, n := els[0].(*slackapi.ButtonBlockElement).Text.Text, els[1].(*slackapi.ButtonBlockElement).Text.Text; y != tc.yes || n != tc.no {
			t.Errorf("%s: buttons %q/%q, expected %q/%q", tc.kind, y, n, tc.yes, tc.no)
		}
	}
}

func TestRunLink(t *testing.T) {
	if got := RunLink("", "pd/P1"); got != "`pd/P1`" {
		t.Errorf("without a UI URL: expected the id in code format, found %s", got)
	}
	if got := RunLink("http://ui/namespaces/default", "pd/P1"); got != "<http://ui/namespaces/default/workflows/pd%2FP1|pd/P1>" {
		t.Errorf("with a UI URL: found %s", got)
	}
}
