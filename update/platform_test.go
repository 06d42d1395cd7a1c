package update

import (
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

func TestPlatformFor(t *testing.T) {
	tests := []struct {
		pkgType, arch, target string
		want                  string
		wantErr               string
	}{
		{"deb", "amd64", "orbit", "linux", ""},
		{"deb", "", "desktop", "linux", ""},
		{"rpm", "arm64", "osqueryd", "linux-arm64", ""},
		{"pkg.tar.zst", "arm64", "desktop", "linux-arm64", ""},
		{"msi", "amd64", "orbit", "windows", ""},
		{"msi", "arm64", "osqueryd", "windows-arm64", ""},
		{"pkg", "", "orbit", "macos", ""},
		{"pkg", "amd64", "desktop", "macos", ""},
		{"pkg", "", "osqueryd", "macos-app", ""},
		{"apk", "amd64", "orbit", "", "type must be one of"},
		{"deb", "386", "orbit", "", "arch must be one of"},
		{"deb", "amd64", "nudge", "", "unknown update target"},
	}
	for _, tt := range tests {
		t.Run(tt.pkgType+"/"+tt.arch+"/"+tt.target, func(t *testing.T) {
			got, err := PlatformFor(tt.pkgType, tt.arch, tt.target)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestTargetFile checks the file names and executables against testenv's list of what Fleet
// publishes, and that every platform PlatformFor returns has all three components.
func TestTargetFile(t *testing.T) {
	for _, c := range testenv.Components {
		file, err := TargetFile(c.Name, c.Platform)
		if err != nil || file != c.File {
			t.Errorf("TargetFile(%s, %s) = %q, %v; want %q", c.Name, c.Platform, file, err, c.File)
		}
		if got := ExecPath(c.Name, c.Platform); got != c.Exec {
			t.Errorf("ExecPath(%s, %s) = %q, want %q", c.Name, c.Platform, got, c.Exec)
		}
	}
	if _, err := TargetFile("osqueryd", "macos"); err == nil {
		t.Errorf("osqueryd on macos (it is published for macos-app) accepted")
	}
	for _, typ := range []string{"deb", "rpm", "pkg.tar.zst", "msi", "pkg"} {
		for _, arch := range []string{"amd64", "arm64"} {
			for _, target := range []string{TargetOrbit, TargetOsqueryd, TargetDesktop} {
				p, err := PlatformFor(typ, arch, target)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := TargetFile(target, p); err != nil {
					t.Errorf("%s %s %s: %v", typ, arch, target, err)
				}
			}
		}
	}
}
