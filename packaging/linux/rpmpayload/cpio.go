package rpmpayload

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// cpio "new ASCII" (newc) and its CRC variant: a 110-byte header of the magic
// and 13 eight-digit hex fields, the NUL-terminated name, padding to 4 bytes,
// the data, padding to 4 bytes.
const (
	newcHeaderSize = 110
	fieldMode      = 1  // index of c_mode among the 13 fields
	fieldFileSize  = 6  // index of c_filesize
	fieldNameSize  = 11 // index of c_namesize
	trailerName    = "TRAILER!!!"
)

// RelativeName is the member name rpmbuild writes for an installed path: "./"
// then the path without its leading "/". Other names are kept.
func RelativeName(name string) string {
	if len(name) > 0 && name[0] == '/' {
		return "." + name
	}
	return name
}

// rewriteCpio copies the newc archive r to w with every name passed through
// RelativeName; every other header field and byte is kept.
func rewriteCpio(w io.Writer, r *bufio.Reader) error {
	return rewriteCpioWith(w, r, RelativeName, nil)
}

// rewriteCpioWith is rewriteCpio with names passed through rename and, when
// fill is set, the empty files it has a Body for given their content.
func rewriteCpioWith(w io.Writer, r *bufio.Reader, rename func(string) string, fill *filler) error {
	hdr := make([]byte, newcHeaderSize)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return fmt.Errorf("cpio header: %w", noEOF(err))
		}
		magic := string(hdr[:6])
		if magic != "070701" && magic != "070702" {
			return fmt.Errorf("cpio header magic %q: only the newc format is handled", magic)
		}
		fileSize, err := hexField(hdr, fieldFileSize)
		if err != nil {
			return err
		}
		nameSize, err := hexField(hdr, fieldNameSize)
		if err != nil {
			return err
		}
		if nameSize < 1 || nameSize > maxNameSize {
			return fmt.Errorf("cpio name size %d", nameSize)
		}
		nameBuf := make([]byte, nameSize+pad4(newcHeaderSize+nameSize))
		if _, err := io.ReadFull(r, nameBuf); err != nil {
			return fmt.Errorf("cpio name: %w", noEOF(err))
		}
		if nameBuf[nameSize-1] != 0 || bytes.IndexByte(nameBuf[:nameSize-1], 0) >= 0 {
			return errors.New("cpio name is not one NUL-terminated string")
		}
		orig := string(nameBuf[:nameSize-1])
		name := rename(orig)
		if len(name) != nameSize-1 {
			copy(hdr[6+8*fieldNameSize:], fmt.Sprintf("%08X", len(name)+1))
		}
		var bodySize int64
		filling := false
		if fill != nil {
			mode, err := hexField(hdr, fieldMode)
			if err != nil {
				return err
			}
			if bodySize, filling = fill.sizeOf(orig, mode, fileSize); filling {
				if bodySize >= 1<<32 {
					return fmt.Errorf("cpio member %s: %d bytes do not fit in newc", name, bodySize)
				}
				copy(hdr[6+8*fieldFileSize:], fmt.Sprintf("%08X", bodySize))
			}
		}
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		out := append([]byte(name), 0)
		out = append(out, make([]byte, pad4(newcHeaderSize+len(out)))...)
		if _, err := w.Write(out); err != nil {
			return err
		}
		if filling {
			if err := fill.write(w, orig); err != nil {
				return err
			}
			if _, err := w.Write(make([]byte, pad4(int(bodySize%4)))); err != nil {
				return err
			}
		}
		if n, err := io.CopyN(w, r, int64(fileSize+pad4(fileSize))); err != nil {
			return fmt.Errorf("cpio data of %s (%d of %d bytes): %w", name, n, fileSize, noEOF(err))
		}
		if name == trailerName {
			// rpm writes no padding after the trailer; keep whatever follows.
			_, err := io.Copy(w, r)
			return err
		}
	}
}

func hexField(hdr []byte, i int) (int, error) {
	v, err := strconv.ParseUint(string(hdr[6+8*i:6+8*i+8]), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("cpio header field %d: %w", i, err)
	}
	return int(v), nil
}

func pad4(n int) int { return (4 - n%4) % 4 }

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
