package notary

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// submission is what POST /notary/v2/submissions returns.
type submission struct {
	ID                                         string
	AccessKeyID, SecretAccessKey, SessionToken string
	Bucket, Object                             string
}

// DeveloperLog is the JSON log Apple keeps for a finished submission.
type DeveloperLog struct {
	JobID         string     `json:"jobId"`
	Status        string     `json:"status"`
	StatusSummary string     `json:"statusSummary"`
	Issues        []LogIssue `json:"issues"`
}

// LogIssue is one problem the notary service found.
type LogIssue struct {
	Severity string `json:"severity"`
	Code     any    `json:"code"`
	Path     string `json:"path"`
	Message  string `json:"message"`
	DocURL   string `json:"docUrl"`
}

// apiError is App Store Connect's error document.
type apiError struct {
	Errors []struct {
		Status string `json:"status"`
		Code   string `json:"code"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

const maxBody = 4 << 20

func (c *Config) apiURL(parts ...string) string {
	base := c.APIURL
	if base == "" {
		base = DefaultAPIURL
	}
	u := strings.TrimRight(base, "/") + "/notary/v2/submissions"
	for _, p := range parts {
		u += "/" + url.PathEscape(p)
	}
	return u
}

// call sends one authenticated request to the Notary API and decodes its JSON
// answer into out. GETs are retried on 5xx and network errors.
func (c *Config) call(ctx context.Context, step, method, u string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return &StepError{Step: step, Err: err}
		}
	}
	attempts := 1
	if method == http.MethodGet {
		attempts = 3
	}
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if err := sleep(ctx, time.Duration(i)*time.Second); err != nil {
				return &StepError{Step: step, Err: err}
			}
		}
		retry, err := c.callOnce(ctx, step, method, u, payload, out)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			break
		}
	}
	return last
}

func (c *Config) callOnce(ctx context.Context, step, method, u string, payload []byte, out any) (retry bool, err error) {
	tok, err := c.token()
	if err != nil {
		return false, &StepError{Step: step, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(payload))
	if err != nil {
		return false, &StepError{Step: step, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return true, &StepError{Step: step, Err: fmt.Errorf("%s not reachable: %w", redact(u), unwrapURLError(err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return true, &StepError{Step: step, Err: fmt.Errorf("read the answer: %w", err)}
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode >= 500, &StepError{Step: step, Err: fmt.Errorf("HTTP %s", resp.Status), Answer: appleAnswer(data)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, &StepError{Step: step, Err: fmt.Errorf("the answer is not the JSON the Notary API sends: %v", err)}
	}
	return false, nil
}

// appleAnswer summarises an error body: App Store Connect's errors document,
// else the start of the text.
func appleAnswer(data []byte) string {
	var ae apiError
	if json.Unmarshal(data, &ae) == nil && len(ae.Errors) > 0 {
		var parts []string
		for _, e := range ae.Errors {
			s := e.Code
			if e.Title != "" {
				s += ": " + e.Title
			}
			if e.Detail != "" {
				s += " " + e.Detail
			}
			parts = append(parts, inert(s))
		}
		return strings.Join(parts, "; ")
	}
	return inert(strings.TrimSpace(string(data)))
}

func (c *Config) submit(ctx context.Context, sha256Hex, name string) (*submission, error) {
	var resp struct {
		Data struct {
			ID         string `json:"id"`
			Attributes struct {
				AwsAccessKeyID     string `json:"awsAccessKeyId"`
				AwsSecretAccessKey string `json:"awsSecretAccessKey"`
				AwsSessionToken    string `json:"awsSessionToken"`
				Bucket             string `json:"bucket"`
				Object             string `json:"object"`
			} `json:"attributes"`
		} `json:"data"`
	}
	body := map[string]any{"sha256": sha256Hex, "submissionName": name}
	if err := c.call(ctx, "submit", http.MethodPost, c.apiURL(), body, &resp); err != nil {
		return nil, err
	}
	a := resp.Data.Attributes
	if resp.Data.ID == "" || a.Bucket == "" || a.Object == "" || a.AwsAccessKeyID == "" {
		return nil, &StepError{Step: "submit", Err: errors.New("the answer lacks the submission ID or upload location")}
	}
	return &submission{ID: resp.Data.ID, AccessKeyID: a.AwsAccessKeyID, SecretAccessKey: a.AwsSecretAccessKey,
		SessionToken: a.AwsSessionToken, Bucket: a.Bucket, Object: a.Object}, nil
}

// wait polls the submission with backoff until Apple decides or c.Timeout passes.
func (c *Config) wait(ctx context.Context, id string) (string, error) {
	timeout, poll, maxPoll := c.Timeout, c.Poll, c.MaxPoll
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	if poll <= 0 {
		poll = 5 * time.Second
	}
	if maxPoll <= 0 {
		maxPoll = 30 * time.Second
	}
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		var resp struct {
			Data struct {
				Attributes struct {
					Status string `json:"status"`
				} `json:"attributes"`
			} `json:"data"`
		}
		if err := c.call(ctx, "wait", http.MethodGet, c.apiURL(id), nil, &resp); err != nil {
			return "", err
		}
		status := resp.Data.Attributes.Status
		switch status {
		case "Accepted", "Invalid", "Rejected":
			return status, nil
		}
		elapsed := time.Since(start).Round(time.Second)
		c.progress("notarize: submission %s: %s (%s)", id, inert(status), elapsed)
		if time.Now().Add(poll).After(deadline) {
			return "", &StepError{Step: "wait", Err: fmt.Errorf("submission %s still %q after %s (--notarize-timeout); it may still finish: check it with `xcrun notarytool info %s` and staple later", id, inert(status), timeout, id)}
		}
		if err := sleep(ctx, poll); err != nil {
			return "", &StepError{Step: "wait", Err: err}
		}
		if poll *= 2; poll > maxPoll {
			poll = maxPoll
		}
	}
}

// developerLog fetches the log of a finished submission.
func (c *Config) developerLog(ctx context.Context, id string) (*DeveloperLog, error) {
	var resp struct {
		Data struct {
			Attributes struct {
				DeveloperLogURL string `json:"developerLogUrl"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := c.call(ctx, "log", http.MethodGet, c.apiURL(id, "logs"), nil, &resp); err != nil {
		return nil, err
	}
	u := resp.Data.Attributes.DeveloperLogURL
	if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") {
		return nil, &StepError{Step: "log", Err: errors.New("the answer has no developer log URL")}
	}
	// The log URL is pre-signed: no App Store Connect token goes with it.
	status, data, err := c.plainCall(ctx, "log", "developer log", http.MethodGet, u, nil, nil)
	if err != nil {
		return nil, err
	}
	if status != "" {
		return nil, &StepError{Step: "log", Err: fmt.Errorf("developer log: HTTP %s", status)}
	}
	var log DeveloperLog
	if err := json.Unmarshal(data, &log); err != nil {
		return nil, &StepError{Step: "log", Err: fmt.Errorf("developer log is not JSON: %v", err)}
	}
	return &log, nil
}

// plainCall sends a request that carries no App Store Connect token (a
// pre-signed log URL, CloudKit) and returns the answer's body (bounded),
// with its status when that is not 200 OK ("" when it is). Only a request
// that could not be made or sent is an error: a StepError of step naming
// what.
func (c *Config) plainCall(ctx context.Context, step, what, method, u string, body []byte, header map[string]string) (status string, data []byte, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return "", nil, &StepError{Step: step, Err: err}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	r, err := c.client().Do(req)
	if err != nil {
		return "", nil, &StepError{Step: step, Err: fmt.Errorf("%s not reachable: %w", what, unwrapURLError(err))}
	}
	defer r.Body.Close()
	data, _ = io.ReadAll(io.LimitReader(r.Body, maxBody))
	if r.StatusCode != http.StatusOK {
		status = r.Status
	}
	return status, data, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// unwrapURLError drops url.Error's copy of the URL (it may carry a pre-signed query).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "the server"
	}
	pu.RawQuery, pu.User = "", nil
	return pu.String()
}
