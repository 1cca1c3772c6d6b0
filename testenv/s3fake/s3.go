package s3fake

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
)

// S3 is a loopback S3 speaking enough of the REST API (path-style addressing) for the
// unmodified aws-sdk-go-v2 S3 client: PutObject with If-None-Match and Object Lock headers,
// GetObject, HeadObject and ListObjectsV2. Buckets exist on first write. It does not check
// signatures. A PUT over an object whose retain-until date is in the future is refused with
// 403 AccessDenied — a simplification: real S3 with versioning would add a version instead.
type S3 struct {
	*fakebase.Server
	mu      sync.Mutex
	objects map[string]map[string]*s3Object // bucket → key → object
}

type s3Object struct {
	body        []byte
	etag        string
	modified    time.Time
	lockMode    string
	retainUntil time.Time
}

// New starts the S3 server on loopback.
func New(rec *fakebase.Recorder) *S3 {
	s := &S3{objects: map[string]map[string]*s3Object{}}
	s.Server = fakebase.Start(rec, "s3", nil, http.HandlerFunc(s.serve))
	return s
}

// ObjectLock returns the lock mode and retain-until date of an object, or false.
func (s *S3) ObjectLock(bucket, key string) (mode string, until time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objects[bucket][key]
	if o == nil {
		return "", time.Time{}, false
	}
	return o.lockMode, o.retainUntil, true
}

// Tamper replaces an object's body regardless of its lock, as an attacker with the disk would.
func (s *S3) Tamper(bucket, key string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.objects[bucket][key]; o != nil {
		o.body = body
	}
}

func (s *S3) serve(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket == "" {
		s3Error(w, http.StatusBadRequest, "InvalidRequest", "expected path-style addressing: /bucket/key")
		return
	}
	switch {
	case key == "" && r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
		s.list(w, r, bucket)
	case key != "" && r.Method == http.MethodPut:
		s.put(w, r, bucket, key)
	case key != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.get(w, r, bucket, key)
	default:
		s3Error(w, http.StatusNotImplemented, "NotImplemented", "the sandbox S3 does not implement "+r.Method+" "+r.URL.Path)
	}
}

func (s *S3) put(w http.ResponseWriter, r *http.Request, bucket, key string) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	if strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		if body, err = decodeAWSChunked(body); err != nil {
			s3Error(w, http.StatusBadRequest, "InvalidRequest", err.Error())
			return
		}
	}
	o := &s3Object{body: body, modified: time.Now().UTC()}
	sum := md5.Sum(body)
	o.etag = `"` + hex.EncodeToString(sum[:]) + `"`
	if mode := r.Header.Get("x-amz-object-lock-mode"); mode != "" {
		until, err := time.Parse(time.RFC3339, r.Header.Get("x-amz-object-lock-retain-until-date"))
		if (mode != "COMPLIANCE" && mode != "GOVERNANCE") || err != nil {
			s3Error(w, http.StatusBadRequest, "InvalidArgument", "expected x-amz-object-lock-mode COMPLIANCE or GOVERNANCE with an RFC 3339 x-amz-object-lock-retain-until-date")
			return
		}
		o.lockMode, o.retainUntil = mode, until
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.objects[bucket]
	if b == nil {
		b = map[string]*s3Object{}
		s.objects[bucket] = b
	}
	if old := b[key]; old != nil {
		if r.Header.Get("If-None-Match") == "*" {
			s3Error(w, http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
			return
		}
		if old.retainUntil.After(time.Now()) {
			s3Error(w, http.StatusForbidden, "AccessDenied", "object is locked until "+old.retainUntil.Format(time.RFC3339))
			return
		}
	}
	b[key] = o
	w.Header().Set("ETag", o.etag)
	w.WriteHeader(http.StatusOK)
}

func (s *S3) get(w http.ResponseWriter, r *http.Request, bucket, key string) {
	s.mu.Lock()
	o := s.objects[bucket][key]
	var body []byte
	if o != nil {
		body = append([]byte(nil), o.body...)
	}
	s.mu.Unlock()
	if o == nil {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	h := w.Header()
	h.Set("ETag", o.etag)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Last-Modified", o.modified.Format(http.TimeFormat))
	if o.lockMode != "" {
		h.Set("x-amz-object-lock-mode", o.lockMode)
		h.Set("x-amz-object-lock-retain-until-date", o.retainUntil.Format(time.RFC3339))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

type s3ListResult struct {
	XMLName               xml.Name        `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string          `xml:"Name"`
	Prefix                string          `xml:"Prefix"`
	KeyCount              int             `xml:"KeyCount"`
	MaxKeys               int             `xml:"MaxKeys"`
	IsTruncated           bool            `xml:"IsTruncated"`
	NextContinuationToken string          `xml:"NextContinuationToken,omitempty"`
	Contents              []s3ListContent `xml:"Contents"`
}

type s3ListContent struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int    `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

// list serves ListObjectsV2: prefix, start-after, continuation-token (the last key returned)
// and max-keys (default 1000).
func (s *S3) list(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	prefix, after := q.Get("prefix"), q.Get("start-after")
	if t := q.Get("continuation-token"); t != "" {
		after = t
	}
	max := 1000
	if m, err := strconv.Atoi(q.Get("max-keys")); err == nil && m > 0 && m < max {
		max = m
	}
	s.mu.Lock()
	var keys []string
	for k := range s.objects[bucket] {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	res := s3ListResult{Name: bucket, Prefix: prefix, MaxKeys: max}
	if len(keys) > max {
		keys, res.IsTruncated = keys[:max], true
		res.NextContinuationToken = keys[max-1]
	}
	for _, k := range keys {
		o := s.objects[bucket][k]
		res.Contents = append(res.Contents, s3ListContent{Key: k, LastModified: o.modified.Format(time.RFC3339), ETag: o.etag, Size: len(o.body), StorageClass: "STANDARD"})
	}
	s.mu.Unlock()
	res.KeyCount = len(res.Contents)
	w.Header().Set("Content-Type", "application/xml")
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(res)
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "%s<Error><Code>%s</Code><Message>%s</Message></Error>", xml.Header, code, msg)
}

// decodeAWSChunked strips the aws-chunked framing (hex size;chunk-signature\r\n data \r\n …,
// then optional trailers) the SDK may use to stream a body with a trailing checksum.
func decodeAWSChunked(b []byte) ([]byte, error) {
	var out []byte
	for {
		line, rest, ok := strings.Cut(string(b), "\r\n")
		if !ok {
			return nil, fmt.Errorf("aws-chunked body: expected a chunk header")
		}
		sizeHex, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil || int(n) > len(rest) {
			return nil, fmt.Errorf("aws-chunked body: bad chunk size %q", sizeHex)
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, rest[:n]...)
		b = []byte(strings.TrimPrefix(rest[n:], "\r\n"))
	}
}
