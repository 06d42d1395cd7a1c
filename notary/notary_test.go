package notary

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

func testPkg(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := xar.Write(&b, []xar.File{{Name: "Distribution", Open: xar.Bytes([]byte("<installer-gui-script/>")), Compress: true}}, xar.Options{CreationTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "fleet-osquery.pkg")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func stub(t *testing.T) (*testenv.Apple, Config) {
	t.Helper()
	a, err := testenv.NewApple()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	key, err := ParseKey(a.KeyP8)
	if err != nil {
		t.Fatal(err)
	}
	return a, Config{KeyID: a.KeyID, IssuerID: a.IssuerID, Key: key, APIURL: a.APIURL, S3Endpoint: a.S3URL, TicketURL: a.TicketURL,
		Poll: time.Millisecond, MaxPoll: 5 * time.Millisecond, Timeout: 5 * time.Second}
}

func TestNotarize(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(*testenv.Apple, *Config)
		want    []string // "" = success
		stapled bool
	}{
		{"accepted", func(*testenv.Apple, *Config) {}, nil, true},
		{"invalid", func(a *testenv.Apple, _ *Config) { a.SetOutcome(testenv.NotaryInvalid) },
			[]string{"Invalid", "Archive contains critical validation errors", "not signed with a valid Developer ID"}, false},
		{"stuck", func(a *testenv.Apple, c *Config) {
			a.SetOutcome(testenv.NotaryStuck)
			c.Timeout = 50 * time.Millisecond
		},
			[]string{"notarize: wait", "still \"In Progress\"", "--notarize-timeout"}, false},
		{"bad key", func(_ *testenv.Apple, c *Config) { c.KeyID = "OTHERKEY99" },
			[]string{"notarize: submit", "HTTP 401", "NOT_AUTHORIZED"}, false},
		{"upload refused", func(a *testenv.Apple, _ *Config) { a.FailUploads(403) },
			[]string{"notarize: upload", "HTTP 403", "AccessDenied"}, false},
		{"upload 500", func(a *testenv.Apple, _ *Config) { a.FailUploads(500) },
			[]string{"notarize: upload", "InternalError"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, cfg := stub(t)
			var progress []string
			cfg.Progress = func(f string, args ...any) { progress = append(progress, f) }
			tc.setup(a, &cfg)
			p := testPkg(t)
			before, _ := os.ReadFile(p)
			err := Notarize(context.Background(), cfg, p, "fleet-osquery.pkg")
			after, _ := os.ReadFile(p)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "eyJ") {
					t.Errorf("key or token in the error: %v", err)
				}
			}
			ticket, rerr := ReadTicket(bytes.NewReader(after), int64(len(after)))
			if rerr != nil {
				t.Fatal(rerr)
			}
			if tc.stapled {
				x, err := xar.Open(bytes.NewReader(after), int64(len(after)))
				if err != nil {
					t.Fatalf("the stapled pkg does not open: %v", err)
				}
				rec, _ := RecordName(x)
				if want := a.Ticket(rec); want == nil || !bytes.Equal(ticket, want) {
					t.Errorf("stapled %q, CloudKit has %q for %s", ticket, want, rec)
				}
				if !bytes.Equal(after[:len(before)], before) || len(after) != len(before)+32+len(ticket) {
					t.Error("stapling changed more than the appended trailer")
				}
			} else if !bytes.Equal(before, after) {
				t.Error("a failed notarization changed the package")
			}
			if len(progress) == 0 {
				t.Error("no progress reported")
			}
			var ie *InvalidError
			if tc.name == "invalid" && !errors.As(err, &ie) {
				t.Errorf("err is %T", err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	a, _ := stub(t)
	if _, err := ParseKey(a.KeyP8); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{[]byte("nope"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")} {
		if _, err := ParseKey(bad); err == nil || strings.Contains(err.Error(), "AAAA") {
			t.Errorf("ParseKey(%q) = %v", bad, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://appstoreconnect.apple.com": true, "http://127.0.0.1:8080": true, "http://localhost": true,
		"http://proxy.example.com": false, "ftp://x": false, "https://user:pw@x": false,
	} {
		if err := CheckURL("notary-api-url", raw); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v", raw, err)
		}
	}
}
