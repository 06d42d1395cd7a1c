package cfb

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/sassoftware/relic/v7/lib/comdoc"
)

// olefileScript lists every stream of a compound file with its size and
// sha256, as python3-olefile reads them.
const olefileScript = `
import sys, json, hashlib, olefile
ole = olefile.OleFileIO(sys.argv[1], raise_defects=olefile.DEFECT_INCORRECT)
out = {}
for path in ole.listdir(streams=True, storages=False):
    name = "/".join(path)
    data = ole.openstream(path).read()
    out[name] = [len(data), hashlib.sha256(data).hexdigest()]
print(json.dumps({"streams": out, "clsid": ole.root.clsid}))
`

func needOlefile(t testing.TB) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import olefile").Run(); err != nil {
		t.Fatalf("/usr/bin/python3 with olefile is required (Debian package python3-olefile; run .ci/deps): %v", err)
	}
}

func olefileList(t *testing.T, path string) (map[string][2]any, string) {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", olefileScript, path).CombinedOutput()
	if err != nil {
		t.Fatalf("olefile could not read %s: %v\n%s", path, err, out)
	}
	var res struct {
		Streams map[string][2]any
		CLSID   string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("olefile output %q: %v", out, err)
	}
	return res.Streams, res.CLSID
}

func randBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func build(t testing.TB, streams map[string][]byte, order []string) []byte {
	t.Helper()
	w := NewWriter(MSIDatabaseCLSID)
	for _, n := range order {
		if err := w.AddBytes(n, streams[n]); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

func TestWriteReadOlefile(t *testing.T) {
	needOlefile(t)
	tests := []struct {
		name    string
		streams func() ([]string, map[string][]byte)
	}{
		{"few small and one empty", func() ([]string, map[string][]byte) {
			m := map[string][]byte{"\x05SummaryInformation": randBytes(1, 400), "a": {1}, "Empty": {}, "b": randBytes(2, 4095)}
			return []string{"\x05SummaryInformation", "a", "Empty", "b"}, m
		}},
		{"many small streams (mini stream over several sectors)", func() ([]string, map[string][]byte) {
			m := map[string][]byte{}
			var order []string
			for i := 0; i < 300; i++ {
				n := fmt.Sprintf("s%03d", i)
				m[n] = randBytes(int64(i), (i*37)%4000)
				order = append(order, n)
			}
			return order, m
		}},
		{"big stream needing a DIFAT", func() ([]string, map[string][]byte) {
			// 7.5 MB = 15360 sectors = 120 FAT sectors > 109 in the header.
			m := map[string][]byte{"big": randBytes(9, 7_500_000), "small": randBytes(10, 100), "exact": randBytes(11, 4096)}
			return []string{"big", "small", "exact"}, m
		}},
		{"two DIFAT sectors", func() ([]string, map[string][]byte) {
			// 17 MB = 33204 sectors = 260 FAT sectors = 109 + 127 + 24.
			m := map[string][]byte{"huge": randBytes(12, 17_000_000), "s": randBytes(13, 10)}
			return []string{"huge", "s"}, m
		}},
		{"only big streams (mini stream kept non-empty)", func() ([]string, map[string][]byte) {
			m := map[string][]byte{"x": randBytes(3, 5000), "y": randBytes(4, 70000)}
			return []string{"x", "y"}, m
		}},
		{"MSI-style names", func() ([]string, map[string][]byte) {
			n1 := string(utf16.Decode([]uint16{0x4840, 0x3f7f, 0x4164, 0x422f, 0x4836}))
			n2 := string(utf16.Decode([]uint16{0x4840, 0x3b3f, 0x43f2, 0x4438, 0x45b1}))
			m := map[string][]byte{n1: randBytes(5, 10), n2: randBytes(6, 20), "zz": randBytes(7, 30)}
			return []string{n1, n2, "zz"}, m
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order, streams := tt.streams()
			data := build(t, streams, order)
			path := filepath.Join(t.TempDir(), "x.cfb")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, clsid := olefileList(t, path)
			if clsid != "000C1084-0000-0000-C000-000000000046" {
				t.Errorf("olefile root clsid %q", clsid)
			}
			if len(got) != len(streams) {
				t.Errorf("olefile sees %d streams, want %d", len(got), len(streams))
			}
			for n, b := range streams {
				g, ok := got[n]
				if !ok {
					t.Errorf("olefile misses stream %q", n)
					continue
				}
				if int(g[0].(float64)) != len(b) || g[1].(string) != sum(b) {
					t.Errorf("stream %q: olefile reads %v bytes sha %v, want %d %s", n, g[0], g[1], len(b), sum(b))
				}
			}

			r, err := Open(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Streams()) != len(streams) {
				t.Errorf("reader sees %d streams, want %d", len(r.Streams()), len(streams))
			}
			for n, b := range streams {
				g, err := r.ReadStream(n)
				if err != nil {
					t.Error(err)
					continue
				}
				if !bytes.Equal(g, b) {
					t.Errorf("reader: stream %q differs", n)
				}
			}
			if again := build(t, streams, order); !bytes.Equal(again, data) {
				t.Error("same streams gave different bytes")
			}
		})
	}
}

func TestStreamingDoesNotHoldData(t *testing.T) {
	// A stream that is produced on the fly: the writer must copy it, and
	// complain when it is shorter or longer than declared.
	for _, tc := range []struct {
		declared, real int64
		wantErr        string
	}{
		{1 << 20, 1 << 20, ""},
		{1 << 20, 1<<20 - 1, "gave"},
		{5000, 5001, "longer"},
	} {
		w := NewWriter(CLSID{})
		w.Add("gen", tc.declared, func() (io.ReadCloser, error) {
			return io.NopCloser(io.LimitReader(zeroReader{}, tc.real)), nil
		})
		_, err := w.WriteTo(io.Discard)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("declared %d real %d: err %v, want %q", tc.declared, tc.real, err, tc.wantErr)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestAddErrors(t *testing.T) {
	w := NewWriter(CLSID{})
	ok := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil }
	if err := w.Add("abc", 0, ok); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		size int64
		want string
	}{
		{"", 0, "empty"},
		{strings.Repeat("x", 32), 0, "limit is 31"},
		{"ABC", 0, "duplicate"},
		{"a/b", 0, "forbidden"},
		{"neg", -1, "out of range"},
	} {
		err := w.Add(tc.name, tc.size, ok)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add(%q, %d) = %v, want error containing %q", tc.name, tc.size, err, tc.want)
		}
	}
}

func TestCompareNames(t *testing.T) {
	u := func(s string) []uint16 { return utf16.Encode([]rune(s)) }
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"b", "aa", -1}, // shorter first
		{"abc", "ABD", -1},
		{"abc", "ABC", 0},
		{"Z", "a", 1},
	} {
		if got := compareNames(u(tc.a), u(tc.b)); got != tc.want {
			t.Errorf("compareNames(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func BenchmarkWriter200MB(b *testing.B) {
	const size = 200 << 20
	b.SetBytes(size)
	for i := 0; i < b.N; i++ {
		w := NewWriter(MSIDatabaseCLSID)
		w.AddBytes("small", []byte("hello"))
		w.Add("big", size, func() (io.ReadCloser, error) {
			return io.NopCloser(io.LimitReader(zeroReader{}, size)), nil
		})
		if _, err := w.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRelicComdocAddsStreams does what MSI signing does: relic's comdoc
// opens our file read-write and adds small and large streams; olefile must
// still read everything.
func TestRelicComdocAddsStreams(t *testing.T) {
	needOlefile(t)
	for _, tc := range []struct {
		name  string
		order []string
		data  map[string][]byte
	}{
		{"with small streams", []string{"a", "big"}, map[string][]byte{"a": randBytes(1, 100), "big": randBytes(2, 9000)}},
		{"only big streams", []string{"big"}, map[string][]byte{"big": randBytes(2, 9000)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.msi")
			if err := os.WriteFile(path, build(t, tc.data, tc.order), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			cd, err := comdoc.WriteFile(f)
			if err != nil {
				t.Fatalf("comdoc cannot open our file: %v", err)
			}
			sig := randBytes(3, 1500)
			ex := randBytes(4, 5000)
			if err := cd.AddFile("\x05DigitalSignature", sig); err != nil {
				t.Fatal(err)
			}
			if err := cd.AddFile("\x05MsiDigitalSignatureEx", ex); err != nil {
				t.Fatal(err)
			}
			if err := cd.Close(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			got, _ := olefileList(t, path)
			want := map[string][]byte{"\x05DigitalSignature": sig, "\x05MsiDigitalSignatureEx": ex}
			for k, v := range tc.data {
				want[k] = v
			}
			for n, b := range want {
				if g, ok := got[n]; !ok || g[1].(string) != sum(b) {
					t.Errorf("after comdoc: stream %q = %v, want sha %s", n, g, sum(b))
				}
			}
		})
	}
}

func TestPlanDIFAT(t *testing.T) {
	w := NewWriter(CLSID{})
	w.Add("huge", 17_000_000, func() (io.ReadCloser, error) { return nil, nil })
	l, err := w.plan()
	if err != nil {
		t.Fatal(err)
	}
	if l.difatSectors != 2 || l.fatSectors <= headerDIFATLen+fatPerDIFAT {
		t.Errorf("17 MB: %d FAT and %d DIFAT sectors, want more than 236 and 2", l.fatSectors, l.difatSectors)
	}
	if int64(l.fatSectors)*entriesPerFAT < int64(l.total) {
		t.Errorf("FAT of %d sectors cannot map %d sectors", l.fatSectors, l.total)
	}
}

// TestStreamReadAt reads streams (big and mini) at scattered offsets,
// backwards and forwards, through the io.ReaderAt that Open returns.
func TestStreamReadAt(t *testing.T) {
	streams := map[string][]byte{"big": randBytes(20, 300_000), "mini": randBytes(21, 3000)}
	data := build(t, streams, []string{"big", "mini"})
	r, err := Open(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewSource(5))
	for name, want := range streams {
		s, err := r.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		if s.Size() != int64(len(want)) {
			t.Fatalf("%s: size %d", name, s.Size())
		}
		for i := 0; i < 200; i++ {
			off := rnd.Intn(len(want))
			buf := make([]byte, rnd.Intn(5000)+1)
			n, err := s.ReadAt(buf, int64(off))
			end := min(off+len(buf), len(want))
			if n != end-off || !bytes.Equal(buf[:n], want[off:end]) {
				t.Fatalf("%s: ReadAt(%d bytes at %d) = %d, %v: wrong data", name, len(buf), off, n, err)
			}
			if end < off+len(buf) && err != io.EOF {
				t.Fatalf("%s: short ReadAt returned %v, want io.EOF", name, err)
			}
		}
	}
}

// BenchmarkReadStream reads a 50 MB stream back; mscfb's own ReadAt would
// make this quadratic.
func BenchmarkReadStream(b *testing.B) {
	const size = 50 << 20
	data := build(b, map[string][]byte{"big": make([]byte, size)}, []string{"big"})
	b.SetBytes(size)
	for i := 0; i < b.N; i++ {
		r, err := Open(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		s, _ := r.Open("big")
		if n, err := io.Copy(io.Discard, s); err != nil || n != size {
			b.Fatal(n, err)
		}
	}
}
