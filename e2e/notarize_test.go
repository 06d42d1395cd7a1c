package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/notary"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

// TestNotarize runs `pkgctl package --type=pkg --notarize` against local
// stubs of Apple's Notary API, S3 and CloudKit, configured as a CI job would
// (FLEETCTL_APP_STORE_CONNECT_* and PKGCTL_NOTARY_* variables): an Accepted
// submission gives a signed, stapled pkg that bsdtar, 7z and our reader still
// read; every failure names its step and Apple's answer and writes nothing.
func TestNotarize(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	bsdtar := needTool(t, "bsdtar", "libarchive-tools")
	sevenZ := needTool(t, "7z", "p7zip-full")
	sg := newPkgSigner(t)
	apple, err := testenv.NewApple()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(apple.Close)
	registerSecret(apple.KeyP8)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDER, _ := x509.MarshalPKCS8PrivateKey(otherKey)
	otherP8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: otherDER})
	registerSecret(otherP8)
	keyFile := writeFile(t, t.TempDir(), "AuthKey_"+apple.KeyID+".p8", apple.KeyP8)

	env := func(p8 []byte) []string {
		return []string{
			"FLEETCTL_APP_STORE_CONNECT_API_KEY_ID=" + apple.KeyID,
			"FLEETCTL_APP_STORE_CONNECT_API_KEY_ISSUER=" + apple.IssuerID,
			"FLEETCTL_APP_STORE_CONNECT_API_KEY_CONTENT=" + string(p8),
			"PKGCTL_NOTARY_API_URL=" + apple.APIURL,
			"PKGCTL_NOTARY_S3_ENDPOINT=" + apple.S3URL,
			"PKGCTL_NOTARY_TICKET_URL=" + apple.TicketURL,
		}
	}
	args := func(extra ...string) []string {
		return append(pkgSpec{Sign: "file"}.args(t, s, sg), append([]string{"--notarize"}, extra...)...)
	}

	// The stub's outcome is global: the cases run one after another.
	t.Run("accepted", func(t *testing.T) {
		apple.SetOutcome(testenv.NotaryAccept)
		r := runPkgctlEnv(t, env(apple.KeyP8), "fleet-osquery.pkg", args()...)
		mustSucceed(t, r)
		if !strings.Contains(r.Stderr, "Accepted; stapling") {
			t.Errorf("no progress on stderr:\n%s", r.Stderr)
		}
		data, _ := os.ReadFile(r.Outfile)
		ticket, err := notary.ReadTicket(bytes.NewReader(data), int64(len(data)))
		if err != nil || ticket == nil {
			t.Fatalf("no stapled ticket: %v", err)
		}
		x, err := xar.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("our reader: %v", err)
		}
		if err := x.Verify(); err != nil {
			t.Errorf("our reader's checksums: %v", err)
		}
		if _, err := x.VerifySignature(nil); err != nil {
			t.Errorf("signature after stapling: %v", err)
		}
		rec, _ := notary.RecordName(x)
		if !bytes.Equal(apple.Ticket(rec), ticket) {
			t.Errorf("stapled ticket is not CloudKit's record %s", rec)
		}
		tool(t, false, bsdtar, "-xf", r.Outfile, "-C", t.TempDir())
		if out, _ := tool(t, false, sevenZ, "t", r.Outfile); !strings.Contains(out, "Everything is Ok") {
			t.Errorf("7z t:\n%s", out)
		}
		verifyInstallers(t, r.OutDir)
		in := runIn(t, r.OutDir, nil, "inspect", "--json", r.Outfile)
		var rep struct {
			Staple *struct {
				Stapled    bool   `json:"stapled"`
				TicketSize int    `json:"ticket_size"`
				Record     string `json:"record"`
			} `json:"staple"`
		}
		if err := json.Unmarshal([]byte(in.Stdout), &rep); err != nil || rep.Staple == nil || !rep.Staple.Stapled ||
			rep.Staple.TicketSize != len(ticket) || rep.Staple.Record != rec {
			t.Errorf("inspect --json staple: %v %+v", err, rep.Staple)
		}
	})
	t.Run("key from a file", func(t *testing.T) {
		e := env(nil)[:2]
		e = append(e, env(nil)[3:]...)
		r := runPkgctlEnv(t, e, "fleet-osquery.pkg", args("--app-store-connect-api-key-file="+keyFile)...)
		mustSucceed(t, r)
	})
	t.Run("invalid", func(t *testing.T) {
		apple.SetOutcome(testenv.NotaryInvalid)
		r := runPkgctlEnv(t, env(apple.KeyP8), "fleet-osquery.pkg", args()...)
		mustFail(t, r, "Invalid", "Archive contains critical validation errors", apple.LogIssue)
	})
	t.Run("stuck", func(t *testing.T) {
		apple.SetOutcome(testenv.NotaryStuck)
		r := runPkgctlEnv(t, env(apple.KeyP8), "fleet-osquery.pkg", args("--notarize-timeout=1s")...)
		mustFail(t, r, "notarize: wait", "In Progress", "--notarize-timeout")
	})
	t.Run("401 bad key", func(t *testing.T) {
		apple.SetOutcome(testenv.NotaryAccept)
		r := runPkgctlEnv(t, env(otherP8), "fleet-osquery.pkg", args()...)
		mustFail(t, r, "notarize: submit", "HTTP 401", "NOT_AUTHORIZED")
		if strings.Contains(r.Stderr+r.Stdout, "eyJ") {
			t.Errorf("a JWT is in the output:\n%s", r.Stderr)
		}
	})
	t.Run("upload failure", func(t *testing.T) {
		apple.FailUploads(403)
		defer apple.FailUploads(0)
		r := runPkgctlEnv(t, env(apple.KeyP8), "fleet-osquery.pkg", args()...)
		mustFail(t, r, "notarize: upload", "AccessDenied")
	})
	t.Run("unsigned is refused before any download", func(t *testing.T) {
		before := apple.Submissions()
		a := append(pkgSpec{}.args(t, s, sg), "--notarize")
		mustFail(t, runPkgctlEnv(t, env(apple.KeyP8), "fleet-osquery.pkg", a...), "--notarize", "--macos-devid-pem")
		if apple.Submissions() != before {
			t.Error("a submission was made")
		}
	})
}
