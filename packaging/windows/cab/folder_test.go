package cab

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// sharedFolder compresses files as a reusable Folder in dir.
func sharedFolder(t *testing.T, dir string, files []testFile) *Folder {
	t.Helper()
	w := writerWith(t, files, Options{TempDir: dir, ModTime: testTime})
	defer w.Close()
	fo, err := w.FinishFolder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fo.Close() })
	return fo
}

// withFolder builds a cabinet reusing fo, with own files in a second folder.
func withFolder(t *testing.T, fo *Folder, own []testFile) []byte {
	t.Helper()
	w, err := NewWriter(Options{TempDir: t.TempDir(), ModTime: testTime})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.AddFolder(fo); err != nil {
		t.Fatal(err)
	}
	for _, f := range own {
		if err := w.Add(f.name, bytes.NewReader(f.data), 0); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	size, err := w.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(buf.Len()) {
		t.Fatalf("WriteTo says %d bytes, wrote %d", size, buf.Len())
	}
	return buf.Bytes()
}

// A folder compressed once serves several cabinets, each with its own
// second folder; every cabinet is the same whatever GOMAXPROCS, reads back
// strictly, and passes cabextract -t and gcab.
func TestReusedFolder(t *testing.T) {
	cabextract := testenv.NeedTool(t, "cabextract", "cabextract")
	gcab := testenv.NeedTool(t, "gcab", "gcab")
	files := testFiles()
	for _, in := range testenv.DeflateInputs(t, 100_000) {
		files = append(files, testFile{"pe-" + filepath.Base(in.Name), in.Data})
	}
	shared, teamA := files[:len(files)-1], files[len(files)-1:]
	teamB := []testFile{{"secret.b", []byte("team b's secret")}, {"empty.b", nil}}

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(1)
	fo1 := sharedFolder(t, t.TempDir(), shared)
	runtime.GOMAXPROCS(3)
	fo := sharedFolder(t, t.TempDir(), shared)
	for i, own := range [][]testFile{teamA, teamB, nil} {
		data := withFolder(t, fo, own)
		if !bytes.Equal(data, withFolder(t, fo1, own)) {
			t.Fatalf("cabinet %d differs with the folder made with GOMAXPROCS=1", i)
		}
		c, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		c.Strict = true
		got, err := c.ReadAll()
		if err != nil {
			t.Fatalf("cabinet %d: %v", i, err)
		}
		all := append(append([]testFile{}, shared...), own...)
		if len(got) != len(all) {
			t.Errorf("cabinet %d holds %d files, want %d", i, len(got), len(all))
		}
		for _, f := range all {
			if !bytes.Equal(got[f.name], f.data) {
				t.Errorf("cabinet %d: %s: read %d bytes, want %d", i, f.name, len(got[f.name]), len(f.data))
			}
		}
		path := filepath.Join(t.TempDir(), "t.cab")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(cabextract, "-t", path).CombinedOutput(); err != nil {
			t.Fatalf("cabinet %d: cabextract -t: %v\n%s", i, err, out)
		}
		if out, err := exec.Command(gcab, "-t", path).CombinedOutput(); err != nil {
			t.Fatalf("cabinet %d: gcab -t: %v\n%s", i, err, out)
		}
	}
}

func TestAddFolderErrors(t *testing.T) {
	fo := sharedFolder(t, t.TempDir(), testFiles()[:2])
	w, err := NewWriter(Options{TempDir: t.TempDir(), ModTime: testTime})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Add("x", bytes.NewReader([]byte("x")), 0); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFolder(fo); err == nil {
		t.Error("AddFolder after Add accepted")
	}
	w2, _ := NewWriter(Options{TempDir: t.TempDir()}) // another time
	defer w2.Close()
	if err := w2.AddFolder(fo); err == nil {
		t.Error("AddFolder with another ModTime accepted")
	}
	w3, _ := NewWriter(Options{TempDir: t.TempDir(), ModTime: testTime})
	defer w3.Close()
	if err := w3.AddFolder(fo); err != nil {
		t.Fatal(err)
	}
	if err := w3.Add(testFiles()[0].name, bytes.NewReader(nil), 0); err == nil {
		t.Error("a name of the reused folder accepted again")
	}
}
