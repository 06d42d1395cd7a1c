// Package cfb writes and reads compound files ([MS-CFB], "OLE structured
// storage"), the container of Windows Installer databases.
//
// The writer is streaming: every stream is declared up front with its size and
// a function that opens it, so the whole sector layout is known before the
// first byte is written and a 200 MB stream is copied straight to the output,
// never held in memory. It writes version 3 files (512-byte sectors), uses a
// DIFAT when the FAT outgrows the header, always gives the root a non-empty
// mini stream (relic's comdoc panics on an empty one) and is deterministic: no
// timestamps, sorted directory tree, caller-given root CLSID.
//
//	w := cfb.NewWriter(cfb.MSIDatabaseCLSID)
//	w.AddBytes("\x05SummaryInformation", summary)
//	w.Add("big", size, func() (io.ReadCloser, error) { return os.Open(path) })
//	_, err := w.WriteTo(out)
//
// Reading is done with github.com/richardlehane/mscfb, wrapped in Open.
// Only streams directly under the root storage are supported, which is all a
// Windows Installer database uses.
package cfb

import (
	"github.com/pkgctl/pkgctl/internal/iox"

	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"unicode"
	"unicode/utf16"
)

// CLSID is a class identifier in its on-disk (mixed-endian GUID) byte order.
type CLSID [16]byte

// MSIDatabaseCLSID is the root CLSID of an installer database,
// {000C1084-0000-0000-C000-000000000046}.
var MSIDatabaseCLSID = CLSID{0x84, 0x10, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}

const (
	sectorSize      = 512
	miniSectorSize  = 64
	miniCutoff      = 4096
	dirEntrySize    = 128
	maxNameLen      = 31 // UTF-16 code units, without the terminating NUL
	maxStreamSize   = 1<<31 - 1
	headerDIFATLen  = 109
	entriesPerFAT   = sectorSize / 4
	fatPerDIFAT     = entriesPerFAT - 1
	dirPerSector    = sectorSize / dirEntrySize
	regSect         = 0xFFFFFFFA // largest regular sector number + 1
	difSect         = 0xFFFFFFFC
	fatSect         = 0xFFFFFFFD
	endOfChain      = 0xFFFFFFFE
	freeSect        = 0xFFFFFFFF
	noStream        = 0xFFFFFFFF
	typeStream      = 2
	typeRoot        = 5
	colorRed        = 0
	colorBlack      = 1
	headerSignature = 0xE11AB1A1E011CFD0
)

type stream struct {
	name  string
	u16   []uint16
	size  int64
	open  func() (io.ReadCloser, error)
	start uint32 // first sector or mini sector
}

// Writer collects the streams of one compound file. It is not safe for
// concurrent use.
type Writer struct {
	clsid   CLSID
	streams []*stream
	names   map[string]bool
}

// NewWriter returns a Writer whose root storage carries clsid.
func NewWriter(clsid CLSID) *Writer {
	return &Writer{clsid: clsid, names: map[string]bool{}}
}

// Add declares a stream of exactly size bytes; open is called once, while
// WriteTo runs, and must yield exactly size bytes.
func (w *Writer) Add(name string, size int64, open func() (io.ReadCloser, error)) error {
	u := utf16.Encode([]rune(name))
	switch {
	case len(u) == 0:
		return errors.New("cfb: empty stream name")
	case len(u) > maxNameLen:
		return fmt.Errorf("cfb: stream name %q is %d UTF-16 units long, the limit is %d", name, len(u), maxNameLen)
	case size < 0 || size > maxStreamSize:
		return fmt.Errorf("cfb: stream %q: size %d out of range (0..%d)", name, size, maxStreamSize)
	case open == nil:
		return fmt.Errorf("cfb: stream %q: nil open function", name)
	}
	for _, c := range u {
		if c == 0 || c == '/' || c == '\\' || c == ':' || c == '!' {
			return fmt.Errorf("cfb: stream name %q contains a forbidden character", name)
		}
	}
	key := upperKey(u)
	if w.names[key] {
		return fmt.Errorf("cfb: duplicate stream name %q (names compare case-insensitively)", name)
	}
	w.names[key] = true
	w.streams = append(w.streams, &stream{name: name, u16: u, size: size, open: open})
	return nil
}

// AddBytes declares a stream holding data (which must not change until
// WriteTo returns).
func (w *Writer) AddBytes(name string, data []byte) error {
	return w.Add(name, int64(len(data)), func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// upperKey is the uppercase form CFB compares names by.
func upperKey(u []uint16) string {
	up := make([]rune, len(u))
	for i, c := range u {
		up[i] = upper16(c)
	}
	return string(up)
}

func upper16(c uint16) rune {
	r := rune(c)
	if r >= 0xD800 && r <= 0xDFFF { // surrogates are compared as they are
		return r
	}
	u := unicode.ToUpper(r)
	if u > 0xFFFF {
		return r
	}
	return u
}

// compareNames is CFB's directory order: shorter names first, then by
// uppercase UTF-16 code unit.
func compareNames(a, b []uint16) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	for i := range a {
		x, y := upper16(a[i]), upper16(b[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// layout is the sector plan of the whole file.
type layout struct {
	big, small        []*stream
	miniStreamSize    int64  // bytes, multiple of 64
	miniStreamStart   uint32 // first sector of the mini stream
	miniStreamSectors uint32
	miniFATStart      uint32
	miniFATSectors    uint32
	dirStart          uint32
	dirSectors        uint32
	fatStart          uint32
	fatSectors        uint32
	difatStart        uint32
	difatSectors      uint32
	total             uint32 // sectors in the file
}

func sectorsFor(n, size int64) int64 { return (n + size - 1) / size }

func (w *Writer) plan() (*layout, error) {
	l := &layout{}
	var next int64
	for _, s := range w.streams {
		if s.size >= miniCutoff {
			l.big = append(l.big, s)
			s.start = uint32(next)
			next += sectorsFor(s.size, sectorSize)
		} else {
			l.small = append(l.small, s)
		}
	}
	var mini int64
	for _, s := range l.small {
		s.start = endOfChain
		if s.size > 0 {
			s.start = uint32(mini)
			mini += sectorsFor(s.size, miniSectorSize)
		}
	}
	if mini == 0 {
		// One free mini sector keeps the mini stream non-empty: readers
		// such as relic's comdoc cannot add streams to an empty one.
		mini = 1
	}
	l.miniStreamSize = mini * miniSectorSize
	l.miniStreamStart = uint32(next)
	l.miniStreamSectors = uint32(sectorsFor(l.miniStreamSize, sectorSize))
	next += int64(l.miniStreamSectors)
	l.miniFATStart = uint32(next)
	l.miniFATSectors = uint32(sectorsFor(mini*4, sectorSize))
	next += int64(l.miniFATSectors)
	l.dirStart = uint32(next)
	l.dirSectors = uint32(sectorsFor(int64(len(w.streams)+1), dirPerSector))
	next += int64(l.dirSectors)
	// The FAT covers itself and the DIFAT: grow both to a fixed point.
	var fat, difat int64
	for {
		all := next + fat + difat
		nf := sectorsFor(all, entriesPerFAT)
		nd := int64(0)
		if nf > headerDIFATLen {
			nd = sectorsFor(nf-headerDIFATLen, fatPerDIFAT)
		}
		if nf == fat && nd == difat {
			break
		}
		fat, difat = nf, nd
	}
	l.fatStart = uint32(next)
	l.fatSectors = uint32(fat)
	next += fat
	l.difatStart = uint32(next)
	l.difatSectors = uint32(difat)
	next += difat
	if next >= regSect {
		return nil, errors.New("cfb: file too large for version 3")
	}
	l.total = uint32(next)
	return l, nil
}

// countingWriter tracks how much was written, and pads to an offset.
type countingWriter struct{ iox.CountingWriter }

var zeros [sectorSize]byte

func (c *countingWriter) pad(to int64) error {
	for c.N < to {
		n := to - c.N
		if n > sectorSize {
			n = sectorSize
		}
		if _, err := c.Write(zeros[:n]); err != nil {
			return err
		}
	}
	return nil
}

// WriteTo writes the compound file to out. Stream data goes first, then the
// mini stream, mini FAT, directory, FAT and DIFAT.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	l, err := w.plan()
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{iox.CountingWriter{W: out}}
	if _, err := cw.Write(w.header(l)); err != nil {
		return cw.N, err
	}
	for _, s := range l.big {
		if err := copyStream(cw, s); err != nil {
			return cw.N, err
		}
		if err := cw.pad(sectorOffset(s.start) + sectorsFor(s.size, sectorSize)*sectorSize); err != nil {
			return cw.N, err
		}
	}
	// The mini stream: small streams, each padded to 64 bytes.
	base := sectorOffset(l.miniStreamStart)
	for _, s := range l.small {
		if s.size == 0 {
			continue
		}
		if err := copyStream(cw, s); err != nil {
			return cw.N, err
		}
		if err := cw.pad(base + int64(s.start)*miniSectorSize + sectorsFor(s.size, miniSectorSize)*miniSectorSize); err != nil {
			return cw.N, err
		}
	}
	if err := cw.pad(sectorOffset(l.miniFATStart)); err != nil {
		return cw.N, err
	}
	tables := [][]byte{w.miniFAT(l), w.directory(l), w.fat(l), w.difat(l)}
	for _, t := range tables {
		if _, err := cw.Write(t); err != nil {
			return cw.N, err
		}
	}
	if cw.N != sectorOffset(l.total) {
		return cw.N, fmt.Errorf("cfb: internal error: wrote %d bytes, planned %d", cw.N, sectorOffset(l.total))
	}
	return cw.N, nil
}

func sectorOffset(s uint32) int64 { return int64(s+1) * sectorSize }

func copyStream(w io.Writer, s *stream) error {
	rc, err := s.open()
	if err != nil {
		return fmt.Errorf("cfb: open stream %q: %w", s.name, err)
	}
	defer rc.Close()
	n, err := io.Copy(w, io.LimitReader(rc, s.size))
	if err != nil {
		return fmt.Errorf("cfb: copy stream %q: %w", s.name, err)
	}
	if n != s.size {
		return fmt.Errorf("cfb: stream %q gave %d bytes, declared %d", s.name, n, s.size)
	}
	var one [1]byte
	if m, _ := rc.Read(one[:]); m != 0 {
		return fmt.Errorf("cfb: stream %q is longer than its declared %d bytes", s.name, s.size)
	}
	return rc.Close()
}

func (w *Writer) header(l *layout) []byte {
	h := make([]byte, sectorSize)
	le := binary.LittleEndian
	le.PutUint64(h[0:], headerSignature)
	// h[8:24] header CLSID: zero
	le.PutUint16(h[24:], 0x003E) // minor version
	le.PutUint16(h[26:], 0x0003) // major version 3
	le.PutUint16(h[28:], 0xFFFE) // byte order
	le.PutUint16(h[30:], 9)      // sector shift
	le.PutUint16(h[32:], 6)      // mini sector shift
	// 34..40 reserved, 40 directory sector count (0 in v3)
	le.PutUint32(h[44:], l.fatSectors)
	le.PutUint32(h[48:], l.dirStart)
	// 52 transaction signature 0
	le.PutUint32(h[56:], miniCutoff)
	le.PutUint32(h[60:], l.miniFATStart)
	le.PutUint32(h[64:], l.miniFATSectors)
	if l.difatSectors > 0 {
		le.PutUint32(h[68:], l.difatStart)
	} else {
		le.PutUint32(h[68:], endOfChain)
	}
	le.PutUint32(h[72:], l.difatSectors)
	for i := uint32(0); i < headerDIFATLen; i++ {
		v := uint32(freeSect)
		if i < l.fatSectors {
			v = l.fatStart + i
		}
		le.PutUint32(h[76+4*i:], v)
	}
	return h
}

func putChain(tab []uint32, start, n uint32) {
	for i := uint32(0); i < n; i++ {
		if i == n-1 {
			tab[start+i] = endOfChain
		} else {
			tab[start+i] = start + i + 1
		}
	}
}

func encodeTable(tab []uint32, sectors uint32) []byte {
	b := make([]byte, int(sectors)*sectorSize)
	for i := range b {
		b[i] = 0xFF // FREESECT
	}
	for i, v := range tab {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func (w *Writer) miniFAT(l *layout) []byte {
	tab := make([]uint32, l.miniStreamSize/miniSectorSize)
	for i := range tab {
		tab[i] = freeSect
	}
	for _, s := range l.small {
		if s.size > 0 {
			putChain(tab, s.start, uint32(sectorsFor(s.size, miniSectorSize)))
		}
	}
	return encodeTable(tab, l.miniFATSectors)
}

func (w *Writer) fat(l *layout) []byte {
	tab := make([]uint32, l.total)
	for _, s := range l.big {
		putChain(tab, s.start, uint32(sectorsFor(s.size, sectorSize)))
	}
	putChain(tab, l.miniStreamStart, l.miniStreamSectors)
	putChain(tab, l.miniFATStart, l.miniFATSectors)
	putChain(tab, l.dirStart, l.dirSectors)
	for i := uint32(0); i < l.fatSectors; i++ {
		tab[l.fatStart+i] = fatSect
	}
	for i := uint32(0); i < l.difatSectors; i++ {
		tab[l.difatStart+i] = difSect
	}
	return encodeTable(tab, l.fatSectors)
}

func (w *Writer) difat(l *layout) []byte {
	b := make([]byte, int(l.difatSectors)*sectorSize)
	for i := range b {
		b[i] = 0xFF
	}
	fat := l.fatStart + headerDIFATLen
	left := int64(l.fatSectors) - headerDIFATLen
	for d := uint32(0); d < l.difatSectors; d++ {
		sec := b[int(d)*sectorSize:]
		for i := 0; i < fatPerDIFAT && left > 0; i++ {
			binary.LittleEndian.PutUint32(sec[4*i:], fat)
			fat++
			left--
		}
		next := uint32(endOfChain)
		if d+1 < l.difatSectors {
			next = l.difatStart + d + 1
		}
		binary.LittleEndian.PutUint32(sec[4*fatPerDIFAT:], next)
	}
	return b
}

type dirEntry struct {
	u16         []uint16
	typ, color  byte
	left, right uint32
	child       uint32
	clsid       CLSID
	start       uint32
	size        uint64
}

func (w *Writer) directory(l *layout) []byte {
	n := len(w.streams)
	entries := make([]dirEntry, n+1)
	entries[0] = dirEntry{u16: utf16.Encode([]rune("Root Entry")), typ: typeRoot, color: colorBlack,
		left: noStream, right: noStream, clsid: w.clsid, start: l.miniStreamStart, size: uint64(l.miniStreamSize)}
	for i, s := range w.streams {
		entries[i+1] = dirEntry{u16: s.u16, typ: typeStream, color: colorBlack,
			left: noStream, right: noStream, child: noStream, start: s.start, size: uint64(s.size)}
	}
	// Children of the root form a balanced binary search tree in CFB
	// name order; nodes on the deepest level of an incomplete tree are
	// red so every path has the same number of black nodes.
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i + 1)
	}
	sort.Slice(ids, func(a, b int) bool { return compareNames(entries[ids[a]].u16, entries[ids[b]].u16) < 0 })
	depth := 0
	for (1<<(depth+1))-1 < n {
		depth++
	}
	perfect := (1<<(depth+1))-1 == n
	var build func(lo, hi, d int) uint32
	build = func(lo, hi, d int) uint32 {
		if lo >= hi {
			return noStream
		}
		mid := (lo + hi) / 2
		id := ids[mid]
		e := &entries[id]
		e.left = build(lo, mid, d+1)
		e.right = build(mid+1, hi, d+1)
		if d == depth && !perfect {
			e.color = colorRed
		}
		return id
	}
	entries[0].child = build(0, n, 0)

	b := make([]byte, int(l.dirSectors)*sectorSize)
	for i := 0; i < int(l.dirSectors)*dirPerSector; i++ {
		e := b[i*dirEntrySize : (i+1)*dirEntrySize]
		if i > n {
			// Unused entry: empty, siblings and child NOSTREAM.
			binary.LittleEndian.PutUint32(e[68:], noStream)
			binary.LittleEndian.PutUint32(e[72:], noStream)
			binary.LittleEndian.PutUint32(e[76:], noStream)
			continue
		}
		d := entries[i]
		for j, c := range d.u16 {
			binary.LittleEndian.PutUint16(e[2*j:], c)
		}
		binary.LittleEndian.PutUint16(e[64:], uint16(2*(len(d.u16)+1)))
		e[66] = d.typ
		e[67] = d.color
		binary.LittleEndian.PutUint32(e[68:], d.left)
		binary.LittleEndian.PutUint32(e[72:], d.right)
		binary.LittleEndian.PutUint32(e[76:], d.child)
		copy(e[80:96], d.clsid[:])
		// 96 state bits, 100 creation time, 108 modified time: zero.
		binary.LittleEndian.PutUint32(e[116:], d.start)
		binary.LittleEndian.PutUint64(e[120:], d.size)
	}
	return b
}
