// Package bom writes and reads Apple "bill of materials" files (BOMStore),
// the Bom member of a macOS component package, and prints them as lsbom does.
//
// Writing the Bom of a payload (paths as in the payload: ".", "./opt", ...;
// every parent must be listed; files carry their size and cksum CRC):
//
//	crc, size, _ := bom.Cksum(bytes.NewReader(secret)) // or tee a bom.NewCksum()
//	err := bom.Write(w, []bom.Entry{
//		{Path: ".", Mode: 0o40755, GID: 80},
//		{Path: "./opt", Mode: 0o40755, GID: 80},
//		{Path: "./opt/secret.txt", Mode: 0o100600, GID: 80, Size: uint32(size), Checksum: crc},
//		{Path: "./opt/link", Mode: 0o120755, Linkname: "secret.txt"}, // size and CRC computed
//	})
//
// Reading and listing:
//
//	entries, err := bom.Read(r, size)
//	err = bom.Lsbom(os.Stdout, entries)
//
// The block layout follows the Boms Apple's tools write (BomInfo, Paths,
// HLIndex, VIndex, Size64); see ../shared/bom-facts.md in the project notes.
package bom

import (
	"fmt"
	"io"
	"io/fs"
	"time"
)

// Kind is the type byte of an entry's metadata.
type Kind uint8

// Entry kinds as Apple numbers them.
const (
	File    Kind = 1
	Dir     Kind = 2
	Symlink Kind = 3
	Device  Kind = 4
)

// Entry is one path of a Bom.
type Entry struct {
	// Path is "." for the root, else "./a/b".
	Path string
	// Kind is the entry type; when zero, the writer takes it from Mode's type bits.
	Kind Kind
	// Mode is the Unix st_mode with type bits (0o40755, 0o100644, 0o120755).
	// Use UnixMode to convert an fs.FileMode.
	Mode     uint16
	UID, GID uint32
	ModTime  time.Time
	// Size and Checksum (POSIX cksum CRC) describe a file's data; for a
	// symlink the writer computes them from Linkname.
	Size     uint32
	Checksum uint32
	Linkname string
	Dev      uint32 // device number (Device entries)
}

// UnixMode converts an fs.FileMode to the st_mode a Bom stores.
func UnixMode(m fs.FileMode) uint16 {
	u := uint16(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	switch {
	case m.IsDir():
		u |= 0o40000
	case m&fs.ModeSymlink != 0:
		u |= 0o120000
	case m&fs.ModeCharDevice != 0:
		u |= 0o20000
	case m&fs.ModeDevice != 0:
		u |= 0o60000
	default:
		u |= 0o100000
	}
	return u
}

func kindOf(mode uint16) (Kind, error) {
	switch mode & 0o170000 {
	case 0o40000:
		return Dir, nil
	case 0o100000:
		return File, nil
	case 0o120000:
		return Symlink, nil
	case 0o20000, 0o60000:
		return Device, nil
	}
	return 0, fmt.Errorf("mode %o has no supported file type", mode)
}

// Lsbom writes entries as `lsbom` prints them by default, one line each,
// every field followed by a tab: directories "PATH MODE UID/GID", files
// "... SIZE CRC", symlinks "... SIZE CRC TARGET", devices "... DEV".
// An entry without a Kind is typed by its Mode.
func Lsbom(w io.Writer, entries []Entry) error {
	for _, e := range entries {
		kind := e.Kind
		if kind == 0 {
			kind, _ = kindOf(e.Mode)
		}
		var err error
		switch kind {
		case File:
			_, err = fmt.Fprintf(w, "%s\t%o\t%d/%d\t%d\t%d\t\n", e.Path, e.Mode, e.UID, e.GID, e.Size, e.Checksum)
		case Symlink:
			_, err = fmt.Fprintf(w, "%s\t%o\t%d/%d\t%d\t%d\t%s\t\n", e.Path, e.Mode, e.UID, e.GID, e.Size, e.Checksum, e.Linkname)
		case Device:
			_, err = fmt.Fprintf(w, "%s\t%o\t%d/%d\t%d\t\n", e.Path, e.Mode, e.UID, e.GID, e.Dev)
		default:
			_, err = fmt.Fprintf(w, "%s\t%o\t%d/%d\t\n", e.Path, e.Mode, e.UID, e.GID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
