package msidb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sort"

	"github.com/pkgctl/pkgctl/packaging/windows/cfb"
)

// Names of the system tables and string pool streams.
const (
	tablesTable     = "_Tables"
	columnsTable    = "_Columns"
	validationTable = "_Validation"
	stringPoolName  = "_StringPool"
	stringDataName  = "_StringData"
)

var (
	tablesDef  = &Table{Name: tablesTable, Columns: []Column{{Name: "Name", Type: "s64", Key: true}}}
	columnsDef = &Table{Name: columnsTable, Columns: []Column{
		{Name: "Table", Type: "s64", Key: true},
		{Name: "Number", Type: "i2", Key: true},
		{Name: "Name", Type: "s64"},
		{Name: "Type", Type: "i2"},
	}}
)

func init() {
	for _, t := range []*Table{tablesDef, columnsDef} {
		if err := t.check(); err != nil {
			panic(err)
		}
	}
}

// stringPool assigns ids (from 1, in first-use order) and counts references.
type stringPool struct {
	ids  map[string]uint32
	strs []string
	refs []int
}

func newStringPool() *stringPool { return &stringPool{ids: map[string]uint32{}} }

func (p *stringPool) ref(s string) uint32 {
	if s == "" {
		return 0
	}
	id, ok := p.ids[s]
	if !ok {
		p.strs = append(p.strs, s)
		p.refs = append(p.refs, 0)
		id = uint32(len(p.strs))
		p.ids[s] = id
	}
	p.refs[id-1]++
	return id
}

// refWidth is 2 bytes per string reference, or 3 when ids do not fit.
func (p *stringPool) refWidth() int {
	if len(p.strs)+1 > 0xFFFF {
		return 3
	}
	return 2
}

// encode returns the _StringPool and _StringData streams.
func (p *stringPool) encode(codepage int) (pool, data []byte, err error) {
	var pb, db bytes.Buffer
	le := binary.LittleEndian
	head := uint32(codepage)
	if p.refWidth() == 3 {
		head |= 0x80000000
	}
	binary.Write(&pb, le, head)
	for i, s := range p.strs {
		b, err := encodeString(s, codepage)
		if err != nil {
			return nil, nil, err
		}
		if p.refs[i] > 0xFFFF {
			return nil, nil, fmt.Errorf("string %q is referenced %d times; the limit is 65535", s, p.refs[i])
		}
		if len(b) >= 0x10000 {
			// A long string: a dummy entry holds the high half of its length.
			binary.Write(&pb, le, [2]uint16{0, uint16(len(b) >> 16)})
		}
		binary.Write(&pb, le, [2]uint16{uint16(len(b)), uint16(p.refs[i])})
		db.Write(b)
	}
	return pb.Bytes(), db.Bytes(), nil
}

// table is one table ready to serialise: values with strings as pool ids.
type table struct {
	def  *Table
	rows [][]any
	raw  [][]uint32
}

// validationRows are the _Validation rows describing every column of defs.
func validationRows(defs []*Table) [][]any {
	var rows [][]any
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	for _, t := range defs {
		for _, c := range t.Columns {
			nullable := "N"
			if c.nullable {
				nullable = "Y"
			}
			var min, max, keyCol any
			if c.MinValue != nil {
				min = *c.MinValue
			}
			if c.MaxValue != nil {
				max = *c.MaxValue
			}
			if c.KeyColumn != 0 {
				keyCol = int32(c.KeyColumn)
			}
			rows = append(rows, []any{t.Name, c.Name, nullable, min, max, str(c.KeyTable), keyCol, str(c.Category), str(c.Set), str(c.Description)})
		}
	}
	return rows
}

// build lays out every table and the string pool.
func (db *Database) build() ([]*table, *stringPool, error) {
	vdef := StandardTable(validationTable)
	if err := vdef.check(); err != nil {
		return nil, nil, err
	}
	defs := []*Table{vdef}
	for _, t := range db.tables {
		defs = append(defs, t.def)
	}
	sort.Slice(defs, func(i, j int) bool { return defs[i].Name < defs[j].Name })

	user := map[string][][]any{}
	for n, t := range db.tables {
		user[n] = t.rows
	}
	user[validationTable] = validationRows(defs)

	// System tables first, so table and column names get the low ids.
	tablesRows := make([][]any, len(defs))
	var columnsRows [][]any
	for i, d := range defs {
		tablesRows[i] = []any{d.Name}
		for j, c := range d.Columns {
			columnsRows = append(columnsRows, []any{d.Name, int32(j + 1), c.Name, int32(c.typeBits())})
		}
	}
	all := []*table{{def: tablesDef, rows: tablesRows}, {def: columnsDef, rows: columnsRows}}
	for _, d := range defs {
		all = append(all, &table{def: d, rows: user[d.Name]})
	}
	pool := newStringPool()
	for _, t := range all {
		t.raw = make([][]uint32, len(t.rows))
		for i, r := range t.rows {
			raw := make([]uint32, len(r))
			for j, v := range r {
				c := &t.def.Columns[j]
				switch {
				case v == nil:
					raw[j] = 0
				case c.kind == Int16:
					raw[j] = uint32(v.(int32) + 0x8000)
				case c.kind == Int32:
					raw[j] = uint32(v.(int32)) ^ 0x80000000
				case c.kind == String:
					raw[j] = pool.ref(v.(string))
				case c.kind == Binary:
					raw[j] = 1
				}
			}
			t.raw[i] = raw
		}
		// Rows are kept sorted by their stored key values, as the
		// installer's own tables are (it binary-searches keys).
		idx := make([]int, len(t.rows))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool {
			ra, rb := t.raw[idx[a]], t.raw[idx[b]]
			for j, c := range t.def.Columns {
				if !c.Key {
					break
				}
				if ra[j] != rb[j] {
					return ra[j] < rb[j]
				}
			}
			return false
		})
		rows, raws := make([][]any, len(idx)), make([][]uint32, len(idx))
		for i, k := range idx {
			rows[i], raws[i] = t.rows[k], t.raw[k]
		}
		t.rows, t.raw = rows, raws
	}
	return all, pool, nil
}

// encodeTable writes a table stream: column by column, each value little
// endian in its column's width.
func encodeTable(t *table, strRef int) []byte {
	var b bytes.Buffer
	for j, c := range t.def.Columns {
		w := c.width(strRef)
		for _, r := range t.raw {
			v := r[j]
			for k := 0; k < w; k++ {
				b.WriteByte(byte(v >> (8 * k)))
			}
		}
	}
	return b.Bytes()
}

// WriteTo writes the database as a compound file to w.
func (db *Database) WriteTo(w io.Writer) (int64, error) {
	if db.err != nil {
		return 0, db.err
	}
	tables, pool, err := db.build()
	if err != nil {
		return 0, err
	}
	poolBytes, dataBytes, err := pool.encode(db.codepage)
	if err != nil {
		return 0, fmt.Errorf("msidb: string pool: %w", err)
	}
	summary, err := encodeSummary(&db.Summary, db.codepage)
	if err != nil {
		return 0, fmt.Errorf("msidb: %w", err)
	}
	cw := cfb.NewWriter(cfb.MSIDatabaseCLSID)
	add := func(name string, data []byte) error { return cw.AddBytes(name, data) }
	if err := add(SummaryStreamName, summary); err != nil {
		return 0, err
	}
	if err := add(EncodeStreamName(stringDataName, true), dataBytes); err != nil {
		return 0, err
	}
	if err := add(EncodeStreamName(stringPoolName, true), poolBytes); err != nil {
		return 0, err
	}
	strRef := pool.refWidth()
	for _, t := range tables {
		// Empty tables have no stream, except _Tables (as msitools does).
		if len(t.rows) == 0 && t.def.Name != tablesTable {
			continue
		}
		if err := add(EncodeStreamName(t.def.Name, true), encodeTable(t, strRef)); err != nil {
			return 0, fmt.Errorf("msidb: table %s: %w", t.def.Name, err)
		}
	}
	// Binary columns' streams, then raw streams, each in name order.
	streams := map[string]Stream{}
	for _, t := range tables {
		for _, r := range t.rows {
			for j, v := range r {
				if st, ok := v.(Stream); ok && t.def.Columns[j].kind == Binary {
					streams[binaryStreamName(t.def, r)] = st
				}
			}
		}
	}
	for n, s := range db.streams {
		if _, dup := streams[n]; dup {
			return 0, fmt.Errorf("msidb: stream %q is both a raw stream and a binary column's stream", n)
		}
		streams[n] = s
	}
	names := make([]string, 0, len(streams))
	for n := range streams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := streams[n]
		if err := cw.Add(EncodeStreamName(n, false), s.Size, s.Open); err != nil {
			return 0, fmt.Errorf("msidb: stream %q: %w", n, err)
		}
	}
	n, err := cw.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("msidb: %w", err)
	}
	return n, nil
}
