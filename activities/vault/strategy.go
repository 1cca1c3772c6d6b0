package vault

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// Keys of a KV v2 secret's custom_metadata that say how firebreak rotates it. The owners of a
// secret set them next to the secret, so firebreak keeps no list of its own:
//
//	firebreak-rotate: generate:password,api_key     new random values for these fields only
//	firebreak-rotate: database:database/payments    Vault's database engine rotates static role payments on mount database
//	firebreak-rotate: database-root:database/pg     … or the root credential of connection pg
//	firebreak-rotate: service:payments-admin/rotate/stripe   a configured http service rotates it
//	firebreak-rotate: manual                        a person (the owner) rotates it
//	firebreak-rotate-format: length=40,alphabet=hex how generate makes values (default length=32,alphabet=alnum)
//	owner: carol                                    who is asked to do a manual rotation (a directory subject or Slack group)
//
// No firebreak-rotate key is the same as manual: nothing is changed blindly.
const (
	MetaRotate       = "firebreak-rotate"
	MetaRotateFormat = "firebreak-rotate-format"
	MetaOwner        = "owner"
)

// Rotation strategies (Strategy.Kind).
const (
	StrategyGenerate     = "generate"
	StrategyDatabase     = "database"
	StrategyDatabaseRoot = "database-root"
	StrategyService      = "service"
	StrategyManual       = "manual"
	// StrategyUnmarked is a secret without a firebreak-rotate key: treated as manual.
	StrategyUnmarked = "unmarked"
)

// Error types of a secret that cannot be rotated as its metadata says.
const (
	// ErrUnknownStrategy: firebreak-rotate names no strategy firebreak knows, or is malformed.
	ErrUnknownStrategy = "UnknownStrategy"
	// ErrNoSuchField: generate names a field the secret does not have.
	ErrNoSuchField = "NoSuchField"
	// ErrNoSuchRole: database names a static role (or connection) Vault does not have.
	ErrNoSuchRole = "NoSuchRole"
	// ErrUnknownService: service names no configured http service.
	ErrUnknownService = "UnknownService"
	// ErrServiceFailed: the service answered the rotation request with an error.
	ErrServiceFailed = "ServiceFailed"
)

// Strategy is how one secret is rotated, parsed from its custom_metadata.
type Strategy struct {
	Kind string `json:"kind"`
	// Fields are the fields generate gives new values.
	Fields []string `json:"fields,omitempty"`
	// Mount and Role are the database engine's mount and static role (or connection, for
	// database-root).
	Mount string `json:"mount,omitempty"`
	Role  string `json:"role,omitempty"`
	// Service and ServicePath are the configured http service and the path firebreak posts to.
	Service     string `json:"service,omitempty"`
	ServicePath string `json:"service_path,omitempty"`
	Format      Format `json:"format,omitzero"`
	// Owner is who rotates a manual secret (custom_metadata owner).
	Owner string `json:"owner,omitempty"`
}

// Automated reports whether firebreak rotates the secret itself.
func (s Strategy) Automated() bool {
	return s.Kind != StrategyManual && s.Kind != StrategyUnmarked
}

// String is the strategy as its metadata writes it.
func (s Strategy) String() string {
	switch s.Kind {
	case StrategyGenerate:
		return s.Kind + ":" + strings.Join(s.Fields, ",")
	case StrategyDatabase, StrategyDatabaseRoot:
		return s.Kind + ":" + s.Mount + "/" + s.Role
	case StrategyService:
		return s.Kind + ":" + s.Service + "/" + strings.TrimPrefix(s.ServicePath, "/")
	}
	return s.Kind
}

// Format says how generate makes a value: Length characters drawn from Alphabet.
type Format struct {
	Length   int    `json:"length,omitempty"`
	Alphabet string `json:"alphabet,omitempty"`
}

// Alphabets generate can draw from.
var alphabets = map[string]string{
	"alnum":     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	"lower":     "abcdefghijklmnopqrstuvwxyz0123456789",
	"hex":       "0123456789abcdef",
	"base64url": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
	"symbols":   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%+-.:=@^_~",
}

// DefaultFormat is generate's format when firebreak-rotate-format is absent.
var DefaultFormat = Format{Length: 32, Alphabet: "alnum"}

// Characters returns the characters of the format's alphabet.
func (f Format) Characters() string { return alphabets[f.Alphabet] }

func alphabetNames() string {
	names := make([]string, 0, len(alphabets))
	for n := range alphabets {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// ParseFormat parses firebreak-rotate-format: comma-separated length=N (16 to 256) and
// alphabet=NAME; "" is DefaultFormat.
func ParseFormat(raw string) (Format, error) {
	f := DefaultFormat
	for part := range strings.SplitSeq(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		switch k = strings.TrimSpace(k); {
		case !ok:
			return Format{}, fmt.Errorf("%s %q: expected key=value pairs such as length=32,alphabet=alnum, found %q", MetaRotateFormat, raw, part)
		case k == "length":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 16 || n > 256 {
				return Format{}, fmt.Errorf("%s %q: length: expected a number from 16 to 256, found %q", MetaRotateFormat, raw, v)
			}
			f.Length = n
		case k == "alphabet":
			v = strings.TrimSpace(v)
			if _, ok := alphabets[v]; !ok {
				return Format{}, fmt.Errorf("%s %q: alphabet: expected one of %s, found %q", MetaRotateFormat, raw, alphabetNames(), v)
			}
			f.Alphabet = v
		default:
			return Format{}, fmt.Errorf("%s %q: expected keys length and alphabet, found %q", MetaRotateFormat, raw, k)
		}
	}
	return f, nil
}

// Generate returns a value of the format from crypto/rand.
func (f Format) Generate() (string, error) {
	chars := f.Characters()
	if chars == "" || f.Length <= 0 {
		return "", fmt.Errorf("format %+v: no alphabet or length", f)
	}
	size := big.NewInt(int64(len(chars)))
	b := make([]byte, f.Length)
	for i := range b {
		n, err := rand.Int(rand.Reader, size)
		if err != nil {
			return "", err
		}
		b[i] = chars[n.Int64()]
	}
	return string(b), nil
}

// StrategyError is a secret's metadata that firebreak cannot act on; Type is one of the Err*
// error types above.
type StrategyError struct {
	Type string
	Msg  string
}

func (e *StrategyError) Error() string { return e.Msg }

func strategyErr(typ, format string, args ...any) error {
	return &StrategyError{Type: typ, Msg: fmt.Sprintf(format, args...)}
}

// ParseStrategy reads a secret's custom_metadata (name is "mount/path", for messages). It
// checks the syntax only; whether the fields, role or service exist is for the caller, who
// can ask Vault and its configuration.
func ParseStrategy(name string, custom map[string]any) (Strategy, error) {
	str := func(k string) string { s, _ := custom[k].(string); return strings.TrimSpace(s) }
	owner := str(MetaOwner)
	raw := str(MetaRotate)
	if raw == "" {
		if f := str(MetaRotateFormat); f != "" {
			return Strategy{}, strategyErr(ErrUnknownStrategy, "secret %s: %s is set but %s is not; expected %s: generate:FIELD[,FIELD…] beside it", name, MetaRotateFormat, MetaRotate, MetaRotate)
		}
		return Strategy{Kind: StrategyUnmarked, Owner: owner}, nil
	}
	kind, arg, _ := strings.Cut(raw, ":")
	kind, arg = strings.TrimSpace(kind), strings.TrimSpace(arg)
	const want = "generate:FIELD[,FIELD…], database:MOUNT/ROLE, database-root:MOUNT/CONNECTION, service:NAME/PATH or manual"
	s := Strategy{Kind: kind, Owner: owner}
	switch kind {
	case StrategyManual:
		if arg != "" {
			return Strategy{}, strategyErr(ErrUnknownStrategy, "secret %s: %s %q: manual takes no argument; expected %s", name, MetaRotate, raw, want)
		}
	case StrategyGenerate:
		seen := map[string]bool{}
		for f := range strings.SplitSeq(arg, ",") {
			f = strings.TrimSpace(f)
			if f == "" || seen[f] {
				return Strategy{}, strategyErr(ErrUnknownStrategy, "secret %s: %s %q: expected generate: followed by distinct field names separated by commas", name, MetaRotate, raw)
			}
			seen[f] = true
			s.Fields = append(s.Fields, f)
		}
		format, err := ParseFormat(str(MetaRotateFormat))
		if err != nil {
			return Strategy{}, strategyErr(ErrUnknownStrategy, "secret %s: %v", name, err)
		}
		s.Format = format
	case StrategyDatabase, StrategyDatabaseRoot:
		i := strings.LastIndex(arg, "/")
		if i <= 0 || i == len(arg)-1 {
			return Strategy{}, strategyErr(ErrUnknownStrategy, "secret %s: %s %q: expected %s:MOUNT/%s", name, MetaRotate, raw, kind, map[bool]string{true: "CONNECTION", false: "ROLE"}[kind == StrategyDatabaseRoot])
		}
		s.Mount, s.Role = arg[:i], arg[i+1:]
		if err := validPath("database mount", s.Mount); err != nil {
			return Strategy{}, strategyErr(ErrUnknownStrategy, "secret %s: %s %q: the mount is not a plain path", name, MetaRotate, raw)
		}
		if err := validSegment("database role", s.Role); err != nil {
			return Strategy{}, strategyErr(ErrUnknownStrategy, "secret %s: %s %q: the role is not a plain name", name, MetaRotate, raw)
		}
	case StrategyService:
		svc, path, ok := strings.Cut(arg, "/")
		if !ok || svc == "" || path == "" {
			return Strategy{}, strategyErr(ErrUnknownStrategy, "secret %s: %s %q: expected service:NAME/PATH, e.g. service:payments-admin/rotate/stripe", name, MetaRotate, raw)
		}
		s.Service, s.ServicePath = svc, "/"+path
		if err := validPath("service path", path); err != nil {
			return Strategy{}, strategyErr(ErrUnknownStrategy, "secret %s: %s %q: the path is not a plain path", name, MetaRotate, raw)
		}
	default:
		return Strategy{}, strategyErr(ErrUnknownStrategy, "secret %s: %s %q: unknown strategy %q; expected %s", name, MetaRotate, raw, kind, want)
	}
	return s, nil
}
