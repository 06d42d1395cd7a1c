package notary

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// upload puts the package into the submission's S3 object with the temporary
// credentials Apple handed out (one PutObject: a pkg is far below S3's 5 GB
// single-upload limit).
func (c *Config) upload(ctx context.Context, sub *submission, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return &StepError{Step: "upload", Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return &StepError{Step: "upload", Err: err}
	}
	creds := aws.Credentials{AccessKeyID: sub.AccessKeyID, SecretAccessKey: sub.SecretAccessKey, SessionToken: sub.SessionToken, Source: "Apple notary submission"}
	opts := s3.Options{
		Region:      S3Region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		HTTPClient:  c.uploadClient(),
		// A plain signed PUT, as notarytool sends: no aws-chunked trailing checksum.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           3,
	}
	if c.S3Endpoint != "" {
		opts.BaseEndpoint = aws.String(c.S3Endpoint)
		opts.UsePathStyle = true
	}
	_, err = s3.New(opts).PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(sub.Bucket),
		Key:           aws.String(sub.Object),
		Body:          f,
		ContentLength: aws.Int64(st.Size()),
	})
	if err != nil {
		return &StepError{Step: "upload", Err: fmt.Errorf("S3 PutObject of %d bytes to bucket %s", st.Size(), inert(sub.Bucket)), Answer: s3Answer(err)}
	}
	return nil
}

// uploadClient has no overall time limit (a large pkg on a slow link takes
// long); the context bounds it.
func (c *Config) uploadClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{}
}

// s3Answer is S3's status, error code and message, without request details.
func s3Answer(err error) string {
	msg := ""
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		msg = fmt.Sprintf("HTTP %d", re.HTTPStatusCode())
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if msg != "" {
			msg += " "
		}
		msg += ae.ErrorCode()
		if m := ae.ErrorMessage(); m != "" {
			msg += ": " + m
		}
	}
	if msg == "" {
		msg = unwrapURLError(err).Error()
	}
	return inert(msg)
}
