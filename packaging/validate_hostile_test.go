//go:build unix

package packaging

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestValidateHostileFiles: every file flag refuses what is not a regular
// file (a FIFO used to hang, /dev/zero to exhaust memory) and files over the
// limit, naming the flag; certificate flags refuse a file that also holds a
// private key or any other non-certificate PEM block.
func TestValidateHostileFiles(t *testing.T) {
	f := newCertFiles(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write := func(name string, data []byte) string {
		p, err := testenv.WriteFile(dir, name, data)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	huge := write("huge.pem", append(read(f.CA), make([]byte, 5<<20)...))
	caWithKey := write("ca+key.pem", append(read(f.CA), read(f.Key)...))
	certWithKey := write("cert+key.pem", append(read(f.Cert), read(f.Key)...))
	caWithOther := write("ca+params.pem", append(read(f.CA), []byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n")...))
	base := func() Options { return Options{Type: TypeDeb, StartService: true} }
	for _, tc := range []struct {
		name, flag, want string
		mod              func(o *Options)
	}{
		{"fleet CA fifo", "fleet-certificate", "not a regular file (a named pipe)", func(o *Options) { o.FleetCertificate = fifo }},
		{"update CA /dev/zero", "update-tls-certificate", "not a regular file (a character device)", func(o *Options) { o.UpdateTLSServerCertificate = "/dev/zero" }},
		{"fleet CA directory", "fleet-certificate", "not a regular file (a directory)", func(o *Options) { o.FleetCertificate = dir }},
		{"fleet CA too large", "fleet-certificate", "larger than the 4 MiB limit", func(o *Options) { o.FleetCertificate = huge }},
		{"flagfile fifo", "osquery-flagfile", "not a regular file (a named pipe)", func(o *Options) { o.OsqueryFlagfile = fifo }},
		{"flagfile /dev/zero", "osquery-flagfile", "not a regular file", func(o *Options) { o.OsqueryFlagfile = "/dev/zero" }},
		{"flagfile too large", "osquery-flagfile", "larger than the 4 MiB limit", func(o *Options) { o.OsqueryFlagfile = huge }},
		{"client cert fifo", "fleet-tls-client-certificate", "not a regular file", func(o *Options) { o.FleetTLSClientCertificate, o.FleetTLSClientKey = fifo, f.Key }},
		{"client key /dev/zero", "fleet-tls-client-key", "not a regular file", func(o *Options) { o.FleetTLSClientCertificate, o.FleetTLSClientKey = f.Cert, "/dev/zero" }},
		{"update key fifo", "update-tls-client-key", "not a regular file", func(o *Options) { o.UpdateTLSClientCertificate, o.UpdateTLSClientKey = f.Cert, fifo }},
		{"fleet CA holds a key", "fleet-certificate", "also holds a private key", func(o *Options) { o.FleetCertificate = caWithKey }},
		{"update CA holds a key", "update-tls-certificate", "also holds a private key", func(o *Options) { o.UpdateTLSServerCertificate = caWithKey }},
		{"fleet client cert holds a key", "fleet-tls-client-certificate", "also holds a private key", func(o *Options) { o.FleetTLSClientCertificate, o.FleetTLSClientKey = certWithKey, f.Key }},
		{"update client cert holds a key", "update-tls-client-certificate", "also holds a private key", func(o *Options) { o.UpdateTLSClientCertificate, o.UpdateTLSClientKey = certWithKey, f.Key }},
		{"CA with another PEM block", "fleet-certificate", `unexpected PEM block "EC PARAMETERS"`, func(o *Options) { o.FleetCertificate = caWithOther }},
		{"windows sign cert fifo", "windows-sign-certificate", "not a regular file", func(o *Options) { o.Type = TypeMSI; o.WindowsSignCertificate = fifo }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			tc.mod(&o)
			o.WithDefaults()
			_, err := o.Validate()
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if fe, ok := err.(*FlagError); !ok || fe.Flag != tc.flag {
				t.Errorf("error %v names flag %v, want %q", err, err, tc.flag)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error quotes key material: %v", err)
			}
		})
	}
}
