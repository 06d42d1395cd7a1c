// Package notary notarizes a signed macOS package with Apple's Notary API v2
// and staples the ticket to it, in Go on any OS: an App Store Connect JWT
// (ES256), a submission, the upload to Apple's S3 bucket with the temporary
// credentials the submission returns, polling until Apple decides, the
// developer log when it refuses, and the ticket from CloudKit appended to the
// xar as Apple's stapler does.
//
// The .p8 key and the JWTs never appear in errors or progress messages.
package notary

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Apple's endpoints.
const (
	DefaultAPIURL    = "https://appstoreconnect.apple.com"
	DefaultTicketURL = "https://api.apple-cloudkit.com/database/1/com.apple.gk.ticket-delivery/production/public/records/lookup"
	// S3Region is the region of Apple's submission bucket.
	S3Region = "us-west-2"
)

// Config is what a notarization needs. Zero optional fields take defaults.
type Config struct {
	KeyID    string            // App Store Connect API key ID (kid)
	IssuerID string            // its issuer (iss)
	Key      *ecdsa.PrivateKey // the .p8 key

	APIURL     string // base of /notary/v2; DefaultAPIURL
	S3Endpoint string // "" = AWS's endpoint for S3Region
	TicketURL  string // CloudKit ticket lookup; DefaultTicketURL

	HTTP *http.Client // nil: 60 s timeout per request
	// Timeout bounds the wait for Apple's decision (default 30 min).
	Timeout time.Duration
	// Poll is the first wait between status checks (default 5 s), doubled up to
	// MaxPoll (default 30 s).
	Poll, MaxPoll time.Duration
	// Progress receives one line per step and status check; nil for none.
	Progress func(format string, args ...any)
	// Now is the clock of the JWTs; nil means time.Now.
	Now func() time.Time
}

// StepError is a failed step, with what Apple answered.
type StepError struct {
	Step   string // submit, upload, wait, log, staple
	Answer string // Apple's answer, made inert; "" when there was none
	Err    error
}

func (e *StepError) Error() string {
	msg := "notarize: " + e.Step
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Answer != "" {
		msg += ": Apple answered: " + e.Answer
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

// InvalidError is Apple's refusal: the submission is Invalid or Rejected.
type InvalidError struct {
	ID     string
	Status string
	Log    *DeveloperLog // nil when it could not be fetched
}

func (e *InvalidError) Error() string {
	msg := fmt.Sprintf("notarize: Apple's notary service judged submission %s %s", e.ID, e.Status)
	if e.Log == nil {
		return msg
	}
	if e.Log.StatusSummary != "" {
		msg += ": " + inert(e.Log.StatusSummary)
	}
	for _, is := range e.Log.Issues {
		msg += fmt.Sprintf("\n  %s: %s", inert(is.Severity), inert(is.Message))
		if is.Path != "" {
			msg += " (" + inert(is.Path) + ")"
		}
		if is.DocURL != "" {
			msg += " " + inert(is.DocURL)
		}
	}
	return msg
}

// CheckURL checks an endpoint setting: https, or http to a loopback address
// (local stubs, tests); flag names it in errors.
func CheckURL(flag, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || strings.ContainsAny(raw, " \t\r\n\x7f") {
		return fmt.Errorf("--%s must be an https URL without user name", flag)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if h == "localhost" || h == "127.0.0.1" || h == "::1" {
			return nil
		}
	}
	return fmt.Errorf("--%s must be an https URL (http only to localhost)", flag)
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) progress(format string, args ...any) {
	if c.Progress != nil {
		c.Progress(format, args...)
	}
}

func (c *Config) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 60 * time.Second}
}

// Notarize submits the signed package at path, waits for Apple's decision and,
// when it is Accepted, staples the ticket to path. name is the submission
// name Apple shows. path is changed only by the final append of the ticket.
func Notarize(ctx context.Context, c Config, path, name string) error {
	if c.Key == nil || c.KeyID == "" || c.IssuerID == "" {
		return errors.New("notarize: the App Store Connect API key, its ID and its issuer are all needed")
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return &StepError{Step: "submit", Err: err}
	}
	c.progress("notarize: submitting %s to Apple's notary service", name)
	sub, err := c.submit(ctx, sum, name)
	if err != nil {
		return err
	}
	c.progress("notarize: uploading to submission %s", sub.ID)
	if err := c.upload(ctx, sub, path); err != nil {
		return err
	}
	status, err := c.wait(ctx, sub.ID)
	if err != nil {
		return err
	}
	if status != "Accepted" {
		ie := &InvalidError{ID: sub.ID, Status: status}
		log, lerr := c.developerLog(ctx, sub.ID)
		if lerr != nil {
			c.progress("notarize: the developer log could not be fetched: %v", lerr)
		}
		ie.Log = log
		return ie
	}
	c.progress("notarize: submission %s Accepted; stapling the ticket", sub.ID)
	return c.Staple(ctx, path)
}

// inert keeps a server's text safe for a terminal: printable characters only,
// at most 300 of them.
func inert(s string) string {
	r := []rune(s)
	if len(r) > 300 {
		r = append(r[:300], '…')
	}
	for i, c := range r {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) {
			r[i] = '?'
		}
	}
	return string(r)
}
