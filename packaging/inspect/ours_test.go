package inspect

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
	"github.com/pkgctl/pkgctl/update"
)

var ourTypes = []struct{ typ, arch string }{
	{packaging.TypeDeb, "amd64"}, {packaging.TypeRPM, "arm64"}, {packaging.TypeArchZst, "amd64"},
	{packaging.TypePkg, ""}, {packaging.TypeMSI, "amd64"},
}

// TestOursInspectAndVerify builds every format and checks that inspect sees
// the settings, certificates, TUF metadata and components, and that verify
// finds nothing wrong.
func TestOursInspectAndVerify(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range ourTypes {
		t.Run(tc.typ, func(t *testing.T) {
			p := fx.build(t, tc.typ, tc.arch, nil, false)
			r := mustOpen(t, p, Options{})
			if r.Format != tc.typ {
				t.Errorf("format %q", r.Format)
			}
			if !strings.Contains(r.Version, "1.40.2") {
				t.Errorf("version %q", r.Version)
			}
			settings := map[string]Setting{}
			for _, s := range r.Settings {
				settings[s.Name] = s
			}
			if got := settings["ORBIT_FLEET_URL"].Value; got != "https://fleet.example.com" {
				t.Errorf("ORBIT_FLEET_URL = %q; settings %+v", got, r.Settings)
			}
			if got := settings["ORBIT_UPDATE_URL"].Value; got != "https://tuf.example.com" {
				t.Errorf("ORBIT_UPDATE_URL = %q", got)
			}
			if s, ok := settings["ORBIT_ENROLL_SECRET"]; ok && s.Value != masked {
				t.Errorf("enroll secret not masked: %q", s.Value)
			}
			if r.TUF == nil || r.TUF.RootVersion != 1 || len(r.TUF.RootKeyIDs) == 0 {
				t.Fatalf("TUF %+v", r.TUF)
			}
			if len(r.Components) < 2 {
				t.Fatalf("components %+v", r.Components)
			}
			for _, c := range r.Components {
				if !c.InTUF || !c.TUFMatch || c.Version != "1.40.2" {
					t.Errorf("component %+v", c)
				}
			}
			if len(r.KeyPairs) != 1 || !r.KeyPairs[0].Match {
				t.Errorf("key pairs %+v", r.KeyPairs)
			}
			if !slices.ContainsFunc(r.Certificates, func(c Certificate) bool { return c.Subject == "CN=inspect test host" && !c.IsCA }) {
				t.Errorf("client certificate missing: %+v", r.Certificates)
			}
			if len(r.Scripts) == 0 {
				t.Errorf("no scripts or custom actions")
			}
			for _, f := range Verify(r, VerifyOptions{WarnWithin: 30 * 24 * time.Hour}) {
				// The MSI gives client keys the default descriptor (Users may
				// read), as fleetctl does: verify says so.
				if tc.typ == packaging.TypeMSI && f.Code == "FILE-SECRET-READABLE" && strings.HasSuffix(f.Subject, ".key") {
					continue
				}
				t.Errorf("verify finding on our own %s: %+v", tc.typ, f)
			}
			// The secret is visible only when asked for.
			r = mustOpen(t, p, Options{ShowSecrets: true})
			found := false
			for _, s := range r.Settings {
				found = found || s.Value == "s3cret-enroll"
			}
			if tc.typ != packaging.TypePkg && tc.typ != packaging.TypeMSI && !found {
				t.Errorf("--show-secrets did not show the enroll secret")
			}
		})
	}
}

// TestOursTampered changes one byte of each format's payload and checks that
// verify names what is wrong.
func TestOursTampered(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range ourTypes {
		t.Run(tc.typ, func(t *testing.T) {
			p := fx.build(t, tc.typ, tc.arch, nil, false)
			// The last bytes of every format hold compressed payload (deb: the
			// data member, rpm: the payload, pkg: the heap's last member, msi:
			// the cabinet stream sits in the last sectors) — flip one well
			// inside it.
			off := payloadOffset(t, p, tc.typ)
			for tc.typ == packaging.TypeArchZst && !zstdFlipMatters(t, p, off) {
				off++ // a bit the zstd decoder never reads: see zstdFlipMatters
			}
			tp := tamper(t, p, off)
			r, err := Open(tp, Options{})
			var fs []Finding
			if err != nil {
				fs = []Finding{{Code: "READ-FAILED", Severity: SevError, Message: err.Error()}}
			} else {
				fs = Verify(r, VerifyOptions{})
			}
			want := map[string]string{packaging.TypeDeb: "DEB-DATA-UNREADABLE", packaging.TypeRPM: "RPM-DIGEST",
				packaging.TypeArchZst: "ARCH-DATA-UNREADABLE", packaging.TypePkg: "PKG-XAR-FILE-CHECKSUM", packaging.TypeMSI: "MSI-CAB-CORRUPT"}[tc.typ]
			if !Failed(fs, nil, false) || !hasCode(fs, want) {
				t.Fatalf("tampered %s: want %s, got %+v", tc.typ, want, fs)
			}
		})
	}
}

// TestExpiredAndMismatchedCertificates catches an expired client certificate
// and a key that belongs to another certificate.
func TestExpiredAndMismatchedCertificates(t *testing.T) {
	fx := newFixture(t)
	old, _, err := fx.ca.IssueClientValidity("expired host", time.Now().AddDate(-2, 0, 0), time.Now().AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	soon, soonKey, err := fx.ca.IssueClientValidity("soon host", time.Now().Add(-time.Hour), time.Now().AddDate(0, 0, 10))
	if err != nil {
		t.Fatal(err)
	}
	expired := fx.write(t, "expired.crt", old)
	p := fx.build(t, packaging.TypeDeb, "amd64", func(o *packaging.Options) { o.FleetTLSClientCertificate = expired }, false)
	fs := Verify(mustOpen(t, p, Options{}), VerifyOptions{WarnWithin: 30 * 24 * time.Hour})
	if !hasCode(fs, "CERT-EXPIRED") || !hasCode(fs, "CERT-KEY-MISMATCH") {
		t.Errorf("want CERT-EXPIRED and CERT-KEY-MISMATCH, got %+v", fs)
	}
	p = fx.build(t, packaging.TypeMSI, "amd64", func(o *packaging.Options) {
		o.FleetTLSClientCertificate, o.FleetTLSClientKey = fx.write(t, "soon.crt", soon), fx.write(t, "soon.key", soonKey)
	}, false)
	fs = Verify(mustOpen(t, p, Options{}), VerifyOptions{WarnWithin: 30 * 24 * time.Hour})
	if !hasCode(fs, "CERT-EXPIRING") || Failed(fs, nil, false) {
		t.Errorf("want only a CERT-EXPIRING warning, got %+v", fs)
	}
	if fs := Verify(mustOpen(t, p, Options{}), VerifyOptions{WarnWithin: 5 * 24 * time.Hour}); hasCode(fs, "CERT-EXPIRING") {
		t.Errorf("--warn-days 5: %+v", fs)
	}
}

// TestOursSigned signs a pkg and an msi, checks the chain against the CA,
// then tampers with a table, the TOC and the signatures.
func TestOursSigned(t *testing.T) {
	fx := newFixture(t)
	for _, typ := range []string{packaging.TypePkg, packaging.TypeMSI} {
		t.Run(typ, func(t *testing.T) {
			p := fx.build(t, typ, "amd64", func(o *packaging.Options) {
				if typ == packaging.TypePkg {
					o.Arch = ""
				}
			}, true)
			opt := Options{Roots: fx.ca.Pool()}
			r := mustOpen(t, p, opt)
			if len(r.Signatures) != 1 {
				t.Fatalf("signatures %+v", r.Signatures)
			}
			s := r.Signatures[0]
			if !s.Valid || s.Trusted == nil || !*s.Trusted || !strings.Contains(s.Signer, "inspect test") || len(s.Chain) == 0 {
				t.Errorf("signature %+v", s)
			}
			if fs := Verify(r, VerifyOptions{}); Failed(fs, nil, false) {
				t.Errorf("signed %s: %+v", typ, fs)
			}
			other, err := testenvCA("another CA")
			if err != nil {
				t.Fatal(err)
			}
			if fs := Verify(mustOpen(t, p, Options{Roots: other}), VerifyOptions{}); !Failed(fs, nil, false) || !strings.Contains(fs[0].Code, "UNTRUSTED") {
				t.Errorf("wrong --ca: %+v", fs)
			}
			raw, _ := os.ReadFile(p)
			cases := map[string]int64{}
			switch typ {
			case packaging.TypeMSI:
				// A property value (in the string pool) and the signer's name
				// inside the signature stream.
				cases["table"] = int64(bytes.Index(raw, []byte("fleet.example.com")) + 2)
				cases["signature"] = int64(bytes.LastIndex(raw, []byte("inspect test")) + 3)
			case packaging.TypePkg:
				cases["toc"] = 40
				cases["signature"] = xarSignatureOffset(t, raw)
			}
			for what, off := range cases {
				fs := verifyFile(t, tamper(t, p, off), opt)
				if !Failed(fs, nil, false) {
					t.Errorf("%s tampered in the %s passes: %+v", typ, what, fs)
				}
				t.Logf("%s %s: %+v", typ, what, fs)
			}
		})
	}
}

// verifyFile runs what pkgctl verify runs, a read failure being a finding.
func verifyFile(t *testing.T, path string, opt Options) []Finding {
	r, err := Open(path, opt)
	if err != nil {
		return []Finding{{Code: "READ-FAILED", Severity: SevError, Message: err.Error()}}
	}
	return Verify(r, VerifyOptions{})
}

// xarSignatureOffset is the file offset of the RSA signature in the heap.
func xarSignatureOffset(t *testing.T, raw []byte) int64 {
	x, err := xar.Open(bytes.NewReader(raw), int64(len(raw)))
	if err != nil || x.Signature == nil {
		t.Fatalf("signed xar: %v", err)
	}
	heap := int64(binary.BigEndian.Uint16(raw[4:])) + int64(binary.BigEndian.Uint64(raw[8:]))
	return heap + x.Signature.Offset + 10
}

// TestCheckLive compares the components with the live repository over mTLS,
// before and after the server publishes another orbit.
func TestCheckLive(t *testing.T) {
	fx := newFixture(t)
	p := fx.build(t, packaging.TypeDeb, "amd64", nil, false)
	check := func() []Finding {
		c, err := update.New(update.Options{URL: fx.env.Server.URL, RootJSON: fx.env.RootJSON, ServerCAFile: fx.env.ServerCAFile,
			ClientCertFile: fx.env.ClientCertFile, ClientKeyFile: fx.env.ClientKeyFile})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := mustOpen(t, p, Options{})
		if err := CheckLive(context.Background(), r, c); err != nil {
			t.Fatal(err)
		}
		for _, comp := range r.Components {
			if comp.LiveMatch == nil {
				t.Fatalf("component %s not checked", comp.Name)
			}
		}
		return Verify(r, VerifyOptions{})
	}
	if fs := check(); len(fs) != 0 {
		t.Fatalf("live check of a fresh build: %+v", fs)
	}
	if err := fx.repo.AddTarget("orbit", "linux", "stable", "orbit", []byte("a newer orbit"), "1.41.0"); err != nil {
		t.Fatal(err)
	}
	if err := fx.repo.Publish(); err != nil {
		t.Fatal(err)
	}
	fs := check()
	if !hasCode(fs, "TUF-LIVE-MISMATCH") || len(fs) != 1 || !strings.Contains(fs[0].Subject, "/orbit") {
		t.Errorf("after the server moved on: %+v", fs)
	}
}

// TestOursTamperedAnywhere flips one byte at a time at offsets spread over the
// compressed payload of the tar-based formats (including the last bytes,
// where zstd's frame checksum and gzip's CRC sit): each flip that changes the
// decoded payload must be found.
func TestOursTamperedAnywhere(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range []struct{ typ, arch string }{{packaging.TypeArchZst, "amd64"}, {packaging.TypeDeb, "amd64"}} {
		t.Run(tc.typ, func(t *testing.T) {
			p := fx.build(t, tc.typ, tc.arch, nil, false)
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			start, end := int64(8), st.Size() // pkg.tar.zst: one zstd stream
			if tc.typ == packaging.TypeDeb {
				start, end = debDataMember(t, p)
			}
			offsets := []int64{start, end - 1, end - 3, end - 16, end - 100}
			for k := int64(1); k < 8; k++ {
				offsets = append(offsets, start+(end-start)*k/8)
			}
			checked := 0
			for _, off := range offsets {
				if tc.typ == packaging.TypeArchZst && !zstdFlipMatters(t, p, off) {
					continue // the decoded package is unchanged
				}
				checked++
				fs := Verify(mustOpen(t, tamper(t, p, off), Options{}), VerifyOptions{})
				if !Failed(fs, nil, false) {
					t.Errorf("byte %d of %d flipped: no error found: %+v", off, end, fs)
				}
			}
			if checked < len(offsets)/2 {
				t.Errorf("only %d of %d flips changed the decoded payload", checked, len(offsets))
			}
		})
	}
}

// debDataMember returns where the data.tar.* member of a deb starts and ends
// (its ar padding byte excluded).
func debDataMember(t *testing.T, path string) (start, end int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("data.tar"))
	if i < 0 || i+60 > len(b) {
		t.Fatal("no data.tar member")
	}
	size, err := strconv.ParseInt(strings.TrimSpace(string(b[i+48:i+58])), 10, 64)
	if err != nil {
		t.Fatalf("data.tar member size: %v", err)
	}
	return int64(i + 60), int64(i+60) + size
}

// TestExpiredInCABundle: verify follows package's rule for CA bundles. An
// expired certificate beside a valid one in --fleet-certificate builds with a
// warning, so verify warns too (CERT-EXPIRED-IN-BUNDLE) and passes; once no
// certificate of the bundle is valid, each is an error.
func TestExpiredInCABundle(t *testing.T) {
	fx := newFixture(t)
	old, _, err := fx.ca.IssueClientValidity("old ca", time.Now().AddDate(-2, 0, 0), time.Now().AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(fx.fleetCA)
	if err != nil {
		t.Fatal(err)
	}
	bundle := fx.write(t, "bundle.pem", append(old, ca...))
	p := fx.build(t, packaging.TypeDeb, "amd64", func(o *packaging.Options) { o.FleetCertificate = bundle }, false)
	fs := Verify(mustOpen(t, p, Options{}), VerifyOptions{})
	if !hasCode(fs, "CERT-EXPIRED-IN-BUNDLE") || hasCode(fs, "CERT-EXPIRED") || Failed(fs, nil, false) {
		t.Errorf("want only a CERT-EXPIRED-IN-BUNDLE warning, got %+v", fs)
	}
	later := VerifyOptions{Now: time.Now().AddDate(50, 0, 0)} // the fleet CA has expired too
	if fs := Verify(mustOpen(t, p, Options{}), later); !hasCode(fs, "CERT-EXPIRED") || hasCode(fs, "CERT-EXPIRED-IN-BUNDLE") || !Failed(fs, nil, false) {
		t.Errorf("no valid certificate left: want CERT-EXPIRED errors, got %+v", fs)
	}
}
