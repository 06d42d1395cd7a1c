package update

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/pkgctl/pkgctl/internal/flagfile"
	"github.com/pkgctl/pkgctl/internal/safetext"
)

// Limits of what one component tarball may unpack to: far above any real agent
// (Fleet Desktop unpacks to about 100 MB in a few hundred entries), far below
// what would fill a disk. Variables so that tests can lower them.
var (
	MaxUnpackedBytes int64 = 4 << 30
	MaxEntries             = 100_000
)

// ExtractTarGz extracts a .tar.gz into destDir (created 0755). Permission bits
// are normalised, not kept: directories and files with any execute bit get
// 0755, other files 0644, so a world-writable or setuid entry in a tarball is
// never installed as such. The unpacked size and the entry count are capped
// (MaxUnpackedBytes, MaxEntries). Symbolic links are allowed only if their target stays
// inside destDir; nothing is ever written through a symbolic link. Any entry whose cleaned
// path is absolute or escapes destDir ("..") is refused, as the agent's zip-slip check does,
// and so are other entry types (hard links, devices, FIFOs). It returns the relative,
// slash-separated paths extracted, in tar order. On error destDir may hold a partial tree.
func ExtractTarGz(tarGzPath, destDir string) ([]string, error) {
	f, err := os.Open(tarGzPath)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	defer f.Close()
	// klauspost's inflate: a quarter faster than compress/gzip on LLVM.
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("extract %s: %w", tarGzPath, err)
	}
	defer gz.Close()
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return nil, fmt.Errorf("extract %s: %w", tarGzPath, err)
	}
	x := &extractor{src: tarGzPath, dest: destDir, dirModes: map[string]fs.FileMode{}, room: MaxUnpackedBytes}
	if err := x.run(tar.NewReader(gz)); err != nil {
		return nil, err
	}
	return x.names, nil
}

type extractor struct {
	src, dest string
	names     []string
	dirModes  map[string]fs.FileMode // applied at the end, so read-only dirs can be filled
	dirOrder  []string
	symlinks  [][2]string // entry name, local path
	entries   int
	room      int64 // bytes that may still be unpacked
}

// normalMode is the mode an entry is unpacked with: 0755 for directories and
// executables, 0644 for other files.
func normalMode(typeflag byte, mode fs.FileMode) fs.FileMode {
	if typeflag == tar.TypeDir || mode&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

func (x *extractor) fail(name, format string, args ...any) error {
	return fmt.Errorf("extract %s: refusing entry %s: %s", x.src, safetext.Quote(name), fmt.Sprintf(format, args...))
}

func (x *extractor) run(tr *tar.Reader) error {
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", x.src, err)
		}
		if x.entries++; x.entries > MaxEntries {
			return fmt.Errorf("extract %s: more than %d entries (the limit for a component)", x.src, MaxEntries)
		}
		rel, err := x.checkName(hdr.Name)
		if err != nil {
			return err
		}
		if rel == "." {
			if hdr.Typeflag != tar.TypeDir {
				return x.fail(hdr.Name, "not a directory")
			}
			continue
		}
		if err := x.checkParents(hdr.Name, rel); err != nil {
			return err
		}
		target := filepath.Join(x.dest, filepath.FromSlash(rel))
		mode := normalMode(hdr.Typeflag, hdr.FileInfo().Mode().Perm())
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := x.mkdir(hdr.Name, target); err != nil {
				return err
			}
			if _, seen := x.dirModes[target]; !seen {
				x.dirOrder = append(x.dirOrder, target)
			}
			x.dirModes[target] = mode
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // TypeRegA: old tars still use it
			if hdr.Size > x.room {
				return fmt.Errorf("extract %s: unpacks to more than %s (the limit for a component) at entry %s", x.src, flagfile.FormatSize(MaxUnpackedBytes), safetext.Quote(hdr.Name))
			}
			x.room -= hdr.Size
			if err := x.writeFile(hdr.Name, target, mode, tr, hdr.Size); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := x.symlink(hdr.Name, rel, target, hdr.Linkname); err != nil {
				return err
			}
		default:
			return x.fail(hdr.Name, "unsupported entry type %q (only files, directories and symbolic links)", hdr.Typeflag)
		}
		x.names = append(x.names, rel)
	}
	// Symbolic links: their targets must resolve inside destDir once everything is extracted.
	realDest, err := filepath.EvalSymlinks(x.dest)
	if err != nil {
		return fmt.Errorf("extract %s: %w", x.src, err)
	}
	for _, link := range x.symlinks {
		resolved, err := filepath.EvalSymlinks(link[1])
		if err != nil {
			return x.fail(link[0], "symbolic link does not resolve to an entry of the archive")
		}
		if !within(realDest, resolved) {
			return x.fail(link[0], "symbolic link resolves outside the destination directory")
		}
	}
	// Directory modes last, deepest first, so read-only directories could be filled.
	for i := len(x.dirOrder) - 1; i >= 0; i-- {
		d := x.dirOrder[i]
		if err := os.Chmod(d, x.dirModes[d]); err != nil {
			return fmt.Errorf("extract %s: %w", x.src, err)
		}
	}
	return nil
}

// checkName returns the cleaned slash path of name, refusing absolute and escaping paths.
func (x *extractor) checkName(name string) (string, error) {
	slashed := strings.ReplaceAll(name, `\`, "/")
	if name == "" {
		return "", x.fail(name, "empty name")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "", x.fail(name, "control character in the name")
		}
	}
	if path.IsAbs(slashed) || filepath.IsAbs(name) || filepath.VolumeName(name) != "" || (len(slashed) > 1 && slashed[1] == ':') {
		return "", x.fail(name, "absolute path")
	}
	rel := path.Clean(slashed)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", x.fail(name, "path escapes the destination directory")
	}
	return rel, nil
}

// checkParents refuses an entry whose existing parent directories include a symbolic link,
// so that nothing is written through a link.
func (x *extractor) checkParents(name, rel string) error {
	dir := x.dest
	parts := strings.Split(rel, "/")
	for _, p := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, p)
		st, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", x.src, err)
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return x.fail(name, "its parent %q is a symbolic link", p)
		}
		if !st.IsDir() {
			return x.fail(name, "its parent %q is not a directory", p)
		}
	}
	return nil
}

func (x *extractor) mkdir(name, target string) error {
	st, err := os.Lstat(target)
	switch {
	case err == nil && st.IsDir():
		return nil
	case err == nil:
		return x.fail(name, "a non-directory with that name was extracted before")
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("extract %s: %w", x.src, err)
	}
	return nil
}

// removeExisting deletes a previously extracted non-directory at target (a later entry wins),
// so that a symbolic link there is replaced, never followed.
func (x *extractor) removeExisting(name, target string) error {
	st, err := os.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("extract %s: %w", x.src, err)
	}
	if st.IsDir() {
		return x.fail(name, "a directory with that name was extracted before")
	}
	if err := os.Remove(target); err != nil {
		return fmt.Errorf("extract %s: %w", x.src, err)
	}
	return nil
}

func (x *extractor) writeFile(name, target string, mode fs.FileMode, r io.Reader, size int64) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("extract %s: %w", x.src, err)
	}
	if err := x.removeExisting(name, target); err != nil {
		return err
	}
	out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("extract %s: %w", x.src, err)
	}
	if _, err := io.CopyN(out, r, size); err != nil {
		out.Close()
		return fmt.Errorf("extract %s: %s: %w", x.src, name, err)
	}
	if err := out.Chmod(mode); err != nil { // not subject to the umask
		out.Close()
		return fmt.Errorf("extract %s: %w", x.src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("extract %s: %w", x.src, err)
	}
	return nil
}

func (x *extractor) symlink(name, rel, target, linkname string) error {
	if linkname == "" {
		return x.fail(name, "symbolic link with an empty target")
	}
	ln := strings.ReplaceAll(linkname, `\`, "/")
	if path.IsAbs(ln) || filepath.IsAbs(linkname) || filepath.VolumeName(linkname) != "" {
		return x.fail(name, "symbolic link to absolute path %q", linkname)
	}
	resolved := path.Join(path.Dir(rel), ln)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return x.fail(name, "symbolic link to %q escapes the destination directory", linkname)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("extract %s: %w", x.src, err)
	}
	if err := x.removeExisting(name, target); err != nil {
		return err
	}
	if err := os.Symlink(linkname, target); err != nil {
		return fmt.Errorf("extract %s: %w", x.src, err)
	}
	x.symlinks = append(x.symlinks, [2]string{name, target})
	return nil
}

// within reports whether p is root or below it (both cleaned, absolute or not alike).
func within(root, p string) bool {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return false
	}
	return r == "." || (r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)))
}
