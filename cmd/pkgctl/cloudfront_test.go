package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/cloudfront"
)

// cfKey writes a fresh key of kind to a 0600 file and returns its path, PEM
// and public key.
func cfKey(t *testing.T, kind string) (path string, privPEM []byte, pub crypto.PublicKey) {
	t.Helper()
	priv, pubPEM, err := cloudfront.GenerateKey(kind)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), kind+".pem")
	if err := os.WriteFile(path, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err = cloudfront.ParsePublicKeyPEM(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	return path, priv, pub
}

func Test_NewCmdCloudFrontSign(t *testing.T) {
	tests := []struct {
		name    string
		cookie  bool
		args    []string
		wantErr string // names the flag
		check   func(t *testing.T, o *CloudFrontSignOptions)
	}{
		{name: "ttl", args: []string{"https://x/y", "--key-pair-id=K1", "--private-key=k.pem", "--ttl=1h"},
			check: func(t *testing.T, o *CloudFrontSignOptions) {
				if o.URL != "https://x/y" || o.KeyPairID != "K1" || o.PrivateKey != "k.pem" || o.TTL != time.Hour || o.Hash != "sha1" || o.Cookie {
					t.Errorf("%+v", o)
				}
			}},
		{name: "all flags", cookie: true, args: []string{"https://x/*", "--key-pair-id=K1", "--private-key=k.pem", "--expires=2030-01-01T00:00:00Z",
			"--not-before=1700000000", "--ip-range=10.0.0.0/8", "--policy-resource=https://x/*", "--hash=SHA256"},
			check: func(t *testing.T, o *CloudFrontSignOptions) {
				if !o.Cookie || o.Expires != "2030-01-01T00:00:00Z" || o.NotBefore != "1700000000" || o.IPRange != "10.0.0.0/8" || o.PolicyResource != "https://x/*" || o.Hash != "SHA256" {
					t.Errorf("%+v", o)
				}
			}},
		{name: "no key pair id", args: []string{"https://x/y", "--private-key=k", "--ttl=1h"}, wantErr: "--key-pair-id is required"},
		{name: "no private key", args: []string{"https://x/y", "--key-pair-id=K", "--ttl=1h"}, wantErr: "--private-key is required"},
		{name: "no expiry", args: []string{"https://x/y", "--key-pair-id=K", "--private-key=k"}, wantErr: "exactly one of --expires and --ttl"},
		{name: "both expiries", args: []string{"https://x/y", "--key-pair-id=K", "--private-key=k", "--ttl=1h", "--expires=1"}, wantErr: "exactly one of --expires and --ttl"},
		{name: "negative ttl", args: []string{"https://x/y", "--key-pair-id=K", "--private-key=k", "--ttl=-1h"}, wantErr: "--ttl: -1h0m0s is not a positive duration"},
		{name: "bad ttl", args: []string{"https://x/y", "--key-pair-id=K", "--private-key=k", "--ttl=soon"}, wantErr: `"soon" for "--ttl"`},
		{name: "bad hash", args: []string{"https://x/y", "--key-pair-id=K", "--private-key=k", "--ttl=1h", "--hash=md5"}, wantErr: `--hash: "md5"`},
		{name: "no URL", args: []string{"--key-pair-id=K", "--private-key=k", "--ttl=1h"}, wantErr: "takes 1 argument (URL), got 0"},
		{name: "two URLs", args: []string{"https://a", "https://b", "--key-pair-id=K", "--private-key=k", "--ttl=1h"}, wantErr: "takes 1 argument (URL), got 2"},
		{name: "unknown flag", args: []string{"https://a", "--expiry=1"}, wantErr: "unknown flag: --expiry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *CloudFrontSignOptions
			var out bytes.Buffer
			cmd := NewCmdCloudFrontSign(Streams{Out: &out, ErrOut: &out}, tt.cookie, func(o *CloudFrontSignOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			err := cmd.Execute()
			if tt.wantErr != "" {
				var ue *usageError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &ue) {
					t.Fatalf("err = %v, want a usage error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

func Test_cloudFrontSignRun(t *testing.T) {
	rsaPath, rsaPEM, rsaPub := cfKey(t, "rsa")
	ecPath, _, ecPub := cfKey(t, "ecdsa")
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	inline := strings.ReplaceAll(string(rsaPEM), "\n", `\n`)
	client := netip.MustParseAddr("192.0.2.10")
	const u = "https://cdn.example.com/orbit/linux/stable/orbit"

	tests := []struct {
		name    string
		cookie  bool
		args    []string
		pub     crypto.PublicKey
		reqURL  string // URL checked with the cookies
		want    []string
		wantErr string
	}{
		{name: "canned rsa file", args: []string{u, "--key-pair-id=K1", "--private-key=" + rsaPath, "--ttl=1h"}, pub: rsaPub,
			want: []string{u + "?Expires=1793538000&Signature="}},
		{name: "canned unix expiry inline key sha256", args: []string{u, "--key-pair-id=K1", "--private-key=" + inline, "--expires=1793538000", "--hash=sha256"}, pub: rsaPub,
			want: []string{"?Expires=1793538000&", "&Hash-Algorithm=SHA256"}},
		{name: "custom ecdsa", args: []string{u, "--key-pair-id=K1", "--private-key=" + ecPath, "--expires=2026-11-02T00:00:00Z",
			"--not-before=2026-11-01T00:00:00Z", "--ip-range=192.0.2.0/24", "--policy-resource=https://cdn.example.com/orbit/*"}, pub: ecPub,
			want: []string{u + "?Policy="}},
		{name: "cookies canned", cookie: true, args: []string{u, "--key-pair-id=K1", "--private-key=" + rsaPath, "--ttl=10m"}, pub: rsaPub, reqURL: u,
			want: []string{"CloudFront-Expires=1793535000; Path=/; HttpOnly; Secure\n", "CloudFront-Signature=", "CloudFront-Key-Pair-Id=K1; Path=/; HttpOnly; Secure\n"}},
		{name: "cookies wildcard sha256", cookie: true, args: []string{"https://cdn.example.com/*", "--key-pair-id=K1", "--private-key=" + ecPath, "--ttl=10m", "--hash=sha256"}, pub: ecPub, reqURL: u,
			want: []string{"CloudFront-Policy=", "CloudFront-Hash-Algorithm=SHA256"}},
		{name: "cookies policy resource", cookie: true, args: []string{u, "--key-pair-id=K1", "--private-key=" + rsaPath, "--ttl=10m", "--policy-resource=https://cdn.example.com/orbit/*"}, pub: rsaPub, reqURL: u,
			want: []string{"CloudFront-Policy="}},

		{name: "expiry past 2038", args: []string{u, "--key-pair-id=K1", "--private-key=" + rsaPath, "--expires=2038-01-19T03:14:08Z"}, wantErr: "--expires: 2038-01-19T03:14:08Z is after 2038-01-19T03:14:07Z"},
		{name: "ttl past 2038", args: []string{u, "--key-pair-id=K1", "--private-key=" + rsaPath, "--ttl=100000h"}, wantErr: "--ttl: 2038-"},
		{name: "cookie past 2038", cookie: true, args: []string{u, "--key-pair-id=K1", "--private-key=" + rsaPath, "--expires=4000000000"}, wantErr: "--expires: 2096-"},
		{name: "expiry in the past", args: []string{u, "--key-pair-id=K1", "--private-key=" + rsaPath, "--expires=2026-11-01T11:00:00Z"}, wantErr: "--expires: 2026-11-01T11:00:00Z is not in the future"},
		{name: "expiry garbage", args: []string{u, "--key-pair-id=K1", "--private-key=" + rsaPath, "--expires=tomorrow"}, wantErr: `--expires: "tomorrow" is neither Unix seconds nor RFC 3339`},
		{name: "not-before garbage", args: []string{u, "--key-pair-id=K1", "--private-key=" + rsaPath, "--ttl=1h", "--not-before=x"}, wantErr: `--not-before: "x"`},
		{name: "not-before after expiry", args: []string{u, "--key-pair-id=K1", "--private-key=" + rsaPath, "--ttl=1h", "--not-before=2027-01-01T00:00:00Z"}, wantErr: "--not-before: 2027-01-01T00:00:00Z is not before"},
		{name: "bad ip range", args: []string{u, "--key-pair-id=K1", "--private-key=" + rsaPath, "--ttl=1h", "--ip-range=192.0.2.0/40"}, wantErr: `--ip-range: "192.0.2.0/40"`},
		{name: "resource mismatch", args: []string{u, "--key-pair-id=K1", "--private-key=" + rsaPath, "--ttl=1h", "--policy-resource=https://cdn.example.com/desktop/*"}, wantErr: "--policy-resource: "},
		{name: "bad URL", args: []string{"ftp://x/y", "--key-pair-id=K1", "--private-key=" + rsaPath, "--ttl=1h"}, wantErr: "URL argument: scheme must be http or https"},
		{name: "bad key pair id", args: []string{u, "--key-pair-id=K 1", "--private-key=" + rsaPath, "--ttl=1h"}, wantErr: "key pair ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			cmd := NewCmdCloudFrontSign(Streams{Out: &out, ErrOut: &errOut}, tt.cookie, func(o *CloudFrontSignOptions) error {
				o.Now = func() time.Time { return now }
				return cloudFrontSignRun(o)
			})
			cmd.SetArgs(tt.args)
			cmd.SetOut(&errOut)
			cmd.SetErr(&errOut)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if out.Len() != 0 {
					t.Errorf("printed %q on error", out.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := out.String()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("output %q lacks %q", got, w)
				}
			}
			keys := map[string]crypto.PublicKey{"K1": tt.pub}
			if tt.cookie {
				var cs []*http.Cookie
				for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
					c, err := http.ParseSetCookie(line)
					if err != nil {
						t.Fatalf("%q: %v", line, err)
					}
					cs = append(cs, c)
				}
				if n := len(cs); n != 3 && n != 4 {
					t.Fatalf("%d cookies", n)
				}
				if err := cloudfront.VerifyCookies(tt.reqURL, cs, keys, now.Add(time.Minute)); err != nil {
					t.Fatalf("VerifyCookies: %v", err)
				}
				return
			}
			if strings.Count(got, "\n") != 1 {
				t.Errorf("want one line, got %q", got)
			}
			if err := cloudfront.Verify(strings.TrimSpace(got), keys, now.Add(time.Minute), cloudfront.WithClientIP(client)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// TestCloudFrontPrivateKeyNotEchoed: a bad --private-key names the flag and
// leaks no key material, whether it is a file or inline.
func TestCloudFrontPrivateKeyNotEchoed(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)})
	_, goodPEM, _ := cfKey(t, "ecdsa")
	body := strings.Join(strings.Split(string(goodPEM), "\n")[1:3], "")
	dir := t.TempDir()
	smallPath := filepath.Join(dir, "small.pem")
	os.WriteFile(smallPath, smallPEM, 0o600)

	tests := []struct {
		name, key, want string
		secret          []byte
	}{
		{"rsa 1024 inline", strings.ReplaceAll(string(smallPEM), "\n", `\n`), "RSA key of 1024 bits refused", smallPEM},
		{"rsa 1024 file", smallPath, "RSA key of 1024 bits refused", smallPEM},
		{"corrupt inline", strings.Replace(string(goodPEM), "M", "A", 1), "malformed PRIVATE KEY block", goodPEM},
		{"header-less body", body, "cannot open it as a file", goodPEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Execute([]string{"cloudfront", "sign-url", "https://x/y", "--key-pair-id=K", "--private-key", tt.key, "--ttl=1h"}, Streams{Out: &out, ErrOut: &errOut})
			msg := errOut.String()
			if code != 1 || !strings.Contains(msg, "Error: --private-key: ") || !strings.Contains(msg, tt.want) {
				t.Fatalf("exit %d, stderr %q", code, msg)
			}
			for _, line := range strings.Split(string(tt.secret), "\n") {
				if strings.HasPrefix(line, "-----") {
					continue
				}
				for i := 0; i+10 <= len(line); i++ {
					if strings.Contains(msg, line[i:i+10]) {
						t.Fatalf("stderr %q contains key material", msg)
					}
				}
			}
		})
	}
}

func TestCloudFrontKeygen(t *testing.T) {
	for _, kind := range []string{"rsa", "ecdsa"} {
		t.Run(kind, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "cf.pem")
			var so, se bytes.Buffer
			if code := Execute([]string{"cloudfront", "keygen", "--type", kind, "--out", out}, Streams{Out: &so, ErrOut: &se}); code != 0 {
				t.Fatalf("exit %d: %s", code, se.String())
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", fi.Mode().Perm())
			}
			key, err := cloudfront.LoadPrivateKey(out)
			if err != nil {
				t.Fatal(err)
			}
			wantPub, err := cloudfront.MarshalPublicKeyPEM(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(so.Bytes(), wantPub) {
				t.Fatalf("stdout\n%s\nis not the public key of %s\n%s", so.Bytes(), out, wantPub)
			}
			if !strings.Contains(se.String(), out) {
				t.Errorf("stderr %q does not name the file", se.String())
			}

			// A second run refuses to overwrite and leaves the key as it was.
			before, _ := os.ReadFile(out)
			so.Reset()
			se.Reset()
			if code := Execute([]string{"cloudfront", "keygen", "--type", kind, "--out", out}, Streams{Out: &so, ErrOut: &se}); code != 2 {
				t.Fatalf("second run: exit %d", code)
			}
			if !strings.Contains(se.String(), "--out: "+out+" already exists") || so.Len() != 0 {
				t.Errorf("second run: stdout %q stderr %q", so.String(), se.String())
			}
			if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
				t.Error("the existing key was changed")
			}
		})
	}

	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown type", []string{"--type=dsa", "--out=" + filepath.Join(dir, "x.pem")}, 2, `--type: "dsa" is neither rsa nor ecdsa`},
		{"no out", []string{"--type=rsa"}, 2, "--out is required"},
		{"dangling symlink", []string{"--out=" + link}, 2, "already exists"},
		{"missing directory", []string{"--out=" + filepath.Join(dir, "no", "x.pem")}, 1, "--out: open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var so, se bytes.Buffer
			code := Execute(append([]string{"cloudfront", "keygen"}, tt.args...), Streams{Out: &so, ErrOut: &se})
			if code != tt.code || !strings.Contains(se.String(), tt.want) || so.Len() != 0 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, so.String(), se.String(), tt.code, tt.want)
			}
		})
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("keygen wrote through a symlink: %v", err)
	}
}

// TestCloudFrontExecute runs sign-url through the root command as main does.
func TestCloudFrontExecute(t *testing.T) {
	path, _, pub := cfKey(t, "ecdsa")
	var so, se bytes.Buffer
	code := Execute([]string{"cloudfront", "sign-url", "https://cdn.example.com/a", "--key-pair-id", "KX", "--private-key", path, "--ttl", "5m", "--hash", "sha256"}, Streams{Out: &so, ErrOut: &se})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	if err := cloudfront.Verify(strings.TrimSpace(so.String()), map[string]crypto.PublicKey{"KX": pub}, time.Now()); err != nil {
		t.Fatal(err)
	}
	so.Reset()
	se.Reset()
	if code := Execute([]string{"cloudfront", "sign-url", "https://cdn.example.com/a", "--key-pair-id", "KX", "--private-key", path}, Streams{Out: &so, ErrOut: &se}); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(se.String(), "exactly one of --expires and --ttl") {
		t.Errorf("stderr %q", se.String())
	}
}
