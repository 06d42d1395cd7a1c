package e2e

import (
	"strings"
	"testing"
)

// TestArchLinux builds .pkg.tar.zst installers through nginx and checks them
// with bsdtar: the listing, .PKGINFO, and an extraction compared with the layout.
func TestArchLinux(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	bsdtar := needTool(t, "bsdtar", "libarchive-tools")
	zstdTool := needTool(t, "zstd", "zstd")

	for _, b := range []buildSpec{
		{Name: "amd64 stable full", Type: "pkg.tar.zst", Arch: "amd64", Full: true},
		{Name: "arm64 edge minimal", Type: "pkg.tar.zst", Arch: "arm64", OrbitChannel: "edge"},
	} {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			r := runPkgctl(t, "fleet-osquery.pkg.tar.zst", b.args(t, s, s.Nginx.URL)...)
			mustSucceed(t, r)
			file := r.Outfile
			want := expectedTree(t, s, b, s.Nginx.URL)
			archArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[b.Arch]

			// The package is several zstd frames (component contents are
			// compressed once and shared): the reference decoder checks them.
			if out, err := tool(t, false, zstdTool, "-t", "-q", file); err != nil {
				t.Fatalf("zstd -t: %v\n%s", err, out)
			}
			out, _ := tool(t, false, bsdtar, "-tvf", file)
			got := listing{}
			var meta []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				f := strings.Fields(line)
				if len(f) < 9 {
					t.Fatalf("bsdtar -tv line %q", line)
				}
				name := strings.TrimSuffix(f[8], "/")
				if strings.HasPrefix(name, ".") {
					meta = append(meta, name)
					continue
				}
				kind, mode, err := parseMode(f[0])
				if err != nil {
					t.Fatal(err)
				}
				e := listed{Kind: kind, Mode: mode, Owner: f[2], Group: f[3]}
				if kind == "symlink" {
					if len(f) != 11 || f[9] != "->" {
						t.Fatalf("bsdtar -tv symlink line %q", line)
					}
					e.Link = f[10]
				}
				got["/"+name] = e
			}
			for _, m := range []string{".PKGINFO", ".MTREE", ".INSTALL"} {
				if !contains(meta, m) {
					t.Errorf("archive has no %s (metadata entries: %v)", m, meta)
				}
			}
			compareListing(t, "bsdtar -tv", got, want, false)

			pkginfo, _ := tool(t, false, bsdtar, "-xOf", file, ".PKGINFO")
			fields := map[string]string{}
			for _, line := range strings.Split(pkginfo, "\n") {
				if k, v, ok := strings.Cut(line, " = "); ok {
					fields[k] = v
				}
			}
			for k, v := range map[string]string{
				"pkgname": "fleet-osquery",
				"pkgver":  b.orbitVersion() + "-1",
				"arch":    archArch,
				"url":     "https://fleetdm.com",
			} {
				if fields[k] != v {
					t.Errorf(".PKGINFO %s = %q, want %q\n%s", k, fields[k], v, pkginfo)
				}
			}

			root := t.TempDir()
			tool(t, false, bsdtar, "-xpf", file, "-C", root, "--numeric-owner", "--exclude", ".PKGINFO", "--exclude", ".MTREE", "--exclude", ".INSTALL")
			compareTrees(t, "tree extracted by bsdtar", readTree(t, root), want, isRoot())
		})
	}
}
