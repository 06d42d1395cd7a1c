package msidb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/pkgctl/pkgctl/packaging/windows/cfb"
)

// StreamRef is the value read from a non-null binary column: the name of the
// stream holding the data ("Table.Key").
type StreamRef string

// ColumnInfo is a column as _Columns describes it.
type ColumnInfo struct {
	Name string
	Type int // _Columns.Type bits
}

// Nullable reports the nullable bit.
func (c ColumnInfo) Nullable() bool { return c.Type&typeNullable != 0 }

// Key reports the primary-key bit.
func (c ColumnInfo) Key() bool { return c.Type&typeKey != 0 }

func (c ColumnInfo) kind() Kind {
	switch {
	case c.Type&^typeNullable&^typeKey == typeString|typeValid:
		return Binary
	case c.Type&typeString != 0:
		return String
	case c.Type&0xff == 4:
		return Int32
	}
	return Int16
}

// TableData is a table read from a database.
type TableData struct {
	Name    string
	Columns []ColumnInfo
	Rows    [][]any // nil, string, int32 or StreamRef
	raw     [][]uint32
}

// Column returns the index of the named column, or -1.
func (t *TableData) Column(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// File is an installer database opened for reading.
type File struct {
	Codepage int
	Summary  *SummaryInfo
	Tables   []*TableData // in _Tables order
	Streams  []cfb.StreamInfo
	// RawStreams are the non-table streams (the _Streams table), by
	// decoded name, in name order.
	RawStreams []cfb.StreamInfo

	strRef  int
	strings []string
	refs    []int
	cf      *cfb.Reader
	closer  io.Closer
}

// Open opens the database at path; Close releases it.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	db, err := Read(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	db.closer = f
	return db, nil
}

// Close closes the file Open opened.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Table returns the named table, or nil.
func (f *File) Table(name string) *TableData {
	for _, t := range f.Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// OpenStream opens a raw stream by its decoded name (e.g. "cab1.cab" or
// "Binary.Icon"); the result is also an io.ReaderAt with a Size, so
// cab.Open(s, s.Size()) reads an embedded cabinet in place.
func (f *File) OpenStream(name string) (*io.SectionReader, error) {
	return f.cf.Open(EncodeStreamName(name, false))
}

// Strings returns the string pool (id 1 first).
func (f *File) Strings() []string { return append([]string(nil), f.strings...) }

// Read parses a database from ra.
func Read(ra io.ReaderAt) (*File, error) {
	cf, err := cfb.Open(ra)
	if err != nil {
		return nil, err
	}
	f := &File{cf: cf, Streams: cf.Streams()}
	if err := f.readStringPool(); err != nil {
		return nil, err
	}
	if b, err := cf.ReadStream(SummaryStreamName); err == nil {
		if f.Summary, err = decodeSummary(b); err != nil {
			return nil, err
		}
	}
	if err := f.readTables(); err != nil {
		return nil, err
	}
	for _, s := range f.Streams {
		name, isTable := DecodeStreamName(s.Name)
		if isTable || strings.HasPrefix(s.Name, "\x05") {
			continue
		}
		f.RawStreams = append(f.RawStreams, cfb.StreamInfo{Name: name, Size: s.Size})
	}
	sort.Slice(f.RawStreams, func(i, j int) bool { return f.RawStreams[i].Name < f.RawStreams[j].Name })
	return f, nil
}

func (f *File) tableStream(name string) ([]byte, bool, error) {
	enc := EncodeStreamName(name, true)
	for _, s := range f.Streams {
		if s.Name == enc {
			b, err := f.cf.ReadStream(enc)
			return b, true, err
		}
	}
	return nil, false, nil
}

func (f *File) readStringPool() error {
	pool, ok, err := f.tableStream(stringPoolName)
	if err != nil || !ok {
		return fmt.Errorf("no readable _StringPool stream: %v", err)
	}
	data, ok, err := f.tableStream(stringDataName)
	if err != nil || !ok {
		return fmt.Errorf("no readable _StringData stream: %v", err)
	}
	if len(pool) < 4 || len(pool)%4 != 0 {
		return fmt.Errorf("_StringPool has %d bytes, not a multiple of 4", len(pool))
	}
	le := binary.LittleEndian
	head := le.Uint32(pool)
	f.strRef = 2
	if head&0x80000000 != 0 {
		f.strRef = 3
	}
	f.Codepage = int(head &^ 0x80000000)
	if err := checkCodepage(f.Codepage); err != nil {
		return err
	}
	off := 0
	for i := 4; i < len(pool); i += 4 {
		l, refs := int(le.Uint16(pool[i:])), int(le.Uint16(pool[i+2:]))
		if l == 0 && refs != 0 {
			// Long string: this entry holds the high half of the length.
			if i+8 > len(pool) {
				return errors.New("_StringPool: truncated long string entry")
			}
			l = refs<<16 | int(le.Uint16(pool[i+4:]))
			refs = int(le.Uint16(pool[i+6:]))
			i += 4
		}
		if off+l > len(data) {
			return errors.New("_StringData is shorter than _StringPool says")
		}
		s, err := decodeString(data[off:off+l], f.Codepage)
		if err != nil {
			return fmt.Errorf("_StringData: %w", err)
		}
		f.strings = append(f.strings, s)
		f.refs = append(f.refs, refs)
		off += l
	}
	if off != len(data) {
		return fmt.Errorf("_StringData has %d bytes, _StringPool accounts for %d", len(data), off)
	}
	return nil
}

func (f *File) str(id uint32) (string, error) {
	if id == 0 {
		return "", nil
	}
	if int(id) > len(f.strings) {
		return "", fmt.Errorf("string id %d out of range (pool has %d)", id, len(f.strings))
	}
	return f.strings[id-1], nil
}

// readRaw splits a table stream into rows of raw values.
func (f *File) readRaw(name string, cols []ColumnInfo) ([][]uint32, error) {
	b, ok, err := f.tableStream(name)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	if !ok {
		return nil, nil
	}
	widths := make([]int, len(cols))
	size := 0
	for i, c := range cols {
		switch c.kind() {
		case Int32:
			widths[i] = 4
		case String:
			widths[i] = f.strRef
		default:
			widths[i] = 2
		}
		size += widths[i]
	}
	if size == 0 || len(b)%size != 0 {
		return nil, fmt.Errorf("table %s: stream of %d bytes is not a whole number of %d-byte rows", name, len(b), size)
	}
	n := len(b) / size
	rows := make([][]uint32, n)
	for i := range rows {
		rows[i] = make([]uint32, len(cols))
	}
	off := 0
	for j, w := range widths {
		for i := 0; i < n; i++ {
			var v uint32
			for k := 0; k < w; k++ {
				v |= uint32(b[off+k]) << (8 * k)
			}
			rows[i][j] = v
			off += w
		}
	}
	return rows, nil
}

func (f *File) readTables() error {
	tcols := []ColumnInfo{{"Name", typeValid | typeString | typeKey | 64}}
	ccols := []ColumnInfo{{"Table", typeValid | typeString | typeKey | 64}, {"Number", typeValid | typeKey | 2}, {"Name", typeValid | typeString | 64}, {"Type", typeValid | 2}}
	traw, err := f.readRaw(tablesTable, tcols)
	if err != nil {
		return err
	}
	craw, err := f.readRaw(columnsTable, ccols)
	if err != nil {
		return err
	}
	f.Tables = append(f.Tables, &TableData{Name: tablesTable, Columns: tcols, raw: traw}, &TableData{Name: columnsTable, Columns: ccols, raw: craw})
	cols := map[string][]ColumnInfo{}
	for _, r := range craw {
		tn, err := f.str(r[0])
		if err != nil {
			return fmt.Errorf("_Columns: %w", err)
		}
		cn, err := f.str(r[2])
		if err != nil {
			return fmt.Errorf("_Columns: %w", err)
		}
		num := int(r[1]) - 0x8000
		if num != len(cols[tn])+1 {
			return fmt.Errorf("_Columns: table %s column %s has number %d, want %d", tn, cn, num, len(cols[tn])+1)
		}
		cols[tn] = append(cols[tn], ColumnInfo{Name: cn, Type: int(r[3]) - 0x8000})
	}
	for _, r := range traw {
		tn, err := f.str(r[0])
		if err != nil {
			return fmt.Errorf("_Tables: %w", err)
		}
		if len(cols[tn]) == 0 {
			return fmt.Errorf("table %s has no columns in _Columns", tn)
		}
		raw, err := f.readRaw(tn, cols[tn])
		if err != nil {
			return err
		}
		f.Tables = append(f.Tables, &TableData{Name: tn, Columns: cols[tn], raw: raw})
	}
	for _, t := range f.Tables {
		if err := f.decodeRows(t); err != nil {
			return err
		}
	}
	return nil
}

func (f *File) decodeRows(t *TableData) error {
	t.Rows = make([][]any, len(t.raw))
	for i, r := range t.raw {
		row := make([]any, len(r))
		for j, v := range r {
			if v == 0 {
				continue
			}
			switch t.Columns[j].kind() {
			case Int16:
				row[j] = int32(v) - 0x8000
			case Int32:
				row[j] = int32(v ^ 0x80000000)
			case String:
				s, err := f.str(v)
				if err != nil {
					return fmt.Errorf("table %s row %d column %s: %w", t.Name, i+1, t.Columns[j].Name, err)
				}
				row[j] = s
			}
		}
		for j, c := range t.Columns {
			if c.kind() == Binary && r[j] != 0 {
				parts := []string{t.Name}
				for k, kc := range t.Columns {
					if kc.Key() {
						parts = append(parts, fmt.Sprint(row[k]))
					}
				}
				row[j] = StreamRef(strings.Join(parts, "."))
			}
		}
		t.Rows[i] = row
	}
	return nil
}

// Check verifies invariants that Windows Installer relies on and msitools
// does not check: string reference counts, no unused strings, a _Validation
// row for every column (and none for missing ones) agreeing on nullability,
// no nulls in non-nullable columns, unique and sorted primary keys, and a
// stream for every binary value. It is strict: every finding of Lint, error
// or warning, fails it (pkgctl's own databases must be clean).
func (f *File) Check() error {
	errs, warns := f.Lint()
	return errors.Join(append(errs, warns...)...)
}

// Lint runs Check's checks and splits the findings: errs are what makes
// Windows Installer fail (a duplicate or null primary key, a binary value
// with no stream); warns are unusual but installable (reference counts,
// unsorted rows, _Validation gaps, nulls in non-key columns), which real
// WiX- and wixl-built databases show.
func (f *File) Lint() (errs, warns []error) {
	counted := make([]int, len(f.strings))
	for _, t := range f.Tables {
		for i, r := range t.raw {
			for j, v := range r {
				c := t.Columns[j]
				if v == 0 && !c.Nullable() {
					e := fmt.Errorf("table %s row %d: null in non-nullable column %s", t.Name, i+1, c.Name)
					if c.Key() {
						errs = append(errs, e)
					} else {
						warns = append(warns, e)
					}
				}
				if c.kind() == String && v != 0 && int(v) <= len(counted) {
					counted[v-1]++
				}
			}
			if i > 0 {
				if cmp := compareKeys(t, t.raw[i-1], r); cmp == 0 && hasKey(t) {
					errs = append(errs, fmt.Errorf("table %s rows %d and %d: duplicate key", t.Name, i, i+1))
				} else if cmp > 0 {
					warns = append(warns, fmt.Errorf("table %s rows %d and %d: not sorted by key", t.Name, i, i+1))
				}
			}
			for j, v := range t.Rows[i] {
				if ref, ok := v.(StreamRef); ok {
					if _, err := f.OpenStream(string(ref)); err != nil {
						errs = append(errs, fmt.Errorf("table %s row %d column %s: no stream %q", t.Name, i+1, t.Columns[j].Name, ref))
					}
				}
			}
		}
		if dup := duplicateKeys(t); dup != "" {
			errs = append(errs, fmt.Errorf("table %s: duplicate key %s", t.Name, dup))
		}
	}
	for i, n := range counted {
		if n != f.refs[i] {
			warns = append(warns, fmt.Errorf("string %d %q: _StringPool refcount %d, tables reference it %d times", i+1, f.strings[i], f.refs[i], n))
		}
	}
	if v := f.Table(validationTable); v == nil {
		warns = append(warns, errors.New("no _Validation table"))
	} else {
		seen := map[[2]string]string{}
		for _, r := range v.Rows {
			tn, _ := r[0].(string)
			cn, _ := r[1].(string)
			nl, _ := r[2].(string)
			seen[[2]string{tn, cn}] = nl
		}
		for _, t := range f.Tables {
			if t.Name == tablesTable || t.Name == columnsTable {
				continue
			}
			for _, c := range t.Columns {
				nl, ok := seen[[2]string{t.Name, c.Name}]
				want := map[bool]string{true: "Y", false: "N"}[c.Nullable()]
				switch {
				case !ok:
					warns = append(warns, fmt.Errorf("no _Validation row for %s.%s", t.Name, c.Name))
				case nl != want:
					warns = append(warns, fmt.Errorf("_Validation says %s.%s Nullable=%s, the column type says %s", t.Name, c.Name, nl, want))
				}
				delete(seen, [2]string{t.Name, c.Name})
			}
		}
		var extra []string
		for k := range seen {
			extra = append(extra, k[0]+"."+k[1])
		}
		sort.Strings(extra)
		for _, k := range extra {
			warns = append(warns, fmt.Errorf("_Validation row for missing column %s", k))
		}
	}
	return errs, warns
}

func hasKey(t *TableData) bool { return len(t.Columns) > 0 && t.Columns[0].Key() }

// duplicateKeys finds a repeated primary key among unsorted rows (sorted
// neighbours are reported by Lint's row loop).
func duplicateKeys(t *TableData) string {
	if !hasKey(t) {
		return ""
	}
	seen := map[string]int{}
	for i, r := range t.raw {
		var k []string
		for j, c := range t.Columns {
			if !c.Key() {
				break
			}
			k = append(k, fmt.Sprint(r[j]))
		}
		key := strings.Join(k, "\x00")
		if prev, ok := seen[key]; ok && prev != i-1 {
			return fmt.Sprintf("in rows %d and %d", prev+1, i+1)
		}
		seen[key] = i
	}
	return ""
}

func compareKeys(t *TableData, a, b []uint32) int {
	for j, c := range t.Columns {
		if !c.Key() {
			break
		}
		if a[j] != b[j] {
			if a[j] < b[j] {
				return -1
			}
			return 1
		}
	}
	return 0
}
