package inspect

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/pkgctl/pkgctl/internal/flagfile"
)

// Options control what Open reads and checks.
type Options struct {
	// ShowSecrets leaves enroll secrets, tokens and passwords unmasked.
	ShowSecrets bool
	// Roots, when set, is the CA pool signature chains must lead to (--ca).
	Roots *x509.CertPool
	// Keyring, when set, holds the OpenPGP keys deb/rpm signatures must
	// verify with (--gpg-key).
	Keyring openpgp.EntityList
	// Now is the time certificates are checked against; zero means now.
	Now time.Time
}

type reader func(f *os.File, size int64, opt Options) (*contents, error)

// detect names the format of the file from its first bytes.
func detect(head []byte) (string, reader, error) {
	switch {
	case bytes.HasPrefix(head, []byte("!<arch>\n")):
		return "deb", readDeb, nil
	case bytes.HasPrefix(head, []byte{0xed, 0xab, 0xee, 0xdb}):
		return "rpm", readRpm, nil
	case bytes.HasPrefix(head, []byte("xar!")):
		return "pkg", readPkg, nil
	case bytes.HasPrefix(head, []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}):
		return "msi", readMSI, nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}), bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "pkg.tar.zst", readArch, nil
	}
	return "", nil, errors.New("not a .deb, .rpm, .pkg.tar.zst, .pkg or .msi (unknown magic bytes)")
}

// Open reads the installer at path into a Report. Problems in the file's
// structure are Findings of the report; an error means it could not be read
// as any installer.
func Open(path string, opt Options) (*Report, error) {
	// A FIFO would block os.Open forever: flagfile.Open refuses it at once.
	f, st, err := flagfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 8)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, fmt.Errorf("%s: too short to be an installer", path)
	}
	_, read, err := detect(head)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	h := sha256.New()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c, err := read(f, st.Size(), opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	r := &Report{
		SchemaVersion: SchemaVersion, File: filepath.Base(path), Size: st.Size(), SHA256: hex.EncodeToString(h.Sum(nil)),
		Format: c.format, Arch: c.arch, Name: c.name, Version: c.version, Identifiers: c.ids,
		Scripts: c.scripts, Signatures: c.sigs, Staple: c.staple, Findings: c.findings, raw: c,
	}
	analyze(r, c, opt)
	return r, nil
}
