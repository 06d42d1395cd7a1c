package orbitversion

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		v, err string // err "" = valid
	}{
		{"1.40.0", ""},
		{"0.0.1", ""},
		{"255.255.65535", ""},
		{"1.2.3\nDepends: evil", "not a decimal number"}, // would add a deb control field
		{"1.2.3\n", "patch part \"3\\n\" is not a decimal number"},
		{"1/../../x.1.1", "not MAJOR.MINOR.PATCH"},
		{"/../..", "not MAJOR.MINOR.PATCH"},
		{"1.2.3<x>", "not a decimal number"},     // dpkg cannot read it
		{"99999999999999999999.1.1", "over 255"}, // became MSI 0.1.1
		{"256.0.0", "major part 256 is over 255"},
		{"1.256.0", "minor part 256 is over 255"},
		{"1.2.65536", "patch part 65536 is over 65535"},
		{"1.2.3-rc1", "not a decimal number"}, // rpm VERSION takes no '-'
		{"v1.2.3", "not a decimal number"},
		{"1.2", "not MAJOR.MINOR.PATCH"},
		{"1.2.3.4", "not MAJOR.MINOR.PATCH"},
		{"", "not MAJOR.MINOR.PATCH"},
		{"1..3", "minor part \"\""},
		{"+1.2.3", "not a decimal number"},
		{"1.2.3\x1b[31m", `"1.2.3\x1b[31m"`},
	} {
		err := Check(tt.v)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("Check(%q) = %v", tt.v, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Check(%q) = %v, want an error with %q", tt.v, err, tt.err)
		case err != nil && strings.ContainsAny(err.Error(), "\x1b\n"):
			t.Errorf("Check(%q): the error carries a control character: %q", tt.v, err)
		}
	}
}
