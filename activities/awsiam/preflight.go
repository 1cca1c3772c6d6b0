package awsiam

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/firebreak-dev/firebreak/activities/preflight"
)

// Preflight checks what firebreak needs of AWS: load gives the SDK's configuration, whose
// default chain must yield credentials, and iam:GetUser on probeUser must be permitted
// (without a probe user the credentials are "unverified": IAM has no harmless call that
// proves them). iamOpts configure the IAM client as the worker's are (its endpoint).
func Preflight(ctx context.Context, load func(context.Context) (aws.Config, error), probeUser string, iamOpts ...func(*iam.Options)) []preflight.Result {
	cfg, err := load(ctx)
	if err != nil {
		return []preflight.Result{preflight.Fail("aws", "config", "loading the default configuration: %v", err)}
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return []preflight.Result{preflight.Fail("aws", "credentials", "no credentials from the default chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, roles…): %v", err)}
	}
	out := []preflight.Result{{Integration: "aws", Check: "credentials", Status: preflight.OK, Detail: fmt.Sprintf("key %s from %s, region %q", maskKeyID(creds.AccessKeyID), creds.Source, cfg.Region)}}
	if probeUser == "" {
		return append(out, preflight.Result{Integration: "aws", Check: "iam", Status: preflight.Unverified, Detail: "set FIREBREAK_AWS_PROBE_USER to an IAM user firebreak may read, to check iam:GetUser against IAM"})
	}
	res, err := iam.NewFromConfig(cfg, iamOpts...).GetUser(ctx, &iam.GetUserInput{UserName: aws.String(probeUser)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return append(out, preflight.Fail("aws", "iam", "iam:GetUser on %s: %s: %s", probeUser, ae.ErrorCode(), ae.ErrorMessage()))
		}
		return append(out, preflight.Fail("aws", "iam", "iam:GetUser on %s: %v", probeUser, err))
	}
	return append(out, preflight.Result{Integration: "aws", Check: "iam", Status: preflight.OK, Detail: "iam:GetUser permitted on " + aws.ToString(res.User.Arn)})
}

// maskKeyID shows only the start of an access key id, enough to tell keys apart.
func maskKeyID(id string) string {
	if len(id) <= 8 {
		return "****"
	}
	return id[:8] + "…"
}
