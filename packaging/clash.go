package packaging

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FlagPath is a file a flag names.
type FlagPath struct {
	Flag string // without dashes
	Path string
}

// Outfile is where --outfile puts the installer ("" without --outfile),
// relative to the build's directory when relative.
func (o *Options) Outfile() string {
	if o.CustomOutfile == "" || !o.NativeTooling {
		return o.CustomOutfile
	}
	return filepath.Join(NativeToolingDir, o.CustomOutfile)
}

// InputFiles are the files a build of o reads.
func (o *Options) InputFiles() []FlagPath {
	var out []FlagPath
	add := func(flag, p string) {
		if p != "" {
			out = append(out, FlagPath{flag, p})
		}
	}
	add("fleet-certificate", o.FleetCertificate)
	add("fleet-tls-client-certificate", o.FleetTLSClientCertificate)
	add("fleet-tls-client-key", o.FleetTLSClientKey)
	add("update-tls-certificate", o.UpdateTLSServerCertificate)
	add("update-tls-client-certificate", o.UpdateTLSClientCertificate)
	add("update-tls-client-key", o.UpdateTLSClientKey)
	add("osquery-flagfile", o.OsqueryFlagfile)
	add("macos-devid-pem", o.MacOSDevIDPEM)
	add("windows-sign-certificate", o.WindowsSignCertificate)
	add("windows-sign-key", o.WindowsSignKey)
	if !strings.Contains(o.CloudFrontPrivateKey, "-----BEGIN") {
		add("cloudfront-private-key", o.CloudFrontPrivateKey)
	}
	return out
}

// SamePath reports whether writing a would replace b, or b a: the same
// directory once symbolic links and ".." are resolved (a/../b follows a if
// it is a link), and names equal or differing only in case (one file on
// macOS and Windows, so refused everywhere), or, when both exist, one file.
func SamePath(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if sa, err := os.Stat(a); err == nil {
		if sb, err := os.Stat(b); err == nil && os.SameFile(sa, sb) {
			return true
		}
	}
	da, ba := splitRaw(a)
	db, bb := splitRaw(b)
	if !strings.EqualFold(ba, bb) {
		return false
	}
	ra, errA := filepath.EvalSymlinks(da)
	rb, errB := filepath.EvalSymlinks(db)
	if errA != nil || errB != nil {
		// A directory that does not exist yet: compare what is known.
		aa, _ := filepath.Abs(filepath.Join(da, ba))
		ab, _ := filepath.Abs(filepath.Join(db, bb))
		return strings.EqualFold(aa, ab)
	}
	if ra == rb {
		return true
	}
	sa, errA := os.Stat(ra)
	sb, errB := os.Stat(rb)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// splitRaw splits p into its directory, as written (not cleaned: "a/.." must
// be resolved through a), and its last element.
func splitRaw(p string) (dir, base string) {
	i := strings.LastIndexAny(p, string(filepath.Separator)+"/")
	if i < 0 {
		return ".", p
	}
	dir = p[:i+1]
	return dir, p[i+1:]
}

// defaultNameKey is equal for builds whose default output names are equal:
// the name depends on the type, the architecture (not for pkg) and the orbit
// version, which one repository gives per channel.
func defaultNameKey(o *Options) string {
	arch := o.Arch
	if o.Type == TypePkg {
		arch = ""
	}
	return strings.Join([]string{o.Type, arch, o.OrbitChannel, fmt.Sprint(o.NativeTooling), FetchKey(o)}, "\x00")
}

// ProtectedFiles are the files no build of a run may write: every input of
// every build, the config file and the manifest.
func ProtectedFiles(builds []MatrixBuild, configPath, manifestPath string) []FlagPath {
	var out []FlagPath
	for _, b := range builds {
		for _, in := range b.Options.InputFiles() {
			out = append(out, FlagPath{Flag: "--" + in.Flag + " of build " + b.Name, Path: in.Path})
		}
	}
	if configPath != "" {
		out = append(out, FlagPath{Flag: "--config", Path: configPath})
	}
	if manifestPath != "" {
		out = append(out, FlagPath{Flag: "--manifest", Path: manifestPath})
	}
	return out
}

// CheckOutputs refuses, before anything is fetched, two builds whose
// --outfile is one file by two names (a symbolic link, a/../b, a change of
// case) and an --outfile or --manifest that names a protected file. Default
// output names depend on the agent version and are checked when the build
// claims them (MatrixOptions.Protected).
func CheckOutputs(builds []MatrixBuild, protected []FlagPath) error {
	defaults := map[string]string{} // default-name key → build name
	for _, b := range builds {
		if b.Options.Outfile() != "" {
			continue
		}
		k := defaultNameKey(b.Options)
		if other, ok := defaults[k]; ok {
			return fmt.Errorf("builds %s and %s both write the default file name of --type=%s (same architecture and agent version): give each build its own outfile", other, b.Name, b.Options.Type)
		}
		defaults[k] = b.Name
	}
	for i, a := range builds {
		outA := a.Options.Outfile()
		if outA == "" {
			continue
		}
		for _, b := range builds[:i] {
			if outB := b.Options.Outfile(); SamePath(outA, outB) {
				return fmt.Errorf("builds %s and %s both write one file (%s and %s): give each build its own outfile", b.Name, a.Name, outB, outA)
			}
		}
		for _, p := range protected {
			if p.Flag != "--manifest" && SamePath(outA, p.Path) {
				return fmt.Errorf("build %s: --outfile %s is also %s (%s): the installer would replace it", a.Name, outA, p.Flag, p.Path)
			}
		}
	}
	for _, p := range protected {
		if p.Flag != "--manifest" {
			continue
		}
		for _, b := range builds {
			if out := b.Options.Outfile(); SamePath(p.Path, out) {
				return fmt.Errorf("--manifest %s is also the output of build %s (%s)", p.Path, b.Name, out)
			}
		}
		for _, q := range protected {
			if q.Flag != "--manifest" && SamePath(p.Path, q.Path) {
				return fmt.Errorf("--manifest %s is also %s (%s): the manifest would replace it", p.Path, q.Flag, q.Path)
			}
		}
	}
	return nil
}
