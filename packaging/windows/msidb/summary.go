package msidb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"
)

// SummaryStreamName is the stream of the summary information property set.
const SummaryStreamName = "\x05SummaryInformation"

// fmtidSummary is {F29F85E0-4FF9-1068-AB91-08002B27B3D9} in its byte order.
var fmtidSummary = []byte{0xe0, 0x85, 0x9f, 0xf2, 0xf9, 0x4f, 0x68, 0x10, 0xab, 0x91, 0x08, 0x00, 0x2b, 0x27, 0xb3, 0xd9}

// Property ids and OLE variant types of the summary information set.
const (
	pidCodepage    = 1
	pidTitle       = 2
	pidSubject     = 3
	pidAuthor      = 4
	pidKeywords    = 5
	pidComments    = 6
	pidTemplate    = 7
	pidLastAuthor  = 8
	pidRevision    = 9
	pidCreated     = 12
	pidLastSaved   = 13
	pidPageCount   = 14
	pidWordCount   = 15
	pidAppName     = 18
	pidSecurity    = 19
	vtI2           = 2
	vtI4           = 3
	vtLPSTR        = 30
	vtFILETIME     = 64
	filetimeOffset = 116444736000000000 // 100 ns ticks from 1601 to 1970
)

// SummaryInfo is the summary information stream of an installer database.
// Empty strings and zero times are left out.
type SummaryInfo struct {
	Codepage            int    // 0: 1252 if every string fits, else the database's codepage
	Title               string // e.g. "Installation Database"
	Subject             string // product name
	Author              string // manufacturer
	Keywords            string // e.g. "Installer"
	Comments            string
	Template            string // platform;languages, e.g. "x64;1033" or "Arm64;1033"
	LastSavedBy         string
	RevisionNumber      string // the PackageCode GUID, "{XXXXXXXX-...}"
	Created             time.Time
	LastSaved           time.Time
	PageCount           int32 // minimum installer version, e.g. 500 for 5.0
	WordCount           int32 // 2: compressed files with long names
	Security            int32 // 2: read-only recommended
	CreatingApplication string
}

type prop struct {
	id   uint32
	vt   uint32
	i    int32
	s    string
	time time.Time
}

func (s *SummaryInfo) props(codepage int) []prop {
	var ps []prop
	str := func(id uint32, v string) {
		if v != "" {
			ps = append(ps, prop{id: id, vt: vtLPSTR, s: v})
		}
	}
	tm := func(id uint32, t time.Time) {
		if !t.IsZero() {
			ps = append(ps, prop{id: id, vt: vtFILETIME, time: t})
		}
	}
	cp := s.Codepage
	if cp == 0 {
		cp = s.defaultCodepage(codepage)
	}
	ps = append(ps, prop{id: pidCodepage, vt: vtI2, i: int32(cp)})
	str(pidTitle, s.Title)
	str(pidSubject, s.Subject)
	str(pidAuthor, s.Author)
	str(pidKeywords, s.Keywords)
	str(pidComments, s.Comments)
	str(pidTemplate, s.Template)
	str(pidLastAuthor, s.LastSavedBy)
	str(pidRevision, s.RevisionNumber)
	tm(pidCreated, s.Created)
	tm(pidLastSaved, s.LastSaved)
	ps = append(ps, prop{id: pidPageCount, vt: vtI4, i: s.PageCount})
	ps = append(ps, prop{id: pidWordCount, vt: vtI4, i: s.WordCount})
	str(pidAppName, s.CreatingApplication)
	ps = append(ps, prop{id: pidSecurity, vt: vtI4, i: s.Security})
	return ps
}

// defaultCodepage is 1252 (what WiX writes by default and what Wine assumes,
// as it decodes summary strings with the ANSI codepage) unless a string
// needs the database codepage.
func (s *SummaryInfo) defaultCodepage(dbCodepage int) int {
	for _, v := range []string{s.Title, s.Subject, s.Author, s.Keywords, s.Comments, s.Template, s.LastSavedBy, s.RevisionNumber, s.CreatingApplication} {
		if _, err := encodeString(v, CodepageWestern); err != nil {
			return dbCodepage
		}
	}
	return CodepageWestern
}

func toFiletime(t time.Time) uint64 {
	return uint64(t.UTC().UnixNano()/100 + filetimeOffset)
}

func fromFiletime(v uint64) time.Time {
	return time.Unix(0, (int64(v)-filetimeOffset)*100).UTC()
}

// encodeSummary serialises the property set (one section).
func encodeSummary(s *SummaryInfo, codepage int) ([]byte, error) {
	ps := s.props(codepage)
	cp := int(uint16(ps[0].i))
	var vals bytes.Buffer
	offsets := make([]uint32, len(ps))
	le := binary.LittleEndian
	base := uint32(8 + 8*len(ps))
	for i, p := range ps {
		offsets[i] = base + uint32(vals.Len())
		binary.Write(&vals, le, p.vt)
		switch p.vt {
		case vtI2, vtI4:
			binary.Write(&vals, le, p.i)
		case vtFILETIME:
			binary.Write(&vals, le, toFiletime(p.time))
		case vtLPSTR:
			b, err := encodeString(p.s, cp)
			if err != nil {
				return nil, fmt.Errorf("summary information property %d: %w", p.id, err)
			}
			b = append(b, 0)
			binary.Write(&vals, le, uint32(len(b)))
			vals.Write(b)
			for vals.Len()%4 != 0 {
				vals.WriteByte(0)
			}
		}
	}
	var out bytes.Buffer
	binary.Write(&out, le, uint16(0xFFFE))     // byte order
	binary.Write(&out, le, uint16(0))          // format
	binary.Write(&out, le, uint32(0x00020005)) // OS version, as msitools writes it
	out.Write(make([]byte, 16))                // CLSID
	binary.Write(&out, le, uint32(1))          // one section
	out.Write(fmtidSummary)
	binary.Write(&out, le, uint32(48)) // section offset
	binary.Write(&out, le, base+uint32(vals.Len()))
	binary.Write(&out, le, uint32(len(ps)))
	for i, p := range ps {
		binary.Write(&out, le, p.id)
		binary.Write(&out, le, offsets[i])
	}
	out.Write(vals.Bytes())
	return out.Bytes(), nil
}

// decodeSummary parses a summary information stream.
func decodeSummary(b []byte) (*SummaryInfo, error) {
	le := binary.LittleEndian
	if len(b) < 48 || le.Uint16(b) != 0xFFFE {
		return nil, errors.New("summary information: bad header")
	}
	if !bytes.Equal(b[28:44], fmtidSummary) {
		return nil, errors.New("summary information: wrong format id")
	}
	off := int(le.Uint32(b[44:]))
	if off+8 > len(b) {
		return nil, errors.New("summary information: section out of range")
	}
	sec := b[off:]
	n := int(le.Uint32(sec[4:]))
	if n > 64 || 8+8*n > len(sec) {
		return nil, errors.New("summary information: bad property count")
	}
	type raw struct{ id, off uint32 }
	var rs []raw
	for i := 0; i < n; i++ {
		rs = append(rs, raw{le.Uint32(sec[8+8*i:]), le.Uint32(sec[12+8*i:])})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].id < rs[j].id })
	s := &SummaryInfo{}
	cp := 0
	for _, r := range rs {
		if r.id == pidCodepage && int(r.off)+8 <= len(sec) {
			cp = int(uint16(le.Uint32(sec[r.off+4:])))
		}
	}
	s.Codepage = cp
	for _, r := range rs {
		if int(r.off)+8 > len(sec) {
			return nil, fmt.Errorf("summary information: property %d out of range", r.id)
		}
		v := sec[r.off:]
		vt := le.Uint32(v)
		var str string
		switch vt {
		case vtLPSTR:
			l := int(le.Uint32(v[4:]))
			if 8+l > len(v) {
				return nil, fmt.Errorf("summary information: property %d string out of range", r.id)
			}
			d := v[8 : 8+l]
			d = bytes.TrimRight(d, "\x00")
			var err error
			if str, err = decodeString(d, cp); err != nil {
				return nil, fmt.Errorf("summary information: property %d: %w", r.id, err)
			}
		case vtFILETIME:
			if len(v) < 12 {
				return nil, fmt.Errorf("summary information: property %d out of range", r.id)
			}
		}
		i := int32(le.Uint32(v[4:]))
		switch r.id {
		case pidTitle:
			s.Title = str
		case pidSubject:
			s.Subject = str
		case pidAuthor:
			s.Author = str
		case pidKeywords:
			s.Keywords = str
		case pidComments:
			s.Comments = str
		case pidTemplate:
			s.Template = str
		case pidLastAuthor:
			s.LastSavedBy = str
		case pidRevision:
			s.RevisionNumber = str
		case pidAppName:
			s.CreatingApplication = str
		case pidCreated:
			if vt == vtFILETIME {
				s.Created = fromFiletime(le.Uint64(v[4:]))
			}
		case pidLastSaved:
			if vt == vtFILETIME {
				s.LastSaved = fromFiletime(le.Uint64(v[4:]))
			}
		case pidPageCount:
			s.PageCount = i
		case pidWordCount:
			s.WordCount = i
		case pidSecurity:
			s.Security = i
		}
	}
	return s, nil
}
