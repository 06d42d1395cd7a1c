// Package msidb writes and reads Windows Installer databases (.msi): the
// string pool, column-major table streams, _Tables, _Columns, a _Validation
// row for every column, packed stream names, binary and raw streams (such as
// the embedded cabinet) and the summary information stream, all inside a
// compound file written by package cfb.
//
// Rows are checked against the table schema as they are inserted (types,
// nulls, sizes, ranges, sets, primary-key uniqueness); the standard tables of
// the SDK schema are created on first use. Output is deterministic: the same
// inserts give the same bytes.
//
//	db := msidb.New(msidb.CodepageUTF8)
//	db.Summary = msidb.SummaryInfo{Title: "Installation Database", Template: "x64;1033",
//		RevisionNumber: packageCode, PageCount: 500, WordCount: 2, Security: 2,
//		Created: t, LastSaved: t, CreatingApplication: "pkgctl"}
//	err := db.Insert("Property", msidb.Row{"Property": "ProductName", "Value": "Fleet osquery"})
//	err = db.Insert("Media", msidb.Row{"DiskId": 1, "LastSequence": 3, "Cabinet": "#cab1.cab"})
//	err = db.AddStream("cab1.cab", size, func() (io.ReadCloser, error) { return os.Open(cabPath) })
//	_, err = db.WriteTo(out)
//
// Open reads a database back (tables, rows, streams, summary) and Check
// verifies the invariants Windows relies on but msitools does not check.
package msidb

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Row maps column names to values: string, any Go integer, []byte or Stream
// (binary columns), or nil. A missing column, nil and "" are null.
type Row map[string]any

// Stream is the content of a binary column or of a raw stream, opened while
// the database is written.
type Stream struct {
	Size int64
	Open func() (io.ReadCloser, error)
}

// Database is an installer database being built. It is not safe for
// concurrent use.
type Database struct {
	// Summary is written as the "\x05SummaryInformation" stream.
	Summary SummaryInfo

	codepage int
	err      error
	tables   map[string]*tableData
	streams  map[string]Stream // raw streams by decoded name
}

type tableData struct {
	def  *Table
	rows [][]any // normalised: nil, string, int32 or Stream
	keys map[string]int
}

// New returns an empty database whose strings are stored in codepage
// (CodepageUTF8 for any text, 1252, or 0 for ASCII only).
func New(codepage int) *Database {
	return &Database{codepage: codepage, err: checkCodepage(codepage),
		tables: map[string]*tableData{}, streams: map[string]Stream{}}
}

// Codepage returns the database codepage.
func (db *Database) Codepage() int { return db.codepage }

// CreateTable adds a table with a custom schema. Standard tables need not be
// created: Insert creates them from the SDK schema.
func (db *Database) CreateTable(t *Table) error {
	if db.err != nil {
		return db.err
	}
	if _, ok := db.tables[t.Name]; ok {
		return fmt.Errorf("msidb: table %s already exists", t.Name)
	}
	if t.Name == "_Tables" || t.Name == "_Columns" || t.Name == "_Streams" || t.Name == "_Storages" || t.Name == "_Validation" {
		return fmt.Errorf("msidb: table %s is maintained by msidb", t.Name)
	}
	c := *t
	c.Columns = append([]Column(nil), t.Columns...)
	if err := c.check(); err != nil {
		return fmt.Errorf("msidb: %w", err)
	}
	if encodedLen(EncodeStreamName(c.Name, true)) > maxEncodedName {
		return fmt.Errorf("msidb: table name %s is too long for a stream name", c.Name)
	}
	db.tables[c.Name] = &tableData{def: &c, keys: map[string]int{}}
	return nil
}

func (db *Database) table(name string) (*tableData, error) {
	if t, ok := db.tables[name]; ok {
		return t, nil
	}
	if name == "_Validation" {
		return nil, errors.New("msidb: _Validation rows are generated from the schema; do not insert them")
	}
	def := StandardTable(name)
	if def == nil {
		return nil, fmt.Errorf("msidb: unknown table %s (not a standard table; use CreateTable)", name)
	}
	if err := db.CreateTable(def); err != nil {
		return nil, err
	}
	return db.tables[name], nil
}

// Table returns the schema of a table in the database (nil if absent).
func (db *Database) Table(name string) *Table {
	if t, ok := db.tables[name]; ok {
		return t.def
	}
	return nil
}

// Insert adds rows to a table, checking each against the schema.
func (db *Database) Insert(table string, rows ...Row) error {
	if db.err != nil {
		return db.err
	}
	t, err := db.table(table)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := db.insert(t, r); err != nil {
			return err
		}
	}
	return nil
}

func (db *Database) insert(t *tableData, r Row) error {
	def := t.def
	rowDesc := func() string {
		var k []string
		for _, c := range def.Columns {
			if c.Key {
				k = append(k, fmt.Sprint(r[c.Name]))
			}
		}
		return fmt.Sprintf("table %s, row %d (key %q)", def.Name, len(t.rows)+1, strings.Join(k, "/"))
	}
	known := map[string]bool{}
	for _, c := range def.Columns {
		known[c.Name] = true
	}
	var unknown []string
	for name := range r {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("msidb: %s: no column %s", rowDesc(), strings.Join(unknown, ", "))
	}
	vals := make([]any, len(def.Columns))
	var key strings.Builder
	for i := range def.Columns {
		c := &def.Columns[i]
		v, err := db.normalise(c, r[c.Name])
		if err != nil {
			return fmt.Errorf("msidb: %s, column %s: %w", rowDesc(), c.Name, err)
		}
		vals[i] = v
		if c.Key {
			fmt.Fprintf(&key, "%T:%v\x00", v, v)
		}
	}
	for i := range def.Columns {
		if _, ok := vals[i].(Stream); ok {
			name := binaryStreamName(def, vals)
			if encodedLen(EncodeStreamName(name, false)) > maxEncodedName {
				return fmt.Errorf("msidb: %s, column %s: stream name %q is too long once encoded (31 UTF-16 units)", rowDesc(), def.Columns[i].Name, name)
			}
		}
	}
	if prev, dup := t.keys[key.String()]; dup {
		return fmt.Errorf("msidb: %s: duplicate primary key (same as row %d)", rowDesc(), prev)
	}
	t.keys[key.String()] = len(t.rows) + 1
	t.rows = append(t.rows, vals)
	return nil
}

// binaryStreamName is "Table.Key1.Key2" for a row's binary column.
func binaryStreamName(def *Table, vals []any) string {
	parts := []string{def.Name}
	for i, c := range def.Columns {
		if c.Key {
			parts = append(parts, fmt.Sprint(vals[i]))
		}
	}
	return strings.Join(parts, ".")
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint:
		return int64(x), x <= 1<<62
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= 1<<62
	}
	return 0, false
}

func inSet(set, v string) bool {
	for _, s := range strings.Split(set, ";") {
		if s == v {
			return true
		}
	}
	return false
}

// normalise checks one value against its column and returns the stored form.
func (db *Database) normalise(c *Column, v any) (any, error) {
	if v == nil || v == "" {
		if !c.nullable {
			return nil, errors.New("null (or empty) value in a non-nullable column")
		}
		return nil, nil
	}
	switch c.kind {
	case Int16, Int32:
		n, ok := toInt64(v)
		if !ok {
			return nil, fmt.Errorf("want an integer, got %T %v", v, v)
		}
		lo, hi := int64(-32767), int64(32767)
		if c.kind == Int32 {
			lo, hi = -2147483647, 2147483647
		}
		if c.MinValue != nil {
			lo = int64(*c.MinValue)
		}
		if c.MaxValue != nil {
			hi = int64(*c.MaxValue)
		}
		if n < lo || n > hi {
			return nil, fmt.Errorf("value %d out of range %d..%d", n, lo, hi)
		}
		if c.Set != "" && !inSet(c.Set, strconv.FormatInt(n, 10)) {
			return nil, fmt.Errorf("value %d not one of %s", n, c.Set)
		}
		return int32(n), nil
	case String:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %T", v)
		}
		if strings.ContainsRune(s, 0) {
			return nil, errors.New("string contains a NUL character")
		}
		if c.size > 0 && utf8.RuneCountInString(s) > c.size {
			return nil, fmt.Errorf("string of %d characters is longer than the column's %d", utf8.RuneCountInString(s), c.size)
		}
		if c.Set != "" && !inSet(c.Set, s) {
			return nil, fmt.Errorf("value %q not one of %s", s, c.Set)
		}
		switch c.Category {
		case "Identifier":
			if !identifierRE.MatchString(s) {
				return nil, fmt.Errorf("%q is not an identifier (letters, digits, _ and ., starting with a letter or _)", s)
			}
		case "Guid":
			if !guidRE.MatchString(s) {
				return nil, fmt.Errorf("%q is not an uppercase GUID in braces", s)
			}
		}
		if _, err := encodeString(s, db.codepage); err != nil {
			return nil, err
		}
		return s, nil
	case Binary:
		switch x := v.(type) {
		case []byte:
			return bytesStream(x), nil
		case Stream:
			if x.Open == nil || x.Size < 0 {
				return nil, errors.New("stream without an Open function or with a negative size")
			}
			return x, nil
		}
		return nil, fmt.Errorf("want []byte or msidb.Stream, got %T", v)
	}
	return nil, fmt.Errorf("unknown column kind %d", c.kind)
}

var (
	identifierRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)
	guidRE       = regexp.MustCompile(`^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$`)
)

type byteReader struct{ *strings.Reader }

func (byteReader) Close() error { return nil }

func bytesStream(b []byte) Stream {
	s := string(b)
	return Stream{Size: int64(len(b)), Open: func() (io.ReadCloser, error) {
		return byteReader{strings.NewReader(s)}, nil
	}}
}

// AddStream adds a raw stream (listed in the virtual _Streams table), such
// as the cabinet that Media.Cabinet names "#cab1.cab" (stream "cab1.cab").
func (db *Database) AddStream(name string, size int64, open func() (io.ReadCloser, error)) error {
	if db.err != nil {
		return db.err
	}
	if name == "" || open == nil || size < 0 {
		return fmt.Errorf("msidb: stream %q: needs a name, a size >= 0 and an open function", name)
	}
	if encodedLen(EncodeStreamName(name, false)) > maxEncodedName {
		return fmt.Errorf("msidb: stream name %q is too long once encoded (31 UTF-16 units)", name)
	}
	if strings.HasPrefix(name, "\x05") {
		return fmt.Errorf("msidb: stream %q: names starting with \\x05 are reserved (summary, signatures)", name)
	}
	if _, dup := db.streams[name]; dup {
		return fmt.Errorf("msidb: duplicate stream %q", name)
	}
	db.streams[name] = Stream{Size: size, Open: open}
	return nil
}

// AddStreamBytes adds a raw stream holding data.
func (db *Database) AddStreamBytes(name string, data []byte) error {
	s := bytesStream(data)
	return db.AddStream(name, s.Size, s.Open)
}
