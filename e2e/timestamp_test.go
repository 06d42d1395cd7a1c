package e2e

import (
	"bytes"
	"encoding/asn1"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

// TestPkgTimestamped: --macos-sign-timestamp-url puts an RFC 3161 token in the
// pkg's CMS signature (openssl prints it), the pkg still reads with bsdtar and
// 7z; a TSA that is down fails the build, naming it, and leaves no file.
func TestPkgTimestamped(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	openssl := needTool(t, "openssl", "openssl")
	bsdtar := needTool(t, "bsdtar", "libarchive-tools")
	sevenZ := needTool(t, "7z", "p7zip-full")
	sg := newPkgSigner(t)
	tsa := testenv.NewTSATB(t)
	args := append(pkgSpec{Sign: "file"}.args(t, s, sg), "--macos-sign-timestamp-url="+tsa.URL)
	r := runPkgctl(t, "fleet-osquery.pkg", args...)
	mustSucceed(t, r)
	data, err := os.ReadFile(r.Outfile)
	if err != nil {
		t.Fatal(err)
	}
	x, err := xar.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil || x.XSignature == nil {
		t.Fatalf("open the pkg: %v (x-signature %v)", err, x != nil && x.XSignature != nil)
	}
	var cms asn1.RawValue
	if _, err := asn1.Unmarshal(x.XSignature.Data, &cms); err != nil {
		t.Fatal(err)
	}
	cmsFile := writeFile(t, t.TempDir(), "cms.der", cms.FullBytes)
	out, _ := tool(t, false, openssl, "cms", "-cmsout", "-print", "-inform", "DER", "-in", cmsFile)
	if !strings.Contains(out, "id-smime-aa-timeStampToken") {
		t.Errorf("openssl finds no time-stamp token in the CMS signature:\n%s", out)
	}
	if tsa.Requests() != 1 {
		t.Errorf("%d requests to the TSA, want 1", tsa.Requests())
	}
	tool(t, false, bsdtar, "-tf", r.Outfile)
	if out, _ := tool(t, false, sevenZ, "l", r.Outfile); !strings.Contains(out, "base.pkg/Payload") {
		t.Errorf("7z l:\n%s", out)
	}

	down := testenv.NewTSATB(t)
	down.FailNext(503, 503, 503, 503)
	args = append(pkgSpec{Sign: "file"}.args(t, s, sg), "--macos-sign-timestamp-url="+down.URL)
	mustFail(t, runPkgctl(t, "fleet-osquery.pkg", args...), "timestamp server "+down.URL, "HTTP 503")
}

// TestMSITimestamped: the time-stamping server comes from the environment
// (PKGCTL_WINDOWS_SIGN_TIMESTAMP_URL; config files take the flag name) and
// osslsigncode verifies the countersignature.
func TestMSITimestamped(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	osslsigncode := needTool(t, "osslsigncode", "osslsigncode")
	dir := t.TempDir()
	caFile, certFile, keyFile, _ := codeSigningIdentity(t, dir)
	tsa := testenv.NewTSATB(t)
	tsaCA := writeFile(t, dir, "tsa-ca.pem", tsa.CA.CertPEM)
	args := append(msiArgs(t, s, s.Env, s.Nginx.URL, "amd64", "stable", s.EnrollSecret, fleetURL),
		"--windows-sign-certificate="+certFile, "--windows-sign-key="+keyFile)
	r := runPkgctlEnv(t, []string{"PKGCTL_WINDOWS_SIGN_TIMESTAMP_URL=" + tsa.URL}, "signed.msi", args...)
	mustSucceed(t, r)
	out, err := tool(t, true, osslsigncode, "verify", "-CAfile", caFile, "-TSA-CAfile", tsaCA, "-in", r.Outfile)
	if err != nil || !strings.Contains(out, "Timestamp Server Signature verification: ok") {
		t.Fatalf("osslsigncode verify: %v\n%s", err, out)
	}
	// A bad URL is refused before any download.
	r = runPkgctl(t, "bad.msi", append(args, "--windows-sign-timestamp-url=ftp://tsa.example.com")...)
	mustFail(t, r, "--windows-sign-timestamp-url")
	if _, err := os.Stat(filepath.Join(r.OutDir, "bad.msi")); err == nil {
		t.Error("bad.msi written")
	}
}
