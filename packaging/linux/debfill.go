package linux

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5" //nolint:gosec // md5sums is the format dpkg reads
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/pkgctl/pkgctl/packaging"
)

// debFill gives a deb's empty files their contents. nfpm v2.45.2 holds the
// whole compressed data tarball in memory and compresses it once more than
// needed (the rewrite gzips it again), so pkgctl builds the deb from empty
// files; the rewrite then streams each file's content into data.tar and
// puts its MD5 in md5sums and the total in Installed-Size, as nfpm would.
type debFill struct {
	bodies       map[string]fileBody // by installed path ("/opt/...")
	installedKiB int64               // Installed-Size: every regular file, in KiB
	md5          map[string]string   // what was filled: installed path → hex MD5
}

// fileBody is a file nfpm was given empty.
type fileBody struct {
	path string
	size int64
}

// installedPath is the key of a data.tar or md5sums name ("./opt/x", "opt/x").
func installedPath(name string) string { return path.Clean("/" + name) }

// fillTar copies the tar stream r to w, writing each empty regular file that
// has a body with its content.
func (d *debFill) fillTar(ctx context.Context, w io.Writer, r io.Reader) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		key := installedPath(hdr.Name)
		b, ok := d.bodies[key]
		if !ok || hdr.Typeflag != tar.TypeReg || hdr.Size != 0 {
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return err
			}
			continue
		}
		hdr.Size = b.size
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		sum, err := copyBody(ctx, tw, b, key)
		if err != nil {
			return err
		}
		d.md5[key] = sum
	}
	if len(d.md5) != len(d.bodies) {
		for key := range d.bodies {
			if _, ok := d.md5[key]; !ok {
				return fmt.Errorf("data.tar has no empty file %s to fill", key)
			}
		}
	}
	return tw.Close()
}

// copyBody writes b's content to w and returns its MD5.
func copyBody(ctx context.Context, w io.Writer, b fileBody, key string) (string, error) {
	f, err := os.Open(b.path)
	if err != nil {
		return "", fmt.Errorf("content of %s: %w", key, err)
	}
	defer f.Close()
	h := md5.New() //nolint:gosec
	n, err := io.Copy(io.MultiWriter(w, h), packaging.MeterReader(ctx, io.LimitReader(f, b.size+1)))
	if err != nil {
		return "", fmt.Errorf("content of %s: %w", key, err)
	}
	if n != b.size {
		return "", fmt.Errorf("content of %s: %s changed during the build (%d bytes, was %d)", key, b.path, n, b.size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// rewriteControl returns control.tar.gz with Installed-Size and the md5sums
// lines of the filled files set, gzipped as nfpm gzips it.
func (d *debFill) rewriteControl(gz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tr, tw := tar.NewReader(zr), tar.NewWriter(zw)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		switch hdr.Name {
		case "./control", "control":
			body, err = setInstalledSize(body, d.installedKiB)
		case "./md5sums", "md5sums":
			body, err = d.setMD5s(body)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", hdr.Name, err)
		}
		hdr.Size = int64(len(body))
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// setInstalledSize replaces the value of the Installed-Size field.
func setInstalledSize(control []byte, kib int64) ([]byte, error) {
	lines := strings.SplitAfter(string(control), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "Installed-Size:") {
			lines[i] = "Installed-Size: " + strconv.FormatInt(kib, 10) + "\n"
			return []byte(strings.Join(lines, "")), nil
		}
	}
	return nil, errors.New("no Installed-Size field")
}

// setMD5s replaces the digests of the filled files ("<md5>  <path>" lines).
func (d *debFill) setMD5s(sums []byte) ([]byte, error) {
	var out bytes.Buffer
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		line := sc.Text()
		digest, name, ok := strings.Cut(line, "  ")
		if !ok {
			return nil, fmt.Errorf("md5sums line %q", line)
		}
		if sum, filled := d.md5[installedPath(name)]; filled {
			digest = sum
			seen++
		}
		out.WriteString(digest + "  " + name + "\n")
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if seen != len(d.md5) {
		return nil, errors.New("md5sums does not list every filled file")
	}
	return out.Bytes(), nil
}
