package workflows

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
)

func testCodec(t *testing.T, primary string) *Codec {
	t.Helper()
	c, err := NewCodec(primary, map[string][]byte{"k1": bytes.Repeat([]byte{1}, 32), "k2": bytes.Repeat([]byte{2}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCodecRoundTripAndRotation(t *testing.T) {
	dc := DataConverter(testCodec(t, "k1"))
	p, err := dc.ToPayload(map[string]string{"subject": "alice", "secret": "fbcanary-xyz"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("fbcanary")) || bytes.Contains(p.Data, []byte("alice")) {
		t.Fatal("payload data is not encrypted")
	}
	if string(p.Metadata[metadataKeyID]) != "k1" {
		t.Fatalf("key id %q", p.Metadata[metadataKeyID])
	}
	// A codec whose primary has moved on to k2 still reads what k1 sealed.
	var got map[string]string
	if err := DataConverter(testCodec(t, "k2")).FromPayload(p, &got); err != nil || got["subject"] != "alice" {
		t.Fatalf("decode after rotation: %v %v", got, err)
	}
}

func TestCodecRejectsTamperingAndUnknownKeys(t *testing.T) {
	c := testCodec(t, "k1")
	enc, err := c.Encode([]*commonpb.Payload{{Data: []byte(`"x"`)}})
	if err != nil {
		t.Fatal(err)
	}
	tampered := &commonpb.Payload{Metadata: enc[0].Metadata, Data: append([]byte(nil), enc[0].Data...)}
	tampered.Data[len(tampered.Data)-1] ^= 1
	if _, err := c.Decode([]*commonpb.Payload{tampered}); err == nil {
		t.Fatal("a tampered payload decoded")
	}
	other, _ := NewCodec("k9", map[string][]byte{"k9": bytes.Repeat([]byte{9}, 32)})
	if _, err := other.Decode(enc); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("expected ErrUnknownKey, got %v", err)
	}
	if _, err := NewCodec("k1", map[string][]byte{"k1": []byte("short")}); err == nil {
		t.Fatal("accepted a short key")
	}
}

func TestDecodeMessage(t *testing.T) {
	c := testCodec(t, "k1")
	enc, _ := c.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"alice"`)}})
	ev := &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
		WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: &commonpb.Payloads{Payloads: enc}},
	}}
	if bytes.Contains([]byte(ev.String()), []byte("alice")) {
		t.Fatal("encoded event shows plaintext")
	}
	if err := DecodeMessage(context.Background(), c, ev); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains([]byte(ev.String()), []byte("alice")) {
		t.Fatal("decoded event does not show the plaintext")
	}
}

func TestFailuresAreEncryptedAndRestored(t *testing.T) {
	c := testCodec(t, "k1")
	fc := FailureConverter(c)
	f := fc.ErrorToFailure(errors.New("vault: token for alice refused"))
	if strings.Contains(f.String(), "alice") {
		t.Fatalf("failure holds its message in clear: %s", f)
	}
	ev := &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_ActivityTaskFailedEventAttributes{
		ActivityTaskFailedEventAttributes: &historypb.ActivityTaskFailedEventAttributes{Failure: f},
	}}
	if err := DecodeMessage(context.Background(), c, ev); err != nil {
		t.Fatal(err)
	}
	if got := ev.GetActivityTaskFailedEventAttributes().GetFailure().GetMessage(); got != "vault: token for alice refused" {
		t.Fatalf("restored message %q", got)
	}
}
