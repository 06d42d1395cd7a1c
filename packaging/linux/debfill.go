package linux

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5" //nolint:gosec // md5sums is the format dpkg reads
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/pkgctl/pkgctl/internal/gzseg"
	"github.com/pkgctl/pkgctl/internal/iox"
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

func newDebFill(bodies map[string]fileBody) *debFill {
	var installed int64
	for _, b := range bodies {
		installed += b.size
	}
	return &debFill{bodies: bodies, installedKiB: installed / 1024, md5: map[string]string{}}
}

// fileBody is a file nfpm was given empty.
type fileBody struct {
	path string
	size int64
}

// installedPath is the key of a data.tar or md5sums name ("./opt/x", "opt/x").
func installedPath(name string) string { return path.Clean("/" + name) }

// fillTar copies the tar stream r to z, writing each empty regular file
// that has a body with its content: compressed once per matrix (a
// gzseg.Segment shared through packaging.Shared) and spliced in.
func (d *debFill) fillTar(ctx context.Context, z *gzseg.Writer, r io.Reader) error {
	err := eachEntry(r, func(tr *tar.Reader, hdr *tar.Header) error {
		key, b, fill := emptyBody(d.bodies, hdr)
		if fill {
			hdr.Size = b.size
		}
		if err := writeTarHeader(z, hdr); err != nil {
			return err
		}
		if fill {
			c, err := sharedContent(ctx, b, debGzipLevel, true)
			if err != nil {
				return fmt.Errorf("content of %s: %w", key, err)
			}
			sum, err := c.MD5()
			if err != nil {
				return fmt.Errorf("content of %s: %w", key, err)
			}
			if err := z.WriteSegment(c.seg); err != nil {
				return err
			}
			packaging.Count(ctx, b.size)
			d.md5[key] = sum
		} else if _, err := io.Copy(z, tr); err != nil {
			return err
		}
		_, err := z.Write(make([]byte, (512-hdr.Size%512)%512))
		return err
	})
	if err == nil {
		err = allFilled(d.bodies, d.md5)
	}
	if err != nil {
		return err
	}
	_, err = z.Write(make([]byte, 1024)) // the end of the archive
	return err
}

// eachEntry calls fn for each entry of the tar stream r, in order.
func eachEntry(r io.Reader, fn func(*tar.Reader, *tar.Header) error) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(tr, hdr); err != nil {
			return err
		}
	}
}

// allFilled reports a body the package had no empty file for.
func allFilled[V any](bodies map[string]fileBody, filled map[string]V) error {
	for key := range bodies {
		if _, ok := filled[key]; !ok {
			return fmt.Errorf("the package has no empty file %s to fill", key)
		}
	}
	return nil
}

// emptyBody returns the installed path of the tar entry hdr and, when it is
// an empty regular file with a body to fill, that body.
func emptyBody(bodies map[string]fileBody, hdr *tar.Header) (string, fileBody, bool) {
	key := installedPath(hdr.Name)
	b, ok := bodies[key]
	return key, b, ok && hdr.Typeflag == tar.TypeReg && hdr.Size == 0
}

// writeTarHeader writes hdr's blocks (extended headers included) as
// archive/tar writes them, and nothing else.
func writeTarHeader(w io.Writer, hdr *tar.Header) error {
	var buf bytes.Buffer
	if err := tar.NewWriter(&buf).WriteHeader(hdr); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// content is a component file compressed once for every package of a
// matrix, with the digests the packages list: each computed once, while the
// file is compressed if the first build needs it, else when asked for.
type content struct {
	seg  *gzseg.Segment
	path string
	size int64
	md5  digestOnce // hex, for a deb's md5sums
	sha  digestOnce // hex SHA-256, for an rpm's file digests
}

// digestOnce is a file digest computed at most once.
type digestOnce struct {
	once sync.Once
	hex  string
	err  error
}

func (c *content) Close() error { return c.seg.Close() }

// digest returns d, hashing the file with h unless that was done already.
func (c *content) digest(d *digestOnce, h hash.Hash) (string, error) {
	d.once.Do(func() {
		d.err = readBody(fileBody{path: c.path, size: c.size}, func(r io.Reader) error {
			_, err := io.Copy(h, r)
			return err
		})
		if d.err == nil {
			d.hex = hex.EncodeToString(h.Sum(nil))
		}
	})
	return d.hex, d.err
}

// set records the digest h computed while the file was compressed.
func (d *digestOnce) set(h hash.Hash) { d.once.Do(func() { d.hex = hex.EncodeToString(h.Sum(nil)) }) }

// readBody hands read the content of b, exactly b.size bytes: a file that
// changed since the build sized it is an error. read must read to the end.
func readBody(b fileBody, read func(io.Reader) error) error {
	f, err := os.Open(b.path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := &iox.CountingReader{R: io.LimitReader(f, b.size+1)}
	if err := read(cr); err != nil {
		return err
	}
	if cr.N != b.size {
		return fmt.Errorf("%s changed during the build (%d bytes, was %d)", b.path, cr.N, b.size)
	}
	return nil
}

func (c *content) MD5() (string, error)    { return c.digest(&c.md5, md5.New()) } //nolint:gosec
func (c *content) SHA256() (string, error) { return c.digest(&c.sha, sha256.New()) }

// sharedContent returns b's content compressed at level, computed by the
// first build of the fetch that needs it, with the digest that build asks
// for (md5 or not: SHA-256) computed on the way. A file that changed since
// the build sized it is an error.
func sharedContent(ctx context.Context, b fileBody, level int, md5Wanted bool) (*content, error) {
	key := fmt.Sprintf("gzseg segment\x00%d\x00%s\x00%d", level, b.path, b.size)
	v, err := packaging.SharedFrom(ctx).Value(key, func() (any, error) {
		c := &content{path: b.path, size: b.size}
		d, h := &c.sha, sha256.New()
		if md5Wanted {
			d, h = &c.md5, md5.New() //nolint:gosec
		}
		err := readBody(b, func(r io.Reader) (err error) {
			c.seg, err = gzseg.NewSegment(io.TeeReader(r, h), level)
			return err
		})
		if err != nil {
			if c.seg != nil {
				c.seg.Close()
			}
			return nil, err
		}
		d.set(h)
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*content), nil
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
	tw := tar.NewWriter(zw)
	err = eachEntry(zr, func(tr *tar.Reader, hdr *tar.Header) error {
		body, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		switch hdr.Name {
		case "./control", "control":
			body, err = setInstalledSize(body, d.installedKiB)
		case "./md5sums", "md5sums":
			body, err = d.setMD5s(body)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		hdr.Size = int64(len(body))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(body)
		return err
	})
	if err != nil {
		return nil, err
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
