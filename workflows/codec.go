package workflows

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Payloads that leave firebreak for the Temporal server are encrypted with AES-256-GCM, so
// the server, its database and its UI hold only ciphertext (trust rule 2). Each encrypted
// payload records the id of the key that sealed it, so keys can be rotated: encode with the
// primary key, decode with any key in the ring.
//
// Each ciphertext is bound, as AEAD associated data, to the id of the key that sealed it and
// to its purpose (PurposePayload for workflow payloads), so that a ciphertext cannot be moved
// to another key id or another use of the same key. Decoding refuses anything that is not a
// firebreak ciphertext: someone who can reach Temporal but lacks the key cannot hand a worker
// a plaintext input, update or result.
const (
	metadataEncoding = "encoding"
	metadataKeyID    = "encryption-key-id"
	// metadataBinding names what the associated data binds; absent on payloads sealed before
	// the purpose was bound, whose associated data is the key id alone.
	metadataBinding = "encryption-binding"
	bindingV2       = "firebreak/v2:key-id+purpose"
	// bindingV3 also binds the Temporal namespace the payload was written for, so a
	// ciphertext copied from one namespace's history into another's does not decode there.
	bindingV3        = "firebreak/v3:key-id+purpose+namespace"
	encodingEncypted = "binary/encrypted"
)

// PurposePayload is the purpose of the codec's ciphertexts: Temporal payloads.
const PurposePayload = "temporal-payload"

// ErrUnknownKey is returned when a payload was sealed with a key the codec does not hold.
var ErrUnknownKey = errors.New("payload encrypted with an unknown key")

// ErrPlaintext is returned when a payload to decode is not a firebreak ciphertext.
var ErrPlaintext = errors.New("payload is not encrypted by firebreak")

// Codec is an encrypting converter.PayloadCodec.
type Codec struct {
	primary string
	purpose string
	keys    map[string]cipher.AEAD
	// namespace, when set (WithNamespace), is bound into every ciphertext sealed (bindingV3)
	// and is the one a v3 ciphertext must name to decode.
	namespace string
}

// WithNamespace returns a codec with the same keys whose ciphertexts are bound to the
// Temporal namespace ns: what it seals decodes only with a codec for ns. Payloads sealed
// before namespaces were bound (no namespace in their binding) still decode, so recorded
// histories replay; everything sealed from now on carries the namespace.
func (c *Codec) WithNamespace(ns string) *Codec {
	cc := *c
	cc.namespace = ns
	return &cc
}

// Namespace is the namespace the codec binds its ciphertexts to; "" for none.
func (c *Codec) Namespace() string { return c.namespace }

// WithPurpose returns a codec with the same keys whose ciphertexts are bound to purpose
// instead: they do not decode as another purpose's, nor as payloads.
func (c *Codec) WithPurpose(purpose string) *Codec {
	cc := *c
	cc.purpose = purpose
	return &cc
}

// associatedData binds a v2 ciphertext to its key id and purpose.
func (c *Codec) associatedData(keyID string) []byte {
	return []byte(bindingV2 + "\x00" + c.purpose + "\x00" + keyID)
}

// associatedDataV3 binds a v3 ciphertext to its key id, purpose and namespace.
func (c *Codec) associatedDataV3(keyID string) []byte {
	return []byte(bindingV3 + "\x00" + c.purpose + "\x00" + c.namespace + "\x00" + keyID)
}

// seal returns the binding and associated data new ciphertexts are sealed with.
func (c *Codec) seal() (binding string, ad []byte) {
	if c.namespace != "" {
		return bindingV3, c.associatedDataV3(c.primary)
	}
	return bindingV2, c.associatedData(c.primary)
}

// NewCodec returns a codec that encrypts with keys[primary] and decrypts with any of keys.
// Every key must be 32 bytes (AES-256).
func NewCodec(primary string, keys map[string][]byte) (*Codec, error) {
	c := &Codec{primary: primary, purpose: PurposePayload, keys: map[string]cipher.AEAD{}}
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		k := keys[id]
		if len(k) != 32 {
			return nil, fmt.Errorf("codec key %q: expected 32 bytes, found %d", id, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		c.keys[id] = aead
	}
	if _, ok := c.keys[primary]; !ok {
		return nil, fmt.Errorf("codec: primary key %q is not among the keys", primary)
	}
	return c, nil
}

// KeyID is the id of the key new payloads are sealed with.
func (c *Codec) KeyID() string { return c.primary }

// Encode implements converter.PayloadCodec.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.keys[c.primary]
	binding, ad := c.seal()
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{metadataEncoding: []byte(encodingEncypted), metadataKeyID: []byte(c.primary), metadataBinding: []byte(binding)},
			Data:     aead.Seal(nonce, nonce, plain, ad),
		}
	}
	return out, nil
}

// Decode implements converter.PayloadCodec. A payload that is not a firebreak ciphertext is
// refused (ErrPlaintext), so the worker's task fails rather than act on it.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return c.decode(payloads, false)
}

func (c *Codec) decode(payloads []*commonpb.Payload, allowPlain bool) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if enc := string(p.GetMetadata()[metadataEncoding]); enc != encodingEncypted {
			if allowPlain {
				out[i] = p
				continue
			}
			return nil, fmt.Errorf("%w: expected encoding %s, found %q; it was written to Temporal by something without the codec key, and firebreak does not act on it", ErrPlaintext, encodingEncypted, enc)
		}
		id := string(p.Metadata[metadataKeyID])
		aead, ok := c.keys[id]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
		}
		if len(p.Data) < aead.NonceSize() {
			return nil, errors.New("encrypted payload is shorter than its nonce")
		}
		nonce, sealed := p.Data[:aead.NonceSize()], p.Data[aead.NonceSize():]
		ad := []byte(id) // sealed before the purpose was bound: by the key id alone
		switch b := string(p.Metadata[metadataBinding]); b {
		case bindingV3:
			ad = c.associatedDataV3(id)
		case bindingV2:
			ad = c.associatedData(id)
		case "":
		default:
			return nil, fmt.Errorf("encrypted payload binding: expected %q, %q or none, found %q", bindingV3, bindingV2, b)
		}
		plain, err := aead.Open(nil, nonce, sealed, ad)
		if err != nil {
			return nil, fmt.Errorf("encrypted payload does not authenticate with key %q for namespace %q: it was sealed for another key, purpose or namespace, or altered: %w", id, c.namespace, err)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return nil, err
		}
		out[i] = &dec
	}
	return out, nil
}

// Reader returns the codec for tools that show histories (the codec server behind the Web
// UI): it decodes like c but passes plaintext payloads through, as they are, instead of
// refusing them. Workers never use it.
func (c *Codec) Reader() converter.PayloadCodec { return readerCodec{c} }

type readerCodec struct{ c *Codec }

// ForNamespace returns the reader for namespace ns (the codec server's X-Namespace).
func (r readerCodec) ForNamespace(ns string) converter.PayloadCodec {
	return readerCodec{r.c.WithNamespace(ns)}
}

func (r readerCodec) Encode(p []*commonpb.Payload) ([]*commonpb.Payload, error) { return r.c.Encode(p) }
func (r readerCodec) Decode(p []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return r.c.decode(p, true)
}

// DataConverter returns the SDK's default converter with payloads encrypted by c.
//
// Decrypting a large result (a mass deprovision's inventory of a thousand people) on a busy
// worker can take longer than the SDK's one-second deadlock detector allows a workflow
// goroutine, which then fails the workflow task, and each retry replays the whole history
// again: so the detector is paused while the converter runs, as the SDK provides for codecs.
func DataConverter(c *Codec) converter.DataConverter {
	return workflow.DataConverterWithoutDeadlockDetection(converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c))
}

// FailureConverter returns the SDK's failure converter with failure messages and stack traces
// moved into an encrypted payload, so error text is ciphertext on the server too.
func FailureConverter(c *Codec) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: DataConverter(c), EncodeCommonAttributes: true})
}

// DecodeMessage decrypts, in place, every payload inside a Temporal API message — a history
// event, say — and restores the message and stack trace of every encoded failure in it, so
// tools (leak scans, audit exports) read what the workflow saw. Plaintext payloads (search
// attributes, the interceptors' headers, or something written without the key, which the
// worker refused) are left as they are: a reader must see what is there.
func DecodeMessage(ctx context.Context, c *Codec, msg proto.Message) error {
	err := proxy.VisitPayloads(ctx, msg, proxy.VisitPayloadsOptions{
		Visitor: func(_ *proxy.VisitPayloadsContext, p []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return c.decode(p, true)
		},
	})
	if err != nil {
		return err
	}
	restoreFailures(msg.ProtoReflect())
	return nil
}

// restoreFailures walks m for failures whose message and stack trace were encoded (see
// FailureConverter) and, their payload already decrypted, puts the text back in place.
func restoreFailures(m protoreflect.Message) {
	if f, ok := m.Interface().(*failurepb.Failure); ok && f.GetEncodedAttributes() != nil {
		var attrs struct {
			Message    string `json:"message"`
			StackTrace string `json:"stack_trace"`
		}
		if json.Unmarshal(f.GetEncodedAttributes().GetData(), &attrs) == nil {
			f.Message, f.StackTrace = attrs.Message, attrs.StackTrace
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				restoreFailures(v.List().Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				restoreFailures(mv.Message())
				return true
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			restoreFailures(v.Message())
		}
		return true
	})
}
