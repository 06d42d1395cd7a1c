package inspect

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/notary"
	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
	"github.com/pkgctl/pkgctl/timestamp"
)

// TestTimestamps: the RFC 3161 time stamp of a signed pkg (in the CMS
// x-signature) and msi (Authenticode) shows with the TSA that signed it.
func TestTimestamps(t *testing.T) {
	tsa := testenv.NewTSATB(t)
	fx := newFixture(t)
	var err error
	if fx.ts, err = timestamp.New("test-timestamp-url", tsa.URL); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{packaging.TypePkg, packaging.TypeMSI} {
		t.Run(typ, func(t *testing.T) {
			arch := "amd64"
			if typ == packaging.TypePkg {
				arch = ""
			}
			r := mustOpen(t, fx.build(t, typ, arch, nil, true), Options{})
			if len(r.Signatures) != 1 {
				t.Fatalf("signatures %+v", r.Signatures)
			}
			s := r.Signatures[0]
			if s.Timestamp == nil || time.Since(*s.Timestamp) > time.Hour {
				t.Errorf("%s: timestamp %v", typ, s.Timestamp)
			}
			if tsa := s.Extra["timestamp_authority"]; !strings.Contains(tsa, "pkgctl testenv TSA") {
				t.Errorf("%s: timestamp_authority %q", typ, tsa)
			}
			var b bytes.Buffer
			if err := WriteText(&b, r, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "timestamp ") || !strings.Contains(b.String(), "CN=pkgctl testenv TSA") {
				t.Errorf("%s: human output lacks the timestamp:\n%s", typ, b.String())
			}
		})
	}
}

// TestStapled notarizes a signed pkg against the local Apple stubs: inspect
// shows whether a ticket is stapled and what it is, verify still passes, and a
// broken trailer is a finding.
func TestStapled(t *testing.T) {
	fx := newFixture(t)
	p := fx.build(t, packaging.TypePkg, "", nil, true)
	before := mustOpen(t, p, Options{})
	if before.Staple == nil || before.Staple.Stapled || before.Staple.Record == "" {
		t.Errorf("unstapled pkg: staple %+v", before.Staple)
	}
	if r := mustOpen(t, fx.build(t, packaging.TypeDeb, "amd64", nil, false), Options{}); r.Staple != nil {
		t.Errorf("deb: staple %+v", r.Staple)
	}

	apple, err := testenv.NewApple()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(apple.Close)
	key, err := notary.ParseKey(apple.KeyP8)
	if err != nil {
		t.Fatal(err)
	}
	cfg := notary.Config{KeyID: apple.KeyID, IssuerID: apple.IssuerID, Key: key, APIURL: apple.APIURL,
		S3Endpoint: apple.S3URL, TicketURL: apple.TicketURL, Poll: time.Millisecond, MaxPoll: time.Millisecond}
	if err := notary.Notarize(context.Background(), cfg, p, "installer.pkg"); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	x, err := xar.Open(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := notary.RecordName(x)
	ticket := apple.Ticket(rec)

	r := mustOpen(t, p, Options{Roots: fx.ca.Pool()})
	st := r.Staple
	if st == nil || !st.Stapled || st.TicketSize != int64(len(ticket)) || st.Record != rec || len(st.TicketSHA256) != 64 {
		t.Fatalf("staple %+v, want a %d-byte ticket for %s", st, len(ticket), rec)
	}
	if fs := Verify(r, VerifyOptions{}); Failed(fs, nil, false) || hasCode(fs, "PKG-STAPLE-MALFORMED") {
		t.Errorf("stapled pkg fails verify: %+v", fs)
	}
	if d := Compare(before, r); len(d.Signatures) != 1 || d.Signatures[0].Key != "notarization-ticket" || d.Signatures[0].Change != "added" {
		t.Errorf("diff before/after stapling: %+v", d.Signatures)
	}
	var b bytes.Buffer
	if err := WriteText(&b, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Notarization") || !strings.Contains(b.String(), "stapled") || !strings.Contains(b.String(), rec) {
		t.Errorf("human output lacks the staple:\n%s", b.String())
	}

	// The terminator trailer before the ticket is damaged.
	bad := tamper(t, p, int64(-16-len(ticket)-16))
	fs := verifyFile(t, bad, Options{})
	if !hasCode(fs, "PKG-STAPLE-MALFORMED") {
		t.Errorf("broken staple trailer: %+v", fs)
	}
}
