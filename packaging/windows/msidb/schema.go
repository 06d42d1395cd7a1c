package msidb

import (
	"fmt"
	"strconv"
)

// Column type bits as stored in _Columns.Type (Windows Installer SDK).
const (
	typeValid       = 0x0100
	typeLocalizable = 0x0200
	typeNotBinary   = 0x0400 // set for CHAR(n) and SHORT; clear for OBJECT and LONG
	typeString      = 0x0800
	typeNullable    = 0x1000
	typeKey         = 0x2000
)

// Kind is how a column's values are stored.
type Kind int

// Column kinds.
const (
	Int16  Kind = iota // i2: stored as value+0x8000 in 2 bytes; 0 is null
	Int32              // i4: stored as value^0x80000000 in 4 bytes; 0 is null
	String             // s/l: a string pool reference; 0 is null
	Binary             // v: a stream named "Table.Key"; stored as 1 (0 is null)
)

// Column is one column of a table: its storage type and the facts that go
// into its _Validation row.
type Column struct {
	Name string
	// Type in the SDK's .idt notation: s72 (string, 72 chars max, 0 = any),
	// l255 (localizable string), i2, i4, v0 (binary stream); an uppercase
	// letter makes the column nullable.
	Type string
	Key  bool // part of the primary key (key columns come first)

	// _Validation facts. MinValue/MaxValue only for integers.
	MinValue, MaxValue *int32
	KeyTable           string // foreign key: the table it refers to
	KeyColumn          int    // 1-based column in KeyTable
	Category           string
	Set                string
	Description        string

	kind        Kind
	size        int
	nullable    bool
	localizable bool
}

// Table is the schema of one table.
type Table struct {
	Name    string
	Columns []Column
}

// Kind reports how the column is stored (valid after the table is checked).
func (c *Column) Kind() Kind { return c.kind }

// Nullable reports whether the column accepts null.
func (c *Column) Nullable() bool { return c.nullable }

// parse fills the derived fields from Type.
func (c *Column) parse() error {
	if len(c.Type) < 2 {
		return fmt.Errorf("column %s: bad type %q", c.Name, c.Type)
	}
	n, err := strconv.Atoi(c.Type[1:])
	if err != nil || n < 0 || n > 255 {
		return fmt.Errorf("column %s: bad type %q", c.Name, c.Type)
	}
	c.size = n
	letter := c.Type[0]
	c.nullable = letter >= 'A' && letter <= 'Z'
	switch letter | 0x20 {
	case 's':
		c.kind = String
	case 'l':
		c.kind, c.localizable = String, true
	case 'i':
		switch n {
		case 2:
			c.kind = Int16
		case 4:
			c.kind = Int32
		default:
			return fmt.Errorf("column %s: integer size must be 2 or 4, got %q", c.Name, c.Type)
		}
	case 'v':
		c.kind = Binary
		if n != 0 {
			return fmt.Errorf("column %s: binary type must be v0, got %q", c.Name, c.Type)
		}
	default:
		return fmt.Errorf("column %s: bad type %q", c.Name, c.Type)
	}
	return nil
}

// typeBits is the _Columns.Type value.
func (c *Column) typeBits() int {
	var t int
	switch c.kind {
	case Int16:
		t = typeValid | typeNotBinary | 2
	case Int32:
		t = typeValid | 4
	case String:
		t = typeValid | typeString | typeNotBinary | c.size
		if c.localizable {
			t |= typeLocalizable
		}
	case Binary:
		t = typeValid | typeString
	}
	if c.nullable {
		t |= typeNullable
	}
	if c.Key {
		t |= typeKey
	}
	return t
}

// width is the number of bytes one value takes in a table stream.
func (c *Column) width(strRef int) int {
	switch c.kind {
	case Int32:
		return 4
	case String:
		return strRef
	}
	return 2
}

// check validates a table definition.
func (t *Table) check() error {
	// _Validation.Table is s32; the packed stream name must fit 31 units.
	if t.Name == "" || len(t.Name) > 31 {
		return fmt.Errorf("table name %q must be 1 to 31 characters", t.Name)
	}
	if len(t.Columns) == 0 || len(t.Columns) > 32 {
		return fmt.Errorf("table %s: must have 1 to 32 columns", t.Name)
	}
	seen := map[string]bool{}
	keys := true
	for i := range t.Columns {
		c := &t.Columns[i]
		if err := c.parse(); err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
		if c.Name == "" || len(c.Name) > 32 {
			return fmt.Errorf("table %s: column name %q must be 1 to 32 characters", t.Name, c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("table %s: duplicate column %s", t.Name, c.Name)
		}
		seen[c.Name] = true
		if c.Key && !keys {
			return fmt.Errorf("table %s: key column %s must come before the other columns", t.Name, c.Name)
		}
		keys = c.Key
	}
	if !t.Columns[0].Key {
		return fmt.Errorf("table %s: needs a primary key", t.Name)
	}
	return nil
}

func i32(v int32) *int32 { return &v }

// Common column shapes.
func idKey(name string) Column {
	return Column{Name: name, Type: "s72", Key: true, Category: "Identifier"}
}
func fk(name, typ, table string, col int) Column {
	return Column{Name: name, Type: typ, KeyTable: table, KeyColumn: col, Category: "Identifier"}
}
func rng(name, typ string, min, max int32) Column {
	return Column{Name: name, Type: typ, MinValue: i32(min), MaxValue: i32(max)}
}
func cat(name, typ, category string) Column { return Column{Name: name, Type: typ, Category: category} }

func sequenceTable(name string) *Table {
	return &Table{Name: name, Columns: []Column{
		idKey("Action"),
		cat("Condition", "S255", "Condition"),
		rng("Sequence", "I2", -4, 32767),
	}}
}

// standardTables are the tables of the Windows Installer SDK schema an agent
// installer needs, with their _Validation facts. Column types follow the SDK
// (as msitools' wixl and Wine use them).
var standardTables = []*Table{
	{Name: "_Validation", Columns: []Column{
		{Name: "Table", Type: "s32", Key: true, Category: "Identifier", Description: "Name of table"},
		{Name: "Column", Type: "s32", Key: true, Category: "Identifier", Description: "Name of column"},
		{Name: "Nullable", Type: "s4", Set: "Y;N", Description: "Whether the column is nullable"},
		rng("MinValue", "I4", -2147483647, 2147483647),
		rng("MaxValue", "I4", -2147483647, 2147483647),
		cat("KeyTable", "S255", "Identifier"),
		rng("KeyColumn", "I2", 1, 32),
		{Name: "Category", Type: "S32", Set: "Text;Formatted;Template;Condition;Guid;Path;Version;Language;Identifier;Binary;UpperCase;LowerCase;Filename;Paths;AnyPath;WildCardFilename;RegPath;CustomSource;Property;Cabinet;Shortcut;FormattedSDDLText;Integer;DoubleInteger;TimeDate;DefaultDir"},
		cat("Set", "S255", "Text"),
		cat("Description", "S255", "Text"),
	}},
	{Name: "Property", Columns: []Column{
		idKey("Property"),
		cat("Value", "l0", "Text"),
	}},
	{Name: "Directory", Columns: []Column{
		idKey("Directory"),
		fk("Directory_Parent", "S72", "Directory", 1),
		cat("DefaultDir", "l255", "DefaultDir"),
	}},
	{Name: "Component", Columns: []Column{
		idKey("Component"),
		cat("ComponentId", "S38", "Guid"),
		fk("Directory_", "s72", "Directory", 1),
		rng("Attributes", "i2", 0, 32767),
		cat("Condition", "S255", "Condition"),
		fk("KeyPath", "S72", "File;Registry;ODBCDataSource", 1),
	}},
	{Name: "File", Columns: []Column{
		idKey("File"),
		fk("Component_", "s72", "Component", 1),
		cat("FileName", "l255", "Filename"),
		rng("FileSize", "i4", 0, 2147483647),
		{Name: "Version", Type: "S72", KeyTable: "File", KeyColumn: 1, Category: "Version"},
		cat("Language", "S20", "Language"),
		rng("Attributes", "I2", 0, 32767),
		rng("Sequence", "i4", 1, 2147483647),
	}},
	{Name: "Media", Columns: []Column{
		{Name: "DiskId", Type: "i2", Key: true, MinValue: i32(1), MaxValue: i32(32767)},
		rng("LastSequence", "i4", 0, 2147483647),
		cat("DiskPrompt", "L64", "Text"),
		cat("Cabinet", "S255", "Cabinet"),
		cat("VolumeLabel", "S32", "Text"),
		cat("Source", "S72", "Property"),
	}},
	{Name: "Feature", Columns: []Column{
		{Name: "Feature", Type: "s38", Key: true, Category: "Identifier"},
		fk("Feature_Parent", "S38", "Feature", 1),
		cat("Title", "L64", "Text"),
		cat("Description", "L255", "Text"),
		rng("Display", "I2", 0, 32767),
		rng("Level", "i2", 0, 32767),
		{Name: "Directory_", Type: "S72", KeyTable: "Directory", KeyColumn: 1, Category: "UpperCase"},
		{Name: "Attributes", Type: "i2", Set: "0;1;2;4;5;6;8;9;10;16;17;18;20;21;22;24;25;26;32;33;34;36;37;38;48;49;50;52;53;54"},
	}},
	{Name: "FeatureComponents", Columns: []Column{
		{Name: "Feature_", Type: "s38", Key: true, KeyTable: "Feature", KeyColumn: 1, Category: "Identifier"},
		{Name: "Component_", Type: "s72", Key: true, KeyTable: "Component", KeyColumn: 1, Category: "Identifier"},
	}},
	{Name: "CreateFolder", Columns: []Column{
		{Name: "Directory_", Type: "s72", Key: true, KeyTable: "Directory", KeyColumn: 1, Category: "Identifier"},
		{Name: "Component_", Type: "s72", Key: true, KeyTable: "Component", KeyColumn: 1, Category: "Identifier"},
	}},
	{Name: "Registry", Columns: []Column{
		idKey("Registry"),
		rng("Root", "i2", -1, 3),
		cat("Key", "l255", "RegPath"),
		cat("Name", "L255", "Formatted"),
		cat("Value", "L0", "Formatted"),
		fk("Component_", "s72", "Component", 1),
	}},
	{Name: "ServiceInstall", Columns: []Column{
		idKey("ServiceInstall"),
		cat("Name", "s255", "Formatted"),
		cat("DisplayName", "L255", "Formatted"),
		rng("ServiceType", "i4", -2147483647, 2147483647),
		rng("StartType", "i4", 0, 4),
		rng("ErrorControl", "i4", -2147483647, 2147483647),
		cat("LoadOrderGroup", "S255", "Formatted"),
		cat("Dependencies", "S255", "Formatted"),
		cat("StartName", "S255", "Formatted"),
		cat("Password", "S255", "Formatted"),
		cat("Arguments", "S255", "Formatted"),
		fk("Component_", "s72", "Component", 1),
		cat("Description", "L255", "Text"),
	}},
	{Name: "ServiceControl", Columns: []Column{
		idKey("ServiceControl"),
		cat("Name", "l255", "Formatted"),
		rng("Event", "i2", 0, 187),
		cat("Arguments", "L255", "Formatted"),
		rng("Wait", "I2", 0, 1),
		fk("Component_", "s72", "Component", 1),
	}},
	{Name: "MsiServiceConfigFailureActions", Columns: []Column{
		idKey("MsiServiceConfigFailureActions"),
		cat("Name", "s255", "Formatted"),
		rng("Event", "i2", 0, 7),
		rng("ResetPeriod", "I4", 0, 2147483647),
		cat("RebootMessage", "L255", "Formatted"),
		cat("Command", "L255", "Formatted"),
		cat("Actions", "S255", "Formatted"),
		cat("DelayActions", "S255", "Formatted"),
		fk("Component_", "s72", "Component", 1),
	}},
	{Name: "MsiLockPermissionsEx", Columns: []Column{
		idKey("MsiLockPermissionsEx"),
		cat("LockObject", "s72", "Identifier"),
		{Name: "Table", Type: "s32", Category: "Identifier", Set: "CreateFolder;File;Registry;ServiceInstall"},
		cat("SDDL", "l0", "FormattedSDDLText"),
		cat("Condition", "S255", "Condition"),
	}},
	{Name: "RemoveFile", Columns: []Column{
		idKey("FileKey"),
		fk("Component_", "s72", "Component", 1),
		cat("FileName", "L255", "WildCardFilename"),
		cat("DirProperty", "s72", "Identifier"),
		{Name: "InstallMode", Type: "i2", Set: "1;2;3"},
	}},
	{Name: "Upgrade", Columns: []Column{
		{Name: "UpgradeCode", Type: "s38", Key: true, Category: "Guid"},
		{Name: "VersionMin", Type: "S20", Key: true, Category: "Text"},
		{Name: "VersionMax", Type: "S20", Key: true, Category: "Text"},
		{Name: "Language", Type: "S255", Key: true, Category: "Language"},
		{Name: "Attributes", Type: "i4", Key: true, MinValue: i32(0), MaxValue: i32(2147483647)},
		cat("Remove", "S255", "Formatted"),
		cat("ActionProperty", "s72", "UpperCase"),
	}},
	{Name: "CustomAction", Columns: []Column{
		idKey("Action"),
		rng("Type", "i2", 1, 32767),
		cat("Source", "S72", "CustomSource"),
		cat("Target", "S255", "Formatted"),
		rng("ExtendedType", "I4", 0, 2147483647),
	}},
	sequenceTable("InstallExecuteSequence"),
	sequenceTable("InstallUISequence"),
	sequenceTable("AdminExecuteSequence"),
	sequenceTable("AdminUISequence"),
	sequenceTable("AdvtExecuteSequence"),
	{Name: "LaunchCondition", Columns: []Column{
		{Name: "Condition", Type: "s255", Key: true, Category: "Condition"},
		cat("Description", "l255", "Formatted"),
	}},
	{Name: "Binary", Columns: []Column{
		idKey("Name"),
		cat("Data", "v0", "Binary"),
	}},
	{Name: "MsiFileHash", Columns: []Column{
		{Name: "File_", Type: "s72", Key: true, KeyTable: "File", KeyColumn: 1, Category: "Identifier"},
		rng("Options", "i2", 0, 0),
		rng("HashPart1", "i4", -2147483647, 2147483647),
		rng("HashPart2", "i4", -2147483647, 2147483647),
		rng("HashPart3", "i4", -2147483647, 2147483647),
		rng("HashPart4", "i4", -2147483647, 2147483647),
	}},
}

var standardByName = func() map[string]*Table {
	m := map[string]*Table{}
	for _, t := range standardTables {
		if err := t.check(); err != nil {
			panic("msidb: standard schema: " + err.Error())
		}
		m[t.Name] = t
	}
	return m
}()

// StandardTable returns a copy of the SDK schema of a standard table, or nil.
func StandardTable(name string) *Table {
	t, ok := standardByName[name]
	if !ok {
		return nil
	}
	c := *t
	c.Columns = append([]Column(nil), t.Columns...)
	return &c
}

// StandardTableNames lists the tables StandardTable knows.
func StandardTableNames() []string {
	var n []string
	for _, t := range standardTables {
		n = append(n, t.Name)
	}
	return n
}
