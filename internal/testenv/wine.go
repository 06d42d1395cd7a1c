package testenv

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// Wine is one booted Wine prefix that tests install MSI packages into. Booting
// costs ~20 s, so a test run boots one and shares it (see SharedWine); tests
// using it must not run in parallel with each other.
type Wine struct {
	Prefix string
	mu     sync.Mutex
}

// wineEnv is the environment of every wine command: quiet, no Mono or Gecko
// download prompts, no display.
func (w *Wine) wineEnv() []string {
	env := []string{"WINEPREFIX=" + w.Prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=", "LC_ALL=C.UTF-8"}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "WINEPREFIX", "WINEDEBUG", "WINEDLLOVERRIDES", "DISPLAY", "WAYLAND_DISPLAY", "LC_ALL":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// NewWine boots a fresh 64-bit prefix in dir (which must not exist or be empty).
// A missing wine is an error naming the Debian packages.
func NewWine(dir string) (*Wine, error) {
	for _, tool := range []string{"wine", "wineboot", "wineserver"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found: install the Debian packages wine and wine64 (apt-get install -y wine wine64, or run .ci/deps)", tool)
		}
	}
	w := &Wine{Prefix: dir}
	if out, err := w.command("wineboot", "--init").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("wineboot --init in %s: %v\n%s", dir, err, out)
	}
	if err := w.Wait(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(w.DriveC("windows/system32")); err != nil {
		return nil, fmt.Errorf("wine prefix %s has no C:\\Windows\\System32 after wineboot: %v", dir, err)
	}
	return w, nil
}

var (
	sharedWineOnce sync.Once
	sharedWine     *Wine
	sharedWineErr  error
)

// SharedWine boots one prefix under dir on first use and returns it on every
// call (one prefix per test run).
func SharedWine(dir string) (*Wine, error) {
	sharedWineOnce.Do(func() { sharedWine, sharedWineErr = NewWine(dir) })
	return sharedWine, sharedWineErr
}

func (w *Wine) command(name string, args ...string) *exec.Cmd {
	cmd := Command(name, args...)
	cmd.Env = w.wineEnv()
	return cmd
}

// Wait waits for every process of the prefix to end (wineserver -w), so files
// and the registry are on disk.
func (w *Wine) Wait() error {
	if out, err := w.command("wineserver", "-w").CombinedOutput(); err != nil {
		return fmt.Errorf("wineserver -w: %v\n%s", err, out)
	}
	return nil
}

// Close kills the prefix's processes (wineserver -k); the directory stays.
func (w *Wine) Close() {
	_ = w.command("wineserver", "-k").Run()
}

// Run runs `wine args...` and returns its combined output and exit code (wine
// truncates exit codes to 8 bits: 1603 is 67). err is set only when wine could
// not run at all.
func (w *Wine) Run(args ...string) (string, int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cmd := w.command("wine", args...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode(), nil
	}
	if err != nil {
		return string(out), -1, fmt.Errorf("wine %s: %w", strings.Join(args, " "), err)
	}
	return string(out), 0, nil
}

// MsiExec runs `wine msiexec op msi /qn [PROP=value...]` with a verbose log,
// waits for the prefix to settle and returns the exit code and the log text.
func (w *Wine) MsiExec(op, msi string, props ...string) (code int, log string, err error) {
	logFile, err := os.CreateTemp("", "pkgctl-msiexec-*.log")
	if err != nil {
		return 0, "", err
	}
	logFile.Close()
	defer os.Remove(logFile.Name())
	args := append([]string{"msiexec", op, msi, "/qn", "/l*v", logFile.Name()}, props...)
	out, code, err := w.Run(args...)
	if err != nil {
		return code, out, err
	}
	if err := w.Wait(); err != nil {
		return code, out, err
	}
	b, _ := os.ReadFile(logFile.Name())
	return code, out + decodeLog(b), nil
}

// Install runs `msiexec /i msi /qn props...` and fails unless it exits 0.
func (w *Wine) Install(msi string, props ...string) (log string, err error) {
	code, log, err := w.MsiExec("/i", msi, props...)
	if err == nil && code != 0 {
		err = fmt.Errorf("wine msiexec /i %s: exit code %d (truncated to 8 bits: 67 is 1603, a fatal install error)", filepath.Base(msi), code)
	}
	return log, err
}

// Uninstall runs `msiexec /x msi /qn` and fails unless it exits 0.
func (w *Wine) Uninstall(msi string) (log string, err error) {
	code, log, err := w.MsiExec("/x", msi)
	if err == nil && code != 0 {
		err = fmt.Errorf("wine msiexec /x %s: exit code %d", filepath.Base(msi), code)
	}
	return log, err
}

// decodeLog turns an msiexec log (UTF-16LE with a BOM, or 8-bit) into text.
func decodeLog(b []byte) string {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0xfe {
		return decodeUTF16(b[2:])
	}
	return string(b)
}

func decodeUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}

// DriveC is the host path of C:\rel (rel slash-separated, as in
// "Program Files/Orbit").
func (w *Wine) DriveC(rel string) string {
	return filepath.Join(w.Prefix, "drive_c", filepath.FromSlash(rel))
}

// ListFiles lists the regular files under C:\rel, slash-separated and relative
// to it, sorted; a missing directory lists nothing.
func (w *Wine) ListFiles(rel string) ([]string, error) {
	root := w.DriveC(rel)
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == root {
				return fs.SkipAll
			}
			return err
		}
		if d.Type().IsRegular() {
			r, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(r))
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// RegValue is one registry value as `reg export` writes it.
type RegValue struct {
	Type   string   // "sz", "expand_sz", "multi_sz", "dword", "binary"
	String string   // sz, expand_sz
	Multi  []string // multi_sz
	DWord  uint32
	Bytes  []byte // raw data of hex(...) values
}

// RegKey reads every value of the registry key (e.g.
// `HKLM\SYSTEM\CurrentControlSet\Services\Fleet osquery`) through
// `wine reg export`; ok is false when the key does not exist.
func (w *Wine) RegKey(key string) (values map[string]RegValue, ok bool, err error) {
	f, err := os.CreateTemp("", "pkgctl-reg-*.reg")
	if err != nil {
		return nil, false, err
	}
	f.Close()
	defer os.Remove(f.Name())
	os.Remove(f.Name()) // reg export refuses to overwrite without /y
	out, code, err := w.Run("reg", "export", key, `Z:`+strings.ReplaceAll(f.Name(), "/", `\`))
	if err != nil {
		return nil, false, err
	}
	if code != 0 {
		return nil, false, nil // reg export fails for a missing key
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return nil, false, fmt.Errorf("reg export %s: %v (%s)", key, err, out)
	}
	values, err = parseRegExport(decodeLog(b), key)
	return values, err == nil, err
}

// parseRegExport reads the values of key (not of its subkeys) from a .reg file.
func parseRegExport(text, key string) (map[string]RegValue, error) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\\\n", "") // continuation lines of hex data
	values := map[string]RegValue{}
	in := false
	want := "[" + expandHive(key) + "]"
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			in = strings.EqualFold(line, want)
			continue
		}
		if !in || line == "" {
			continue
		}
		name, rest, err := regName(line)
		if err != nil {
			return nil, err
		}
		v, err := regData(rest)
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", name, err)
		}
		values[name] = v
	}
	return values, nil
}

func expandHive(key string) string {
	for short, long := range map[string]string{"HKLM": "HKEY_LOCAL_MACHINE", "HKCU": "HKEY_CURRENT_USER", "HKCR": "HKEY_CLASSES_ROOT", "HKU": "HKEY_USERS"} {
		if strings.HasPrefix(strings.ToUpper(key), short+`\`) {
			return long + key[len(short):]
		}
	}
	return key
}

// regName splits `"name"=data` or `@=data`.
func regName(line string) (string, string, error) {
	if strings.HasPrefix(line, "@=") {
		return "", line[2:], nil
	}
	s, rest, err := regQuoted(line)
	if err != nil || !strings.HasPrefix(rest, "=") {
		return "", "", fmt.Errorf("bad .reg line %q", line)
	}
	return s, rest[1:], nil
}

// regQuoted reads a "..." string with .reg escapes (\\ and \").
func regQuoted(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", fmt.Errorf("no quoted string in %q", s)
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", fmt.Errorf("unterminated string in %q", s)
}

func regData(s string) (RegValue, error) {
	switch {
	case strings.HasPrefix(s, `"`):
		v, _, err := regQuoted(s)
		return RegValue{Type: "sz", String: v}, err
	case strings.HasPrefix(s, "dword:"):
		var d uint32
		_, err := fmt.Sscanf(s[len("dword:"):], "%x", &d)
		return RegValue{Type: "dword", DWord: d}, err
	case strings.HasPrefix(s, "hex"):
		kind, data, ok := strings.Cut(s, ":")
		if !ok {
			return RegValue{}, fmt.Errorf("bad hex value %q", s)
		}
		raw, err := hex.DecodeString(strings.ReplaceAll(strings.ReplaceAll(data, ",", ""), " ", ""))
		if err != nil {
			return RegValue{}, err
		}
		v := RegValue{Bytes: raw}
		switch kind {
		case "hex(7)":
			v.Type = "multi_sz"
			all := strings.TrimRight(decodeUTF16(raw), "\x00")
			if all != "" {
				v.Multi = strings.Split(all, "\x00")
			}
		case "hex(2)":
			v.Type = "expand_sz"
			v.String = strings.TrimRight(decodeUTF16(raw), "\x00")
		default:
			v.Type = "binary"
		}
		return v, nil
	}
	return RegValue{}, fmt.Errorf("unknown .reg data %q", s)
}

// WaitFile waits up to timeout for C:\rel to exist (a service writes it).
func (w *Wine) WaitFile(rel string, timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(w.DriveC(rel))
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			return b, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("C:\\%s did not appear within %s", filepath.FromSlash(rel), timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// BuildWinSvc builds the tiny Windows service of internal/testenv/winsvc into
// out: a Go 1.20 build (GOTOOLCHAIN=go1.20.14, fetched through the module
// proxy on first use), because Wine 8 cannot start a service built with a
// newer Go. The service writes its environment to winsvc-env.txt beside itself
// when started and winsvc-stopped.txt when stopped.
func BuildWinSvc(out string) error {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return fmt.Errorf("build winsvc: cannot locate internal/testenv")
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = filepath.Join(filepath.Dir(self), "winsvc")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=go1.20.14", "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build winsvc with Go 1.20 (GOTOOLCHAIN=go1.20.14): %v\n%s", err, b)
	}
	return nil
}

// RegSubkeys lists the names of the direct subkeys of key (`wine reg query`);
// a missing key has none.
func (w *Wine) RegSubkeys(key string) ([]string, error) {
	out, code, err := w.Run("reg", "query", key)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, nil
	}
	prefix := strings.ToUpper(expandHive(key)) + `\`
	var keys []string
	for _, line := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(strings.ToUpper(line), prefix) {
			keys = append(keys, line[len(prefix):])
		}
	}
	return keys, nil
}
