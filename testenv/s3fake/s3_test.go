package s3fake_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/firebreak-dev/firebreak/testenv/s3fake"
)

func TestS3WithTheSDK(t *testing.T) {
	ctx := context.Background()
	srv := s3fake.New(nil)
	defer srv.Close()
	c := s3.New(s3.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKFBSANDBOXS3000001", "x", ""), BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true})
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	for i := 0; i < 5; i++ {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String(fmt.Sprintf("p/%d.json", i)), Body: strings.NewReader(fmt.Sprintf(`{"i":%d}`, i)),
			IfNoneMatch: aws.String("*"), ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(until)})
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("p/0.json"), Body: strings.NewReader("{}"), IfNoneMatch: aws.String("*")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "PreconditionFailed" {
		t.Errorf("put over an existing key with If-None-Match: *: %v; expected PreconditionFailed", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("p/0.json"), Body: strings.NewReader("{}")})
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" {
		t.Errorf("overwrite of a locked object: %v; expected AccessDenied", err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("p/3.json")})
	if err != nil || head.ObjectLockMode != types.ObjectLockModeCompliance || !aws.ToTime(head.ObjectLockRetainUntilDate).Equal(until) || aws.ToInt64(head.ContentLength) != 7 {
		t.Errorf("head = %+v, %v; expected COMPLIANCE until %v, 7 bytes", head, err, until)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("p/9.json")}); err == nil {
		t.Errorf("head of a missing key succeeded; expected NotFound")
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("p/9.json")}); !errors.As(err, new(*types.NoSuchKey)) {
		t.Errorf("get of a missing key: %v; expected NoSuchKey", err)
	}
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("b"), Prefix: aws.String("p/"), StartAfter: aws.String("p/0.json"), MaxKeys: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		pages++
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	if strings.Join(keys, ",") != "p/1.json,p/2.json,p/3.json,p/4.json" || pages != 2 {
		t.Errorf("listed %v in %d pages; expected p/1..p/4 in 2 pages", keys, pages)
	}
}
