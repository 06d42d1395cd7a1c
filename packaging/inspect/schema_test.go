package inspect

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/json-schema.golden")

// schemaLines lists every JSON field of t and the types below it, as
// "Type.field kind", in declaration order.
func schemaLines(t reflect.Type, seen map[reflect.Type]bool, out *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] || t == reflect.TypeOf(time.Time{}) {
		return
	}
	seen[t] = true
	var next []reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		*out = append(*out, fmt.Sprintf("%s.%s %s", t.Name(), name, kindOf(f.Type)))
		next = append(next, f.Type)
	}
	for _, n := range next {
		schemaLines(n, seen, out)
	}
}

func kindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return kindOf(t.Elem()) + "|null"
	case reflect.Slice:
		return "[]" + kindOf(t.Elem())
	case reflect.Map:
		return "map[string]" + kindOf(t.Elem())
	case reflect.Struct:
		if t == reflect.TypeOf(time.Time{}) {
			return "time"
		}
		return t.Name()
	}
	return t.Kind().String()
}

// TestJSONSchemaStable fails when a JSON field of inspect's, verify's or
// diff's output is renamed, removed or added without updating the golden
// file and docs/inspect-json.md (go test -run TestJSONSchemaStable -update).
func TestJSONSchemaStable(t *testing.T) {
	var lines []string
	seen := map[reflect.Type]bool{}
	for _, v := range []any{Report{}, VerifyResult{}, Diff{}} {
		schemaLines(reflect.TypeOf(v), seen, &lines)
	}
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "json-schema.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the JSON schema changed; bump SchemaVersion if a field was renamed or removed, document it in docs/inspect-json.md, then run with -update.\ngot:\n%s", got)
	}
	// Every field is documented.
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "inspect-json.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		field := strings.Fields(l)[0]
		if !strings.Contains(string(doc), "`"+field+"`") {
			t.Errorf("docs/inspect-json.md does not document `%s`", field)
		}
	}
}
