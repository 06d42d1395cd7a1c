package testenv

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestWine boots a prefix and reads back what reg.exe wrote, non-ASCII and
// MSI-special characters included, and lists drive_c.
func TestWine(t *testing.T) {
	w, err := NewWine(filepath.Join(t.TempDir(), "prefix"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	key := `HKLM\Software\pkgctl-test`
	if out, code, err := w.Run("reg", "add", key, "/v", "M", "/t", "REG_MULTI_SZ", "/d", `a=[1]\0b=é"%;{}`, "/f"); err != nil || code != 0 {
		t.Fatalf("reg add: %d %v %s", code, err, out)
	}
	if out, code, err := w.Run("reg", "add", key, "/v", "S", "/t", "REG_SZ", "/d", `x\y`, "/f"); err != nil || code != 0 {
		t.Fatalf("reg add: %d %v %s", code, err, out)
	}
	vals, ok, err := w.RegKey(key)
	if err != nil || !ok {
		t.Fatalf("RegKey: %v %v", ok, err)
	}
	if got := vals["M"]; got.Type != "multi_sz" || !reflect.DeepEqual(got.Multi, []string{"a=[1]", `b=é"%;{}`}) {
		t.Errorf("M = %+v", got)
	}
	if got := vals["S"]; got.Type != "sz" || got.String != `x\y` {
		t.Errorf("S = %+v", got)
	}
	if _, ok, err := w.RegKey(`HKLM\Software\pkgctl-missing`); ok || err != nil {
		t.Errorf("missing key: ok=%v err=%v", ok, err)
	}
	if err := os.MkdirAll(w.DriveC("pkgctl/a"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(w.DriveC("pkgctl/a/f.txt"), []byte("x"), 0o644)
	if files, err := w.ListFiles("pkgctl"); err != nil || !reflect.DeepEqual(files, []string{"a/f.txt"}) {
		t.Errorf("ListFiles = %v, %v", files, err)
	}
	if files, err := w.ListFiles("nothing-here"); err != nil || len(files) != 0 {
		t.Errorf("ListFiles(missing) = %v, %v", files, err)
	}
}
