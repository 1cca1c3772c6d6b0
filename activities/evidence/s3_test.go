package evidence_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/testenv"
)

func s3Client(url string) *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKFBSANDBOXS3000001", "s3-"+testenv.Canary, ""),
		BaseEndpoint: aws.String(url), UsePathStyle: true,
	})
}

func TestS3Store(t *testing.T) {
	ctx := context.Background()
	srv := testenv.NewS3(nil)
	defer srv.Close()
	c := s3Client(srv.URL())
	st, err := evidence.OpenS3Store(ctx, c, "evidence-bucket", "runs", time.Hour)
	if err != nil {
		t.Fatalf("open empty: %v", err)
	}
	var recs []evidence.Record
	for i := 1; i <= 3; i++ {
		r, err := st.Append(ctx, evidence.Record{Key: fmt.Sprintf("k%d", i), Subject: "alice", Kind: "snapshot", Data: []byte(fmt.Sprintf(`{"n":%d}`, i))})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if r.Seq != i {
			t.Fatalf("append %d: seq %d", i, r.Seq)
		}
		recs = append(recs, r)
	}
	if err := evidence.Verify(recs); err != nil {
		t.Fatalf("chain does not verify: %v", err)
	}
	// Idempotent by key, also through a second store that finds the head by listing.
	again, err := st.Append(ctx, evidence.Record{Key: "k2", Data: []byte(`{"other":true}`)})
	if err != nil || again.ChainSHA256 != recs[1].ChainSHA256 {
		t.Errorf("re-append k2 = %+v, %v; expected the stored record %+v", again, err, recs[1])
	}
	other, err := evidence.OpenS3Store(ctx, c, "evidence-bucket", "runs", time.Hour)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	r4, err := other.Append(ctx, evidence.Record{Key: "k4", Data: []byte(`{"n":4}`)})
	if err != nil || r4.Seq != 4 || r4.PrevChain != recs[2].ChainSHA256 {
		t.Fatalf("append through second store = %+v, %v; expected seq 4 linked to record 3", r4, err)
	}
	// The first store has not seen record 4: it must find it by listing, not overwrite seq 4.
	r5, err := st.Append(ctx, evidence.Record{Key: "k5", Data: []byte(`{"n":5}`)})
	if err != nil || r5.Seq != 5 || r5.PrevChain != r4.ChainSHA256 {
		t.Fatalf("append after a concurrent writer = %+v, %v; expected seq 5 linked to record 4", r5, err)
	}
	if dup, err := st.Append(ctx, evidence.Record{Key: "k4", Data: []byte(`{}`)}); err != nil || dup.ChainSHA256 != r4.ChainSHA256 {
		t.Errorf("re-append k4 on the first store = %+v, %v; expected record 4", dup, err)
	}
	mode, until, ok := srv.ObjectLock("evidence-bucket", "runs/000000000001.json")
	if !ok || mode != "COMPLIANCE" || until.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("object lock of record 1 = %q until %v (exists %v); expected COMPLIANCE about an hour ahead", mode, until, ok)
	}
	// A locked object cannot be overwritten, even without If-None-Match.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("evidence-bucket"), Key: aws.String("runs/000000000001.json"), Body: strings.NewReader("{}")})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("overwriting a locked record: %v; expected AccessDenied", err)
	}
	// Tampering below the API is caught when the chain is read.
	srv.Tamper("evidence-bucket", "runs/000000000002.json", []byte(strings.Replace(mustGet(t, c, "runs/000000000002.json"), `"data":{"n":2}`, `"data":{"n":9}`, 1)))
	if _, err := evidence.OpenS3Store(ctx, c, "evidence-bucket", "runs", time.Hour); !errors.Is(err, evidence.ErrChainBroken) {
		t.Errorf("open after tampering: %v; expected ErrChainBroken", err)
	}
}

func mustGet(t *testing.T, c *s3.Client, key string) string {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("evidence-bucket"), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"data":{"n":2}`) {
		t.Fatalf("record 2 = %s; expected its data {\"n\":2}", b)
	}
	return string(b)
}

// TestS3StoreConcurrentWriters: two stores (two workers) appending at once both succeed; the
// loser of each race for a seq gets 412 from If-None-Match and re-reads the head.
func TestS3StoreConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	rec := &testenv.Recorder{}
	srv := testenv.NewS3(rec)
	defer srv.Close()
	c := s3Client(srv.URL())
	var stores [2]*evidence.S3Store
	for i := range stores {
		s, err := evidence.OpenS3Store(ctx, c, "b", "chain", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	const each = 8
	errs := make(chan error, 2*each)
	for i, s := range stores {
		go func() {
			for j := 0; j < each; j++ {
				_, err := s.Append(ctx, evidence.Record{Key: fmt.Sprintf("w%d-%d", i, j), Data: []byte(`{}`)})
				errs <- err
			}
		}()
	}
	for range 2 * each {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent append: %v", err)
		}
	}
	// A fresh store reads and verifies the whole chain.
	fresh, err := evidence.OpenS3Store(ctx, c, "b", "chain", time.Hour)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	r, err := fresh.Append(ctx, evidence.Record{Key: "last", Data: []byte(`{}`)})
	if err != nil || r.Seq != 2*each+1 {
		t.Fatalf("append after concurrent writers = seq %d, %v; expected seq %d", r.Seq, err, 2*each+1)
	}
	puts := 0
	for _, call := range rec.Calls("s3") {
		if call.Method == "PUT" && call.Status == 200 {
			puts++
		}
	}
	t.Logf("412 answers: %d", func() (n int) {
		for _, call := range rec.Calls("s3") {
			if call.Status == 412 {
				n++
			}
		}
		return
	}())
	if puts != 2*each+1 {
		t.Errorf("%d successful PUTs; expected %d (one per record, none overwritten)", puts, 2*each+1)
	}
}
