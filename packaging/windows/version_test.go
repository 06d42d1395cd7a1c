package windows

import "testing"

// TestProductVersion: an over-long number is refused, never wrapped to 0
// (99999999999999999999.1.1 once became ProductVersion 0.1.1).
func TestProductVersion(t *testing.T) {
	for v, want := range map[string]string{
		"1.40.0":                   "1.40.0",
		"255.255.65535":            "255.255.65535",
		"99999999999999999999.1.1": "",
		"1.99999999999999999999.1": "",
		"256.0.0":                  "",
		"1.2.65536":                "",
	} {
		got, err := productVersion(v)
		if want == "" {
			if err == nil {
				t.Errorf("productVersion(%q) = %q, want an error", v, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("productVersion(%q) = %q, %v; want %q", v, got, err, want)
		}
	}
}
