package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3API is the part of the S3 client the store uses; *s3.Client satisfies it.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

var _ S3API = (*s3.Client)(nil)

// S3Store keeps the evidence chain in an S3 bucket with Object Lock: each record is one
// object <Prefix>/<seq>.json (seq zero-padded, so listing order is chain order), written once
// with If-None-Match: * in COMPLIANCE mode until Retain from now. The chain head is found by
// listing; two writers racing for the same seq cannot both win, and the loser re-reads the head.
type S3Store struct {
	Client S3API
	Bucket string
	Prefix string        // e.g. "evidence"; no leading or trailing '/'
	Retain time.Duration // how long each record is locked; zero means 7 years

	mu   sync.Mutex
	last Record
	keys map[string]Record
}

// OpenS3Store reads and verifies the chain stored under prefix and returns a store appending to it.
func OpenS3Store(ctx context.Context, client S3API, bucket, prefix string, retain time.Duration) (*S3Store, error) {
	s := &S3Store{Client: client, Bucket: bucket, Prefix: strings.Trim(prefix, "/"), Retain: retain, keys: map[string]Record{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *S3Store) objectKey(seq int) string { return fmt.Sprintf("%s/%012d.json", s.Prefix, seq) }

// catchUp reads every record after s.last and checks each links to the one before; s.mu is held.
func (s *S3Store) catchUp(ctx context.Context) error {
	if s.keys == nil {
		s.keys = map[string]Record{}
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(s.Prefix + "/")}
	if s.last.Seq > 0 {
		in.StartAfter = aws.String(s.objectKey(s.last.Seq))
	}
	p := s3.NewListObjectsV2Paginator(s.Client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("evidence s3://%s/%s: listing the chain: %w", s.Bucket, s.Prefix, err)
		}
		for _, o := range page.Contents {
			r, err := s.get(ctx, aws.ToString(o.Key))
			if err != nil {
				return err
			}
			if err := verifyNext(s.last, r); err != nil {
				return fmt.Errorf("evidence s3://%s/%s: %w", s.Bucket, aws.ToString(o.Key), err)
			}
			s.last = r
			s.keys[r.Key] = r
		}
	}
	return nil
}

// verifyNext checks that r is a valid successor of prev (the zero Record for the first).
func verifyNext(prev, r Record) error {
	sum := sha256.Sum256(r.Data)
	switch {
	case r.Seq != prev.Seq+1:
		return fmt.Errorf("%w at record %d: expected sequence number %d", ErrChainBroken, r.Seq, prev.Seq+1)
	case hex.EncodeToString(sum[:]) != r.SHA256:
		return fmt.Errorf("%w at record %d: data does not match its sha256", ErrChainBroken, r.Seq)
	case r.PrevChain != prev.ChainSHA256:
		return fmt.Errorf("%w at record %d: prev_chain does not match the previous record", ErrChainBroken, r.Seq)
	case chainDigest(r) != r.ChainSHA256:
		return fmt.Errorf("%w at record %d: chain_sha256 does not match the record", ErrChainBroken, r.Seq)
	}
	return nil
}

func (s *S3Store) get(ctx context.Context, key string) (Record, error) {
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	if err != nil {
		return Record{}, fmt.Errorf("evidence s3://%s/%s: %w", s.Bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 64<<20))
	if err != nil {
		return Record{}, fmt.Errorf("evidence s3://%s/%s: %w", s.Bucket, key, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("evidence s3://%s/%s: not an evidence record: %w", s.Bucket, key, err)
	}
	return r, nil
}

// Append implements Store. A record whose Key is already in the chain is returned, not added.
func (s *S3Store) Append(ctx context.Context, r Record) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256(r.Data)
	r.SHA256 = hex.EncodeToString(sum[:])
	retain := s.Retain
	if retain == 0 {
		retain = 7 * 365 * 24 * time.Hour
	}
	for attempt := 0; attempt < 8; attempt++ {
		if err := s.catchUp(ctx); err != nil {
			return Record{}, err
		}
		if old, ok := s.keys[r.Key]; ok {
			return old, nil
		}
		r.Seq = s.last.Seq + 1
		r.PrevChain = s.last.ChainSHA256
		r.ChainSHA256 = chainDigest(r)
		body, err := json.Marshal(r)
		if err != nil {
			return Record{}, err
		}
		key := s.objectKey(r.Seq)
		_, err = s.Client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
			ContentType:               aws.String("application/json"),
			IfNoneMatch:               aws.String("*"),
			ObjectLockMode:            types.ObjectLockModeCompliance,
			ObjectLockRetainUntilDate: aws.Time(time.Now().Add(retain).UTC().Truncate(time.Second)),
		})
		var api smithy.APIError
		if errors.As(err, &api) && (api.ErrorCode() == "PreconditionFailed" || api.ErrorCode() == "ConditionalRequestConflict") {
			continue // another writer took this seq: read it and try the next
		}
		if err != nil {
			return Record{}, fmt.Errorf("evidence s3://%s/%s: %w", s.Bucket, key, err)
		}
		s.last = r
		s.keys[r.Key] = r
		return r, nil
	}
	return Record{}, fmt.Errorf("evidence s3://%s/%s: lost the race for the chain head 8 times; expected writers to settle", s.Bucket, s.Prefix)
}
