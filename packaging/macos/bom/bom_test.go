package bom_test

import (
	"github.com/pkgctl/pkgctl/internal/testenv"

	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/packaging/macos/bom"
)

// cksumTool returns what POSIX cksum prints for the file at path.
func cksumTool(t *testing.T, path string) (uint32, int64) {
	t.Helper()
	out, err := exec.Command(testenv.NeedTool(t, "cksum", "coreutils"), path).Output()
	if err != nil {
		t.Fatalf("cksum %s: %v", path, err)
	}
	f := strings.Fields(string(out))
	crc, err1 := strconv.ParseUint(f[0], 10, 32)
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("cksum output %q", out)
	}
	return uint32(crc), size
}

func TestCksumMatchesCoreutils(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 300_001)
	for i := range big {
		big[i] = byte(rng.UintN(256))
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"xz", []byte("xz")}, // 4077045213 in Apple's Bom of XZ.pkg
		{"256", bytes.Repeat([]byte{0xff}, 256)},
		{"random", big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			wantCRC, wantSize := cksumTool(t, p)
			crc, size, err := bom.Cksum(bytes.NewReader(tc.data))
			if err != nil || crc != wantCRC || size != wantSize {
				t.Errorf("Cksum = %d %d %v, cksum prints %d %d", crc, size, err, wantCRC, wantSize)
			}
		})
	}
}

// tree writes a small payload tree to disk and returns its Bom entries, with
// sizes and CRCs taken from the cksum tool (not from our Cksum).
func payloadEntries(t *testing.T, nFiles int) []bom.Entry {
	t.Helper()
	dir := t.TempDir()
	mt := time.Unix(1_700_000_000, 0).UTC()
	entries := []bom.Entry{
		{Path: ".", Mode: 0o40755, GID: 80, ModTime: mt},
		{Path: "./opt", Mode: 0o40755, GID: 80, ModTime: mt},
		{Path: "./opt/orbit", Mode: 0o40755, GID: 80, ModTime: mt},
		{Path: "./opt/orbit/bin", Mode: 0o40755, GID: 80, ModTime: mt},
		{Path: "./opt/orbit/orbit", Mode: 0o120755, GID: 80, ModTime: mt, Linkname: "bin/orbit/macos/stable/orbit"},
		{Path: "./opt/Zeta dir é", Mode: 0o40700, UID: 501, GID: 20, ModTime: mt},
	}
	var paths []string
	for i := range nFiles {
		p := filepath.Join(dir, fmt.Sprintf("file-%04d.txt", i))
		if err := os.WriteFile(p, bytes.Repeat([]byte(p), i%7), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if nFiles == 0 {
		return append(entries, bom.Entry{Path: "./opt/orbit/secret.txt", Mode: bom.UnixMode(0o600), GID: 80, ModTime: mt, Size: 0, Checksum: 4294967295})
	}
	// One cksum run for all files: "CRC SIZE PATH" per line.
	out, err := exec.Command(testenv.NeedTool(t, "cksum", "coreutils"), paths...).Output()
	if err != nil {
		t.Fatalf("cksum: %v", err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		crc, _ := strconv.ParseUint(f[0], 10, 32)
		size, _ := strconv.ParseUint(f[1], 10, 32)
		if f[2] != paths[i] {
			t.Fatalf("cksum line %q for %s", line, paths[i])
		}
		mode := uint16(0o100644)
		if i%3 == 0 {
			mode = 0o100600
		}
		entries = append(entries, bom.Entry{Path: "./opt/orbit/bin/" + filepath.Base(paths[i]), Mode: mode, GID: 80, ModTime: mt, Size: uint32(size), Checksum: uint32(crc)})
	}
	entries = append(entries, bom.Entry{Path: "./opt/orbit/secret.txt", Mode: bom.UnixMode(0o600), GID: 80, ModTime: mt, Size: 0, Checksum: 4294967295})
	return entries
}

func TestWriteReadRoundTrip(t *testing.T) {
	for _, n := range []int{0, 3, 300, 1200} { // 300 and 1200 need several leaf pages
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			in := payloadEntries(t, n)
			var buf bytes.Buffer
			if err := bom.Write(&buf, in); err != nil {
				t.Fatal(err)
			}
			out, err := bom.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(in) {
				t.Fatalf("read %d entries, wrote %d", len(out), len(in))
			}
			byPath := map[string]bom.Entry{}
			for _, e := range in {
				byPath[e.Path] = e
			}
			for _, got := range out {
				want, ok := byPath[got.Path]
				if !ok {
					t.Errorf("read unknown path %q", got.Path)
					continue
				}
				if want.Kind == 0 {
					want.Kind = map[uint16]bom.Kind{0o040000: bom.Dir, 0o100000: bom.File, 0o120000: bom.Symlink}[want.Mode&0o170000]
				}
				if want.Kind == bom.Symlink {
					want.Size = uint32(len(want.Linkname))
					crc, _, _ := bom.Cksum(strings.NewReader(want.Linkname))
					want.Checksum = crc
				}
				if got != want {
					t.Errorf("entry %s:\n got %+v\nwant %+v", got.Path, got, want)
				}
			}
			// Leaf order: parents before children, siblings sorted by byte.
			if out[0].Path != "." || out[1].Path != "./opt" {
				t.Errorf("first entries %q %q, want . and ./opt", out[0].Path, out[1].Path)
			}
			if n == 3 {
				var l bytes.Buffer
				bom.Lsbom(&l, out)
				want := ".\t40755\t0/80\t\n./opt\t40755\t0/80\t\n./opt/Zeta dir é\t40700\t501/20\t\n./opt/orbit\t40755\t0/80\t\n"
				if !strings.HasPrefix(l.String(), want) {
					t.Errorf("listing starts\n%s\nwant\n%s", l.String(), want)
				}
				if !strings.Contains(l.String(), "./opt/orbit/orbit\t120755\t0/80\t28\t") {
					t.Errorf("symlink line missing from\n%s", l.String())
				}
			}
			checkLayout(t, buf.Bytes())
		})
	}
}

// checkLayout checks the store-level facts Installer depends on: blocks lie
// after the header, inside the file, never overlapping each other, the block
// table or the vars; tree pages are full length.
func checkLayout(t *testing.T, b []byte) {
	t.Helper()
	u32 := func(o uint32) uint32 {
		return uint32(b[o])<<24 | uint32(b[o+1])<<16 | uint32(b[o+2])<<8 | uint32(b[o+3])
	}
	idxOff, idxLen, varsOff, varsLen := u32(16), u32(20), u32(24), u32(28)
	type span struct{ a, l uint32 }
	spans := []span{{0, 512}, {idxOff, idxLen}, {varsOff, varsLen}}
	n := u32(idxOff)
	nonNull := uint32(0)
	for i := uint32(1); i < n; i++ {
		a, l := u32(idxOff+4+8*i), u32(idxOff+8+8*i)
		if a == 0 && l == 0 {
			continue
		}
		nonNull++
		if string(b[a:a+min(l, 4)]) == "tree" {
			child, ps := u32(a+8), u32(a+12)
			if pl := u32(idxOff + 8 + 8*child); pl != ps {
				t.Errorf("tree block %d: page %d is %d bytes, page size %d", i, child, pl, ps)
			}
		}
		spans = append(spans, span{a, l})
	}
	if got := u32(12); got != nonNull {
		t.Errorf("header block count %d, table has %d non-null", got, nonNull)
	}
	if uint64(idxOff)+uint64(idxLen) != uint64(len(b)) {
		t.Errorf("block table ends at %d, file at %d", idxOff+idxLen, len(b))
	}
	for i, s := range spans {
		if uint64(s.a)+uint64(s.l) > uint64(len(b)) {
			t.Errorf("span %d (%d+%d) outside the file", i, s.a, s.l)
		}
		for j, o := range spans[:i] {
			if s.a < o.a+o.l && o.a < s.a+s.l {
				t.Errorf("span %d (%d+%d) overlaps span %d (%d+%d)", i, s.a, s.l, j, o.a, o.l)
			}
		}
	}
}

func TestWriteIsReproducible(t *testing.T) {
	in := payloadEntries(t, 40)
	var a, b bytes.Buffer
	if err := bom.Write(&a, in); err != nil {
		t.Fatal(err)
	}
	rev := append([]bom.Entry(nil), in...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if err := bom.Write(&b, rev); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same entries in another order gave different bytes")
	}
}

func TestWriteRejects(t *testing.T) {
	root := bom.Entry{Path: ".", Mode: 0o40755}
	for _, tc := range []struct {
		name    string
		entries []bom.Entry
		want    string
	}{
		{"no root", []bom.Entry{{Path: "./a", Mode: 0o40755}}, "root"},
		{"missing parent", []bom.Entry{root, {Path: "./a/b", Mode: 0o100644}}, "parent ./a is not listed"},
		{"absolute", []bom.Entry{root, {Path: "/etc", Mode: 0o40755}}, "invalid path"},
		{"dotdot", []bom.Entry{root, {Path: "./../x", Mode: 0o40755}}, "invalid path"},
		{"unclean", []bom.Entry{root, {Path: "./a//b", Mode: 0o40755}}, "invalid path"},
		{"duplicate", []bom.Entry{root, root}, "duplicate"},
		{"no type", []bom.Entry{root, {Path: "./x", Mode: 0o644}}, "file type"},
		{"file parent", []bom.Entry{root, {Path: "./f", Mode: 0o100644}, {Path: "./f/x", Mode: 0o100644}}, "not a directory"},
		{"link without target", []bom.Entry{root, {Path: "./l", Mode: 0o120755}}, "target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := bom.Write(&bytes.Buffer{}, tc.entries)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestReadRejectsTruncated(t *testing.T) {
	var buf bytes.Buffer
	if err := bom.Write(&buf, payloadEntries(t, 5)); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	for _, n := range []int{0, 10, 600, len(b) - 1} {
		if _, err := bom.Read(bytes.NewReader(b[:n]), int64(n)); err == nil {
			t.Errorf("Read of the first %d of %d bytes succeeded", n, len(b))
		}
	}
}

func TestLsbomTypesByModeWithoutKind(t *testing.T) {
	var b bytes.Buffer
	bom.Lsbom(&b, []bom.Entry{
		{Path: ".", Mode: 0o40755, GID: 80},
		{Path: "./f", Mode: 0o100600, Size: 2, Checksum: 7},
		{Path: "./l", Mode: 0o120755, Size: 1, Checksum: 9, Linkname: "f"},
	})
	want := ".\t40755\t0/80\t\n./f\t100600\t0/0\t2\t7\t\n./l\t120755\t0/0\t1\t9\tf\t\n"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
}
