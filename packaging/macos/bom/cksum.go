package bom

import (
	"encoding/binary"
	"hash"
	"io"
)

// cksumTables are the MSB-first CRC-32 tables of polynomial 0x04C11DB7, the
// CRC of POSIX cksum (zlib's crc32 is the bit-reversed variant), for slicing
// by 8: cksumTables[k][b] is the CRC of byte b followed by k zero bytes. Eight
// bytes per step keep the Bom's CRC out of a build's profile.
var cksumTables = func() (t [8][256]uint32) {
	for i := range t[0] {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[0][i] = c
	}
	for k := 1; k < 8; k++ {
		for i := range t[k] {
			p := t[k-1][i]
			t[k][i] = p<<8 ^ t[0][p>>24]
		}
	}
	return t
}()

// cksumTable is the one-byte table.
var cksumTable = &cksumTables[0]

// Digest computes POSIX cksum's CRC; it implements hash.Hash32. Sum32
// appends the length, as cksum does, without changing the state.
type Digest struct {
	crc uint32
	n   uint64
}

var _ hash.Hash32 = (*Digest)(nil)

// NewCksum returns a Digest to tee data through.
func NewCksum() *Digest { return &Digest{} }

func (d *Digest) Write(p []byte) (int, error) {
	n := len(p)
	c := d.crc
	d.n += uint64(n)
	t := &cksumTables
	for len(p) >= 8 {
		c ^= binary.BigEndian.Uint32(p)
		c = t[7][c>>24] ^ t[6][byte(c>>16)] ^ t[5][byte(c>>8)] ^ t[4][byte(c)] ^
			t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]]
		p = p[8:]
	}
	for _, b := range p {
		c = c<<8 ^ cksumTable[byte(c>>24)^b]
	}
	d.crc = c
	return n, nil
}

// Sum32 returns what cksum prints as the first field.
func (d *Digest) Sum32() uint32 {
	c := d.crc
	for n := d.n; n != 0; n >>= 8 {
		c = c<<8 ^ cksumTable[byte(c>>24)^byte(n)]
	}
	return ^c
}

// Len returns the number of bytes written.
func (d *Digest) Len() int64 { return int64(d.n) }

func (d *Digest) Sum(b []byte) []byte {
	s := d.Sum32()
	return append(b, byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}
func (d *Digest) Reset()         { *d = Digest{} }
func (d *Digest) Size() int      { return 4 }
func (d *Digest) BlockSize() int { return 1 }

// Cksum returns the CRC and length of r's data as `cksum` prints them.
func Cksum(r io.Reader) (crc uint32, size int64, err error) {
	d := NewCksum()
	if _, err := io.Copy(d, r); err != nil {
		return 0, 0, err
	}
	return d.Sum32(), d.Len(), nil
}
