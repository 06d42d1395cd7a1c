package linux

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5" //nolint:gosec // .MTREE lists MD5s, as makepkg writes them
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/internal/scratch"
	"github.com/pkgctl/pkgctl/packaging"
)

// archFill gives an Arch package's empty files their contents, as debFill
// does for a deb: nfpm compresses each package whole with zstd, so pkgctl
// has it build from empty files and writes the package as zstd frames: each
// component file's content is one frame compressed once per matrix and
// shared, the package's own tar bytes are frames of their own (a zstd file
// may hold any number of frames). .PKGINFO's size and the .MTREE's sizes and
// digests are set as nfpm would have set them.
type archFill struct {
	bodies map[string]fileBody
	added  int64                // bytes the filled files add to .PKGINFO's size
	sums   map[string][2]string // filled or patched entries: installed path → md5, sha256
	sizes  int64                // the new .PKGINFO's size
	frames *zstd.Encoder        // the package's own bytes, one frame per flush
	tail   bytes.Buffer         // own bytes waiting for their frame
}

func newArchFill(bodies map[string]fileBody) (*archFill, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	return &archFill{bodies: bodies, sums: map[string][2]string{}, frames: enc}, nil
}

// flush writes the pending own bytes as a frame.
func (a *archFill) flush(w io.Writer) error {
	if a.tail.Len() == 0 {
		return nil
	}
	_, err := w.Write(a.frames.EncodeAll(a.tail.Bytes(), nil))
	a.tail.Reset()
	return err
}

// rewrite reads nfpm's tar (decompressed) from r and writes the package to w.
func (a *archFill) rewrite(ctx context.Context, r io.Reader, w io.Writer) error {
	err := eachEntry(r, func(tr *tar.Reader, hdr *tar.Header) (err error) {
		key, b, fill := emptyBody(a.bodies, hdr)
		var body []byte
		switch {
		case fill:
			hdr.Size = b.size
		case hdr.Name == ".PKGINFO" || hdr.Name == ".MTREE":
			if body, err = io.ReadAll(tr); err != nil {
				return err
			}
			if body, err = a.patch(hdr.Name, body); err != nil {
				return fmt.Errorf("%s: %w", hdr.Name, err)
			}
			hdr.Size = int64(len(body))
		case hdr.Size > 64<<20:
			return fmt.Errorf("%s: %d bytes that nfpm should have had empty", hdr.Name, hdr.Size)
		default:
			if body, err = io.ReadAll(tr); err != nil {
				return err
			}
		}
		if err := writeTarHeader(&a.tail, hdr); err != nil {
			return err
		}
		if fill {
			if err := a.writeContent(ctx, w, b, key); err != nil {
				return err
			}
		} else {
			a.tail.Write(body)
		}
		a.tail.Write(make([]byte, (512-hdr.Size%512)%512))
		if a.tail.Len() > 1<<20 {
			return a.flush(w)
		}
		return nil
	})
	if err == nil {
		err = allFilled(a.bodies, a.sums)
	}
	if err != nil {
		return err
	}
	a.tail.Write(make([]byte, 1024)) // the end of the archive
	return a.flush(w)
}

// writeContent puts b's shared frame in the package.
func (a *archFill) writeContent(ctx context.Context, w io.Writer, b fileBody, key string) error {
	if err := a.flush(w); err != nil {
		return err
	}
	c, err := sharedFrame(ctx, b)
	if err != nil {
		return fmt.Errorf("content of %s: %w", key, err)
	}
	m, err := c.MD5()
	if err != nil {
		return fmt.Errorf("content of %s: %w", key, err)
	}
	s, err := c.SHA256()
	if err != nil {
		return fmt.Errorf("content of %s: %w", key, err)
	}
	if _, err := io.Copy(w, io.NewSectionReader(c.f, 0, c.n)); err != nil {
		return err
	}
	packaging.Count(ctx, b.size)
	a.sums[key] = [2]string{m, s}
	a.added += b.size
	return nil
}

var pkginfoSize = regexp.MustCompile(`(?m)^size = (\d+)$`)

// patch returns .PKGINFO with the filled files' size added, or .MTREE with
// the sizes and digests of the filled files and of the new .PKGINFO.
func (a *archFill) patch(name string, body []byte) ([]byte, error) {
	if name == ".PKGINFO" {
		m := pkginfoSize.FindSubmatchIndex(body)
		if m == nil {
			return nil, errors.New("no size line")
		}
		n, err := strconv.ParseInt(string(body[m[2]:m[3]]), 10, 64)
		if err != nil {
			return nil, err
		}
		out := append(append(bytes.Clone(body[:m[2]]), strconv.FormatInt(n+a.added, 10)...), body[m[3]:]...)
		md, sh := md5.Sum(out), sha256.Sum256(out) //nolint:gosec
		a.sums["/.PKGINFO"] = [2]string{hex.EncodeToString(md[:]), hex.EncodeToString(sh[:])}
		a.sizes = int64(len(out))
		return out, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	lines := strings.SplitAfter(string(text), "\n")
	for i, l := range lines {
		fields := strings.Fields(l)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], "./") {
			continue
		}
		key := installedPath(fields[0])
		sums, ok := a.sums[key]
		if !ok {
			continue
		}
		size := a.sizes
		if key != "/.PKGINFO" {
			size = a.bodies[key].size
		}
		for j, f := range fields {
			switch {
			case strings.HasPrefix(f, "size="):
				fields[j] = "size=" + strconv.FormatInt(size, 10)
			case strings.HasPrefix(f, "md5digest="):
				fields[j] = "md5digest=" + sums[0]
			case strings.HasPrefix(f, "sha256digest="):
				fields[j] = "sha256digest=" + sums[1]
			}
		}
		lines[i] = strings.Join(fields, " ") + "\n"
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write([]byte(strings.Join(lines, "")))
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return flatecheck.FixGzip(out.Bytes())
}

// frame is a component file compressed once for every Arch package of a
// matrix: one zstd frame in a nameless file, with the file's digests.
type frame struct {
	content
	f *os.File
	n int64
}

func (f *frame) Close() error { return scratch.Close(f.f) }

// sharedFrame returns b's content as a zstd frame (nfpm's level), made by
// the first build of the fetch that needs it.
func sharedFrame(ctx context.Context, b fileBody) (*frame, error) {
	key := fmt.Sprintf("zstd frame\x00%s\x00%d", b.path, b.size)
	v, err := packaging.SharedFrom(ctx).Value(key, func() (any, error) {
		f, err := scratch.File("", "frame")
		if err != nil {
			return nil, err
		}
		fr := &frame{content: content{path: b.path, size: b.size}, f: f}
		m, s := md5.New(), sha256.New() //nolint:gosec
		err = readBody(b, func(r io.Reader) error {
			zw, err := zstd.NewWriter(f)
			if err != nil {
				return err
			}
			_, err = io.Copy(zw, io.TeeReader(r, io.MultiWriter(m, s)))
			if cerr := zw.Close(); err == nil {
				err = cerr
			}
			return err
		})
		if err == nil {
			fr.n, err = f.Seek(0, io.SeekCurrent)
		}
		if err != nil {
			scratch.Close(f)
			return nil, err
		}
		fr.md5.set(m)
		fr.sha.set(s)
		return fr, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*frame), nil
}
