package rpmpayload

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm"
	"github.com/klauspost/compress/gzip"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

// buildRPM builds a small rpm with nfpm, as packaging/linux does: a file, a
// config file, a directory and a symlink.
func buildRPM(t *testing.T, sign SignFunc) []byte {
	t.Helper()
	return buildRPMWith(t, sign, "gzip:6")
}

// buildRPMWith builds the test rpm with nfpm's payload compression comp.
func buildRPMWith(t *testing.T, sign SignFunc, comp string) []byte {
	t.Helper()
	rpm, _ := buildRPMBodies(t, sign, comp, false)
	return rpm
}

// buildRPMBodies builds the test rpm; with empty, its regular files are
// built empty and their contents returned as Bodies.
func buildRPMBodies(t *testing.T, sign SignFunc, comp string, empty bool) ([]byte, map[string]Body) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "agent")
	if err := os.WriteFile(src, bytes.Repeat([]byte("agent body\n"), 1000), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "conf")
	if err := os.WriteFile(conf, []byte("KEY=value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var bodies map[string]Body
	if empty {
		placeholder := filepath.Join(dir, "empty")
		if err := os.WriteFile(placeholder, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		bodies = map[string]Body{"/opt/test/bin/agent": {Path: src, Size: 11000}, "/etc/default/test": {Path: conf, Size: 10}}
		src, conf = placeholder, placeholder
	}
	mtime := time.Unix(1700000000, 0)
	info := nfpm.WithDefaults(&nfpm.Info{
		Name: "rpmpayload-test", Arch: "amd64", Platform: "linux", Version: "1.2.3",
		Maintainer: "pkgctl", Description: "test package", Vendor: "pkgctl", License: "MIT",
		Homepage: "https://example.com", MTime: mtime,
		Overridables: nfpm.Overridables{Contents: files.Contents{
			{Source: src, Destination: "/opt/test/bin/agent", Type: files.TypeFile, FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: mtime}},
			{Source: conf, Destination: "/etc/default/test", Type: files.TypeConfigNoReplace, FileInfo: &files.ContentFileInfo{Mode: 0o600, MTime: mtime}},
			{Destination: "/opt/test/run", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o700, MTime: mtime}},
			{Source: "/opt/test/bin/agent", Destination: "/usr/local/bin/test-agent", Type: files.TypeSymlink},
		}},
	})
	info.RPM.Compression = comp
	info.RPM.BuildHost = "pkgctl"
	if sign != nil {
		info.RPM.Signature.SignFn = sign
	}
	np, err := nfpm.Get("rpm")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := np.Package(info, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), bodies
}

// payloadNames lists the cpio member names of rpm's payload with our reader.
func payloadNames(t *testing.T, rpm []byte) []string {
	t.Helper()
	sig, err := parseHeader(rpm[leadSize:])
	if err != nil {
		t.Fatal(err)
	}
	start := leadSize + sig.size + (8-sig.size%8)%8
	main, err := parseHeader(rpm[start:])
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(rpm[start+main.size:]))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	record := func(s string) string { names = append(names, s); return s }
	if err := rewriteCpioWith(io.Discard, bufio.NewReader(zr), record, nil); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestHeaderRoundTrip(t *testing.T) {
	rpm := buildRPM(t, nil)
	sig, err := parseHeader(rpm[leadSize:])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sig.bytes(), rpm[leadSize:leadSize+sig.size]; !bytes.Equal(got, want) {
		t.Errorf("signature header re-serialized differs:\n%x\n%x", got, want)
	}
	start := leadSize + sig.size + (8-sig.size%8)%8
	main, err := parseHeader(rpm[start:])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := main.bytes(), rpm[start:start+main.size]; !bytes.Equal(got, want) {
		t.Error("main header re-serialized differs")
	}
}

func TestRelativize(t *testing.T) {
	in := buildRPM(t, nil)
	before := payloadNames(t, in)
	if len(before) == 0 || !strings.HasPrefix(before[0], "/") {
		t.Fatalf("nfpm's payload names are %q: this test expects absolute ones", before)
	}
	out, err := Relativize(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	after := payloadNames(t, out)
	if len(after) != len(before) {
		t.Fatalf("names %q, were %q", after, before)
	}
	for i, n := range after {
		want := "." + before[i]
		if before[i] == trailerName {
			want = trailerName
		}
		if n != want {
			t.Errorf("member %d: %q, want %q", i, n, want)
		}
	}

	// Our own check of what rpm -K checks: the digests match the new bytes.
	sig, _ := parseHeader(out[leadSize:])
	start := leadSize + sig.size + (8-sig.size%8)%8
	main, _ := parseHeader(out[start:])
	hdr, payload := out[start:start+main.size], out[start+main.size:]
	hs := sha256.Sum256(hdr)
	if got := strings.TrimRight(string(sig.get(sigSHA256).data), "\x00"); got != hex.EncodeToString(hs[:]) {
		t.Errorf("header SHA-256 %s, want %x", got, hs)
	}
	if err := flatecheck.CheckGzip(bytes.NewReader(payload)); err != nil {
		t.Errorf("payload deflate: %v", err)
	}
	ps := sha256.Sum256(payload)
	if got := strings.TrimRight(string(main.get(tagPayloadDigest).data), "\x00"); got != hex.EncodeToString(ps[:]) {
		t.Errorf("payload digest %s, want %x", got, ps)
	}

	// Deterministic, and a second pass changes nothing.
	again, err := Relativize(in, nil)
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("two rewrites differ (%v)", err)
	}
	if twice, err := Relativize(out, nil); err != nil || !bytes.Equal(twice, out) {
		t.Errorf("rewriting a rewritten rpm changed it (%v)", err)
	}

	// Independent tools: rpm's digests, rpm2cpio's archive, cpio's listing.
	file := filepath.Join(t.TempDir(), "x.rpm")
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	rpmBin := testenv.NeedTool(t, "rpm", "rpm")
	if o, err := testenv.Command(rpmBin, "-K", file).CombinedOutput(); err != nil || !strings.Contains(string(o), "digests OK") {
		t.Errorf("rpm -K: %v\n%s", err, o)
	}
	rpm2cpio := testenv.NeedTool(t, "rpm2cpio", "rpm")
	cpioBin := testenv.NeedTool(t, "cpio", "cpio")
	archive, err := testenv.Command(rpm2cpio, file).Output()
	if err != nil {
		t.Fatalf("rpm2cpio: %v", err)
	}
	list := testenv.Command(cpioBin, "-t", "--quiet")
	list.Stdin = bytes.NewReader(archive)
	o, err := list.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	want := []string{"./etc/default/test", "./opt/test/bin/agent", "./opt/test/run", "./usr/local/bin/test-agent"}
	if got := strings.Fields(string(o)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cpio -t: %q, want %q", got, want)
	}
}

func TestRelativizeSigned(t *testing.T) {
	ent, err := openpgp.NewEntity("pkgctl test", "", "test@example.com", &packet.Config{DefaultHash: crypto.SHA256, RSABits: 2048, Algorithm: packet.PubKeyAlgoRSA})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(r io.Reader) ([]byte, error) {
		var b bytes.Buffer
		err := openpgp.DetachSign(&b, ent, r, &packet.Config{DefaultHash: crypto.SHA256})
		return b.Bytes(), err
	}
	signed := buildRPM(t, sign)
	if _, err := Relativize(signed, nil); !errors.Is(err, ErrSigned) {
		t.Fatalf("signed rpm without a signer: %v, want ErrSigned", err)
	}
	out, err := Relativize(buildRPM(t, nil), sign)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range payloadNames(t, out)[:1] {
		if !strings.HasPrefix(n, "./") {
			t.Errorf("member %q", n)
		}
	}

	// rpm checks both signatures against the key in a private database.
	dir := t.TempDir()
	var pub bytes.Buffer
	aw, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ent.Serialize(aw); err != nil {
		t.Fatal(err)
	}
	aw.Close()
	keyFile := filepath.Join(dir, "key.asc")
	file := filepath.Join(dir, "x.rpm")
	if err := os.WriteFile(keyFile, pub.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	rpmBin := testenv.NeedTool(t, "rpm", "rpm")
	db := filepath.Join(dir, "db")
	if o, err := testenv.Command(rpmBin, "--dbpath", db, "--import", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("rpm --import: %v\n%s", err, o)
	}
	o, err := testenv.Command(rpmBin, "--dbpath", db, "-Kv", file).CombinedOutput()
	t.Logf("rpm -Kv:\n%s", o)
	if err != nil || strings.Contains(string(o), "NOT OK") || strings.Count(string(o), "Signature, key ID") < 2 {
		t.Errorf("rpm -Kv of the re-signed rpm: %v\n%s", err, o)
	}
	// One changed payload byte must break the checks.
	bad := bytes.Clone(out)
	bad[len(bad)-10] ^= 1
	if err := os.WriteFile(file, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := testenv.Command(rpmBin, "--dbpath", db, "-K", file).CombinedOutput(); err == nil {
		t.Errorf("rpm -K accepted a changed payload:\n%s", o)
	}
}

func TestRelativizeRefuses(t *testing.T) {
	good := buildRPM(t, nil)
	for name, b := range map[string][]byte{
		"empty":          nil,
		"no lead":        bytes.Repeat([]byte{0}, 200),
		"truncated":      good[:leadSize+20],
		"cut payload":    good[:len(good)-40],
		"garbled header": append(append(bytes.Clone(good[:leadSize]), 0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), good[leadSize+12:]...),
	} {
		if _, err := Relativize(b, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRewriteZstd: an rpm nfpm wrote with a zstd payload (pkgctl's fast
// first pass) comes out byte-identical to the one it wrote with gzip: the
// payload is gzipped again and the compressor tag says gzip.
func TestRewriteZstd(t *testing.T) {
	want, err := Relativize(buildRPMWith(t, nil, "gzip:6"), nil)
	if err != nil {
		t.Fatal(err)
	}
	in := buildRPMWith(t, nil, "zstd:fastest")
	if bytes.Contains(in, []byte("gzip\x00")) || !bytes.Contains(in, []byte("zstd\x00")) {
		t.Fatal("nfpm's zstd rpm does not name zstd as its compressor")
	}
	var out bytes.Buffer
	if err := Rewrite(&out, bytes.NewReader(in), Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("rewritten zstd rpm (%d bytes) differs from the rewritten gzip one (%d bytes)", out.Len(), len(want))
	}
	if bytes.Contains(out.Bytes(), []byte("zstd\x00")) {
		t.Error("the rewritten rpm still names zstd")
	}
}

// TestRewriteBodies: an rpm nfpm built from empty files, rewritten with
// their contents as Bodies, is byte for byte the rpm it builds from the
// files themselves, rewritten; a Body the payload has no empty file for,
// or whose file changed size, is an error.
func TestRewriteBodies(t *testing.T) {
	want, err := Relativize(buildRPM(t, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	in, bodies := buildRPMBodies(t, nil, "zstd:fastest", true)
	var out bytes.Buffer
	if err := Rewrite(&out, bytes.NewReader(in), Options{Bodies: bodies}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("rpm rewritten from empty files (%d bytes) differs from the one built with the files (%d bytes)", out.Len(), len(want))
	}
	for name, mod := range map[string]func(map[string]Body){
		"unknown file": func(b map[string]Body) { b["/opt/test/bin/other"] = Body{Path: b["/etc/default/test"].Path, Size: 10} },
		"changed size": func(b map[string]Body) { b["/etc/default/test"] = Body{Path: b["/etc/default/test"].Path, Size: 11} },
	} {
		b := maps.Clone(bodies)
		mod(b)
		if err := Rewrite(io.Discard, bytes.NewReader(in), Options{Bodies: b}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
