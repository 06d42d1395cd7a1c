package packaging

import (
	"os"
	"path"
	"path/filepath"
	"testing"
)

// TestLayoutKeepsOperatorFiles: no format carries osquery.flags without
// --osquery-flagfile (fleetctl ≥ 4.92.0), and the pkg carries no secret.txt
// without --enroll-secret (fleetctl's writeMacOSSecret): an empty file in the
// payload would overwrite what the operator put on the host.
func TestLayoutKeepsOperatorFiles(t *testing.T) {
	flags := filepath.Join(t.TempDir(), "osquery.flags")
	if err := os.WriteFile(flags, []byte("--verbose\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inputs := func(t *testing.T, typ string) Inputs {
		switch TargetOS(typ) {
		case OSMacOS:
			return fakeMacInputs(t, false)
		case OSWindows:
			return windowsInputs(t, ArchAMD64)
		}
		return fakeInputs(t, ArchAMD64, false)
	}
	root := func(typ string) string {
		if typ == TypeMSI {
			return WindowsOrbitRoot
		}
		return UnixOrbitRoot
	}
	for _, typ := range validTypes {
		for _, c := range []struct {
			name           string
			flagfile       string
			secret, url    string
			flags, secretF bool
		}{
			{"nothing", "", "", "", false, false},
			{"flagfile", flags, "", "", true, false},
			{"secret", "", "s3cret", "https://fleet.example.com", false, true},
		} {
			t.Run(typ+"/"+c.name, func(t *testing.T) {
				o := (&Options{Type: typ, StartService: true, OsqueryFlagfile: c.flagfile, EnrollSecret: c.secret, FleetURL: c.url}).WithDefaults()
				l, err := NewLayout(o, inputs(t, typ))
				if err != nil {
					t.Fatal(err)
				}
				e := l.Entry(path.Join(root(typ), "osquery.flags"))
				if (e != nil) != c.flags {
					t.Errorf("osquery.flags present=%v, want %v", e != nil, c.flags)
				}
				if e != nil && string(e.Data) != "--verbose\n" {
					t.Errorf("osquery.flags = %q", e.Data)
				}
				s := l.Entry(path.Join(root(typ), "secret.txt"))
				switch typ {
				case TypePkg:
					if (s != nil) != c.secretF {
						t.Errorf("secret.txt present=%v, want %v", s != nil, c.secretF)
					}
				case TypeMSI:
					// Always there: its ACL guards the secret msiexec writes from FLEET_SECRET.
					if s == nil || (string(s.Data) != c.secret) {
						t.Errorf("secret.txt = %+v", s)
					}
				default:
					if s != nil {
						t.Error("Linux packages pass the secret in /etc/default/orbit, not secret.txt")
					}
				}
			})
		}
	}
}
