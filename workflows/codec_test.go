package workflows

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
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

// TestCodecRefusesPlaintext: a payload written without the codec key (a plain Temporal
// client's update, say) does not decode; tools reading a history still see it as it is.
func TestCodecRefusesPlaintext(t *testing.T) {
	c := testCodec(t, "k1")
	plain := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`{"approver":"mallory","decision":"approve"}`)}
	if _, err := c.Decode([]*commonpb.Payload{plain}); !errors.Is(err, ErrPlaintext) {
		t.Fatalf("decoding a plaintext payload: %v; want ErrPlaintext", err)
	}
	var got map[string]any
	if err := DataConverter(c).FromPayload(plain, &got); err == nil {
		t.Fatalf("the data converter decoded a plaintext payload: %v", got)
	}
	ev := &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
		WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{plain}}},
	}}
	if err := DecodeMessage(context.Background(), c, ev); err != nil {
		t.Fatalf("reading a history with a plaintext payload: %v", err)
	}
}

// TestCodecBindsKeyIDAndPurpose: a ciphertext relabelled with another key id (even one with
// the same key bytes), decoded for another purpose, or stripped of its binding does not
// decode.
func TestCodecBindsKeyIDAndPurpose(t *testing.T) {
	same := bytes.Repeat([]byte{7}, 32)
	c, err := NewCodec("a", map[string][]byte{"a": same, "b": same})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encode([]*commonpb.Payload{{Data: []byte(`"x"`)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decode(enc); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	relabel := func(edit func(md map[string][]byte)) []*commonpb.Payload {
		md := map[string][]byte{}
		for k, v := range enc[0].Metadata {
			md[k] = v
		}
		edit(md)
		return []*commonpb.Payload{{Metadata: md, Data: enc[0].Data}}
	}
	if _, err := c.Decode(relabel(func(md map[string][]byte) { md[metadataKeyID] = []byte("b") })); err == nil {
		t.Error("a ciphertext relabelled with another key id decoded")
	}
	if _, err := c.Decode(relabel(func(md map[string][]byte) { delete(md, metadataBinding) })); err == nil {
		t.Error("a ciphertext stripped of its binding decoded")
	}
	if _, err := c.WithPurpose("evidence").Decode(enc); err == nil {
		t.Error("a payload ciphertext decoded for another purpose")
	}
	other, _ := c.WithPurpose("evidence").Encode([]*commonpb.Payload{{Data: []byte(`"y"`)}})
	if _, err := c.Decode(other); err == nil {
		t.Error("another purpose's ciphertext decoded as a payload")
	}
}

// TestCodecReadsCiphertextsSealedBeforeBinding: payloads of runs recorded before the purpose
// was bound (associated data: the key id alone) still decode, so those runs still replay.
func TestCodecReadsCiphertextsSealedBeforeBinding(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	inner, _ := proto.Marshal(&commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"old"`)})
	nonce := make([]byte, aead.NonceSize())
	old := &commonpb.Payload{Metadata: map[string][]byte{metadataEncoding: []byte(encodingEncypted), metadataKeyID: []byte("k1")}, Data: aead.Seal(nonce, nonce, inner, []byte("k1"))}
	var got string
	if err := DataConverter(testCodec(t, "k1")).FromPayload(old, &got); err != nil || got != "old" {
		t.Fatalf("a ciphertext sealed before binding: %q, %v", got, err)
	}
}

// TestCodecBindsNamespace: a payload sealed for one namespace does not decode with the same
// key for another, nor without one; payloads sealed before namespaces were bound (v2, as in
// the recorded histories) still decode with a namespaced codec.
func TestCodecBindsNamespace(t *testing.T) {
	key := map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}
	base, err := NewCodec("k1", key)
	if err != nil {
		t.Fatal(err)
	}
	prod, staging := base.WithNamespace("prod"), base.WithNamespace("staging")
	plain := []*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"hello"`)}}
	sealed, err := prod.Encode(plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prod.Decode(sealed); err != nil {
		t.Fatalf("same namespace: %v", err)
	}
	if _, err := staging.Decode(sealed); err == nil || !strings.Contains(err.Error(), `for namespace "staging"`) {
		t.Errorf("another namespace decoded the payload: %v", err)
	}
	if _, err := base.Decode(sealed); err == nil {
		t.Error("a codec without a namespace decoded a namespaced payload")
	}
	old, err := base.Encode(plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prod.Decode(old); err != nil {
		t.Errorf("a payload sealed before namespaces were bound should still decode: %v", err)
	}
}

// TestDataConverterPausesDeadlockDetection: the encrypting converter is the SDK's wrapper that
// pauses the deadlock detector while it runs (it binds to the workflow context), so decrypting
// a large result on a busy worker does not fail the workflow task as a "potential deadlock".
func TestDataConverterPausesDeadlockDetection(t *testing.T) {
	dc := DataConverter(testCodec(t, "k1"))
	if _, ok := dc.(converter.ContextAware); !ok {
		t.Fatalf("DataConverter is %T; want the SDK's converter without deadlock detection (context aware)", dc)
	}
}
