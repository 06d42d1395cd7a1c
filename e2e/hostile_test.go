package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// hostileTar is a desktop.tar.gz whose entries a malicious repository chose.
func hostileTar(t *testing.T, hdrs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg && h.Size > 0 && h.Size < 1<<20 {
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	tw.Flush() // no Close: a header may announce more data than follows
	gz.Close()
	return buf.Bytes()
}

// desktopTarball is an attack that publishes the Linux Fleet Desktop
// tarball with the given entries.
func desktopTarball(hdrs ...*tar.Header) func(*testing.T, *testenv.Repo) error {
	return func(t *testing.T, r *testenv.Repo) error {
		return r.AddTarget("desktop", "linux", "stable", "desktop.tar.gz", hostileTar(t, hdrs...), "1.2.3")
	}
}

func desktopExec(mode int64) *tar.Header {
	body := "#!/bin/sh\necho hostile desktop\n"
	return &tar.Header{Name: "fleet-desktop/fleet-desktop", Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body))}
}

// TestHostileRepository serves repositories whose owner is the attacker:
// every file is properly signed, but versions, target names and tarball
// contents are malicious. Each build must be refused with a clear error
// naming what is wrong, or succeed with an inert result; in every case no
// raw escape sequence reaches the terminal and nothing is written outside
// the build's directories (runPkgctl checks TMPDIR and secrets).
func TestHostileRepository(t *testing.T) {
	t.Parallel()
	const desktop = "desktop/linux/stable/desktop.tar.gz"
	for _, c := range []struct {
		name   string
		attack func(t *testing.T, r *testenv.Repo) error
		want   []string                        // refusal: each must be in stderr; nil = must succeed
		check  func(t *testing.T, r runResult) // for a success
	}{
		{
			name: "version with terminal escapes",
			attack: func(t *testing.T, r *testenv.Repo) error {
				return r.AddTarget("orbit", "linux", "stable", "orbit", []byte("#!/bin/sh\n"), "1.2.3\x1b]0;pwned\x07\x1b[2J")
			},
			want: []string{"orbit/linux/stable/orbit", "version"},
		},
		{
			name: "version with a newline and shell",
			attack: func(t *testing.T, r *testenv.Repo) error {
				return r.AddTarget("orbit", "linux", "stable", "orbit", []byte("#!/bin/sh\n"), "1.2.3\nORBIT_ENROLL_SECRET=$(id)")
			},
			want: []string{"orbit/linux/stable/orbit", "version"},
		},
		{
			name: "hostile target names beside the real ones",
			attack: func(t *testing.T, r *testenv.Repo) error {
				return r.AddTarget("orbit\x1b[31m", "linux\u202e", "stable\x07", "orbit\x1b]0;x\x07", []byte("x"), "1.2.3")
			},
			check: func(t *testing.T, r runResult) {},
		},
		{
			name: "world-writable and setuid desktop files",
			attack: desktopTarball(
				&tar.Header{Name: "fleet-desktop/", Typeflag: tar.TypeDir, Mode: 0o777},
				desktopExec(0o4777),
				&tar.Header{Name: "fleet-desktop/lib.so", Typeflag: tar.TypeReg, Mode: 0o666, Size: 4},
			),
			check: func(t *testing.T, r runResult) {
				out, _ := tool(t, false, needTool(t, "dpkg-deb", "dpkg"), "-c", r.Outfile)
				for _, line := range strings.Split(out, "\n") {
					if !strings.Contains(line, "fleet-desktop") {
						continue
					}
					mode := strings.Fields(line)[0]
					if strings.ContainsAny(mode[4:], "wsStT") || strings.ContainsAny(mode[1:4], "sS") {
						t.Errorf("installed with unsafe mode: %s", line)
					}
				}
				for _, want := range []string{"drwxr-xr-x root/root", "-rwxr-xr-x root/root", "-rw-r--r-- root/root"} {
					if !strings.Contains(out, want) {
						t.Errorf("dpkg-deb -c lacks %q:\n%s", want, out)
					}
				}
			},
		},
		{
			name: "tarball escaping its directory",
			attack: desktopTarball(
				desktopExec(0o755),
				&tar.Header{Name: "../../../../etc/cron.d/pwn", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3},
			),
			want: []string{desktop, "escapes the destination directory"},
		},
		{
			name: "symbolic link out of the tree",
			attack: desktopTarball(
				desktopExec(0o755),
				&tar.Header{Name: "fleet-desktop/shadow", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"},
			),
			want: []string{desktop, "symbolic link to absolute path"},
		},
		{
			name: "device node",
			attack: desktopTarball(
				desktopExec(0o755),
				&tar.Header{Name: "fleet-desktop/mem", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 1},
			),
			want: []string{desktop, "unsupported entry type"},
		},
		{
			name: "tarball that unpacks to 5 GiB",
			attack: desktopTarball(
				desktopExec(0o755),
				&tar.Header{Name: "fleet-desktop/bomb", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5 << 30},
			),
			want: []string{desktop, "unpacks to more than 4 GiB"},
		},
		{
			name: "file name with terminal escapes",
			attack: desktopTarball(
				desktopExec(0o755),
				&tar.Header{Name: "fleet-desktop/\x1b]0;pwned\x07\x1b[2J", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
			),
			want: []string{desktop, "control character in the name"},
		},
		{
			name: "file names with glob characters",
			attack: desktopTarball(
				desktopExec(0o755),
				&tar.Header{Name: "fleet-desktop/lib[1].so", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
				&tar.Header{Name: "fleet-desktop/*", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2},
			),
			check: func(t *testing.T, r runResult) {
				out, _ := tool(t, false, needTool(t, "dpkg-deb", "dpkg"), "-c", r.Outfile)
				for _, want := range []string{"fleet-desktop/lib[1].so", "fleet-desktop/*"} {
					if !strings.Contains(out, want) {
						t.Errorf("dpkg-deb -c lacks %s:\n%s", want, out)
					}
				}
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := testenv.NewTB(t)
			if err := c.attack(t, e.Repo); err != nil {
				t.Fatal(err)
			}
			if err := e.Repo.Publish(); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"package", "--type=deb", "--verbose", "--fleet-desktop", "--cache-dir=" + t.TempDir()},
				updateArgs(e, e.Server.URL)...)
			r := runPkgctl(t, "fleet-osquery.deb", args...)
			for _, out := range []string{r.Stdout, r.Stderr} {
				if strings.ContainsAny(out, "\x1b\x07\u202e") {
					t.Errorf("a raw control or bidi character reached the terminal: %q", out)
				}
			}
			if c.want != nil {
				mustFail(t, r, c.want...)
				return
			}
			if r.Code != 0 {
				t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
			}
			c.check(t, r)
		})
	}
}
