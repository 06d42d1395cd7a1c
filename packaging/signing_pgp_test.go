package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

func TestLoadPGPSigner(t *testing.T) {
	created := time.Unix(1_700_000_000, 0)
	at := created.Add(24 * time.Hour)
	dir := t.TempDir()
	key := func(algo, pass string) *testenv.PGPKey {
		k, err := testenv.NewPGPKey(algo, pass, created)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o600)
		return p
	}
	rsaKey, edKey, ecKey, locked := key("rsa", ""), key("ed25519", ""), key("ecdsa", ""), key("rsa", "s3cret-pass")
	for _, tc := range []struct {
		name, file, pass string
		at               time.Time
		want             string // "" = success
	}{
		{"rsa", file("rsa.asc", rsaKey.Private), "", at, ""},
		{"ed25519", file("ed.asc", edKey.Private), "", at, ""},
		{"passphrase", file("locked.asc", locked.Private), "s3cret-pass", at, ""},
		{"wrong passphrase", file("locked.asc", locked.Private), "nope", at, "wrong passphrase"},
		{"no passphrase", file("locked.asc", locked.Private), "", at, "PKGCTL_LINUX_SIGN_PASSPHRASE"},
		{"ecdsa", file("ec.asc", ecKey.Private), "", at, "algorithm 19"},
		{"public key", file("pub.asc", rsaKey.Public), "", at, "not an OpenPGP private key"},
		{"PEM key", file("k.pem", []byte("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")), "", at, "not an ASCII-armored OpenPGP key"},
		{"two keys", file("two.asc", append(append([]byte{}, rsaKey.Private...), edKey.Private...)), "", at, "2 armored blocks"},
		{"SOURCE_DATE_EPOCH before the key", file("rsa.asc", rsaKey.Private), "", created.Add(-time.Hour), "created after SOURCE_DATE_EPOCH"},
		{"missing", filepath.Join(dir, "none.asc"), "", at, "read --linux-sign-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadPGPSigner(tc.file, tc.pass, tc.at)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--linux-sign-key") {
					t.Fatalf("err = %v, want one with %q", err, tc.want)
				}
				if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "nope") {
					t.Errorf("the passphrase is in the error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Signatures are made at the fixed time, verify with the public key
			// and are reproducible.
			sig1, err := s.Sign(strings.NewReader("package bytes"), false)
			if err != nil {
				t.Fatal(err)
			}
			sig2, _ := s.Sign(strings.NewReader("package bytes"), false)
			if !bytes.Equal(sig1, sig2) {
				t.Error("two signatures of the same bytes differ")
			}
			ring, _ := openpgp.ReadArmoredKeyRing(bytes.NewReader(rsaKey.Public))
			if tc.name == "ed25519" {
				ring, _ = openpgp.ReadArmoredKeyRing(bytes.NewReader(edKey.Public))
			}
			if tc.name == "passphrase" {
				ring, _ = openpgp.ReadArmoredKeyRing(bytes.NewReader(locked.Public))
			}
			if _, err := openpgp.CheckDetachedSignature(ring, strings.NewReader("package bytes"), bytes.NewReader(sig1), nil); err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
		})
	}
}

// TestValidateLinuxSignKey: the key is checked before any download, and only for Linux types.
func TestValidateLinuxSignKey(t *testing.T) {
	k, err := testenv.NewPGPKey("rsa", "pw", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "k.asc")
	os.WriteFile(p, k.Private, 0o600)
	t.Setenv(LinuxSignPassphraseEnv, "wrong")
	t.Setenv("SOURCE_DATE_EPOCH", "")
	_, err = (&Options{Type: TypeRPM, LinuxSignKey: p}).WithDefaults().Validate()
	if fe, ok := err.(*FlagError); !ok || fe.Flag != "linux-sign-key" || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("err = %v", err)
	}
	w, err := (&Options{Type: TypeMSI, LinuxSignKey: p}).WithDefaults().Validate()
	if err != nil || !strings.Contains(strings.Join(w, "\n"), "--linux-sign-key has no effect") {
		t.Fatalf("msi: %v %v", w, err)
	}
}
