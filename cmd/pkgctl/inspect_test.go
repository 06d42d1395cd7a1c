package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/packaging/inspect"
)

var applePkgs = filepath.Join("..", "..", "testdata", "apple-pkg")

func TestNewCmdInspectVerifyDiffFlags(t *testing.T) {
	var io Streams
	var gotI *InspectOptions
	cmd := NewCmdInspect(io, func(o *InspectOptions) error { gotI = o; return nil })
	cmd.SetArgs([]string{"x.msi", "--json", "--show-secrets", "--files", "--ca", "ca.pem", "--gpg-key", "k.asc"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if gotI.File != "x.msi" || !gotI.JSON || !gotI.ShowSecrets || !gotI.Files || gotI.CAFile != "ca.pem" || gotI.GPGKeyFile != "k.asc" {
		t.Errorf("inspect options %+v", gotI)
	}
	var gotV *VerifyOptions
	cmd = NewCmdVerify(io, func(o *VerifyOptions) error { gotV = o; return nil })
	cmd.SetArgs([]string{"x.deb", "--warn-days=7", "--allow", "CERT-EXPIRING", "--allow=MSI-VALIDATION", "--update-url", "https://tuf", "--update-roots", "{}"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if gotV.WarnDays != 7 || len(gotV.Allow) != 2 || gotV.UpdateURL != "https://tuf" || gotV.UpdateRoots != "{}" {
		t.Errorf("verify options %+v", gotV)
	}
	cmd = NewCmdVerify(io, func(o *VerifyOptions) error { gotV = o; return nil })
	gotV = nil
	cmd.SetArgs([]string{"x.deb"})
	if err := cmd.Execute(); err != nil || gotV.WarnDays != 30 {
		t.Errorf("default --warn-days: %v %+v", err, gotV)
	}
	for _, args := range [][]string{{"x.deb", "--warn-days=-1"}, {"x.deb", "--update-roots={}"}, {}} {
		cmd = NewCmdVerify(io, func(o *VerifyOptions) error { return nil })
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); err == nil {
			t.Errorf("verify %v: accepted", args)
		}
	}
	var gotD *DiffOptions
	cmd = NewCmdDiff(io, func(o *DiffOptions) error { gotD = o; return nil })
	cmd.SetArgs([]string{"a.pkg", "b.pkg", "--json"})
	if err := cmd.Execute(); err != nil || gotD.A != "a.pkg" || gotD.B != "b.pkg" || !gotD.JSON {
		t.Errorf("diff: %v %+v", err, gotD)
	}
}

// TestInspectVerifyDiffRun runs the three commands through Execute on Apple's
// packages and a tampered copy.
func TestInspectVerifyDiffRun(t *testing.T) {
	xz, signed := filepath.Join(applePkgs, "XZ.pkg"), filepath.Join(applePkgs, "Product-signed.pkg")
	var out, errOut bytes.Buffer
	if code := Execute([]string{"inspect", "--json", signed}, Streams{Out: &out, ErrOut: &errOut}); code != 0 {
		t.Fatalf("inspect: %d %s", code, errOut.String())
	}
	var r inspect.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Format != "pkg" || len(r.Signatures) != 1 || r.Signatures[0].Kind != "xar-rsa" {
		t.Errorf("report %+v", r)
	}
	out.Reset()
	if code := Execute([]string{"inspect", xz}, Streams{Out: &out, ErrOut: &errOut}); code != 0 || !strings.Contains(out.String(), "org.tukaani.xz") {
		t.Errorf("inspect text: %d\n%s", code, out.String())
	}

	out.Reset()
	if code := Execute([]string{"verify", xz}, Streams{Out: &out, ErrOut: &errOut}); code != 0 || !strings.Contains(out.String(), "sound") {
		t.Errorf("verify XZ.pkg: %d %s %s", code, out.String(), errOut.String())
	}
	// One byte of a member's data changed: exit 1 and the finding named.
	b, _ := os.ReadFile(xz)
	b[20000] ^= 1
	bad := filepath.Join(t.TempDir(), "bad.pkg")
	os.WriteFile(bad, b, 0o600)
	out.Reset()
	errOut.Reset()
	if code := Execute([]string{"verify", "--json", bad}, Streams{Out: &out, ErrOut: &errOut}); code != 1 {
		t.Errorf("verify tampered: exit %d", code)
	}
	var vr inspect.VerifyResult
	if err := json.Unmarshal(out.Bytes(), &vr); err != nil || vr.Sound || len(vr.Findings) == 0 || vr.Findings[0].Code != "PKG-XAR-FILE-CHECKSUM" {
		t.Errorf("verify --json: %v %+v", err, vr)
	}
	out.Reset()
	if code := Execute([]string{"verify", "--allow=PKG-XAR-FILE-CHECKSUM", "--allow=PKG-PAYLOAD-UNREADABLE", "--allow=PKG-BOM-PAYLOAD", bad}, Streams{Out: &out, ErrOut: &errOut}); code != 0 {
		t.Errorf("verify --allow: exit %d\n%s", code, out.String())
	}
	// Not an installer at all.
	junk := filepath.Join(t.TempDir(), "junk.msi")
	os.WriteFile(junk, []byte("not an installer"), 0o600)
	out.Reset()
	if code := Execute([]string{"verify", junk}, Streams{Out: &out, ErrOut: &errOut}); code != 1 || !strings.Contains(out.String(), "READ-FAILED") {
		t.Errorf("verify junk: %d %s", code, out.String())
	}
	if code := Execute([]string{"inspect", filepath.Join(t.TempDir(), "missing.deb")}, Streams{Out: &out, ErrOut: &errOut}); code != 1 {
		t.Errorf("inspect of a missing file: exit %d", code)
	}

	out.Reset()
	if code := Execute([]string{"diff", "--json", xz, signed}, Streams{Out: &out, ErrOut: &errOut}); code != 0 {
		t.Fatalf("diff: %d %s", code, errOut.String())
	}
	var d inspect.Diff
	if err := json.Unmarshal(out.Bytes(), &d); err != nil || len(d.Files) == 0 || len(d.Signatures) != 1 || d.Signatures[0].Change != "added" {
		t.Errorf("diff: %v %+v", err, d.Signatures)
	}
	out.Reset()
	if code := Execute([]string{"diff", xz, xz}, Streams{Out: &out, ErrOut: &errOut}); code != 0 || !strings.Contains(out.String(), "no differences") {
		t.Errorf("diff of a file with itself: %s", out.String())
	}
}

func TestPackageVerifyFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{{nil, false}, {[]string{"--verify"}, true}, {[]string{"--verify=false"}, false}} {
		var got *PackageOptions
		cmd := newCmdPackage(&PackageOptions{Getenv: func(string) (string, bool) { return "", false }}, func(o *PackageOptions) error { got = o; return nil })
		cmd.SetArgs(append([]string{"--type=deb"}, tc.args...))
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if got.Verify != tc.want {
			t.Errorf("%v: Verify = %v", tc.args, got.Verify)
		}
	}
}
