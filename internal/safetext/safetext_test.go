package safetext

import (
	"strings"
	"testing"
)

func TestQuoteIsInert(t *testing.T) {
	for _, s := range []string{
		"stable\x1b]0;pwned\x07",      // OSC: window title
		"edge\x1b[2J\x1b[H",           // clear screen
		"a\rb\nc\td",                  // line tricks
		"x\u202Eevil",                 // right-to-left override
		"bad\xffutf8",                 // invalid UTF-8
		"\u009b31m",                   // 8-bit CSI
		strings.Repeat("\x1b", 3),     // bare escapes
		"normal-target_1.2.3 ✓ naïve", // printable text stays readable
	} {
		for name, got := range map[string]string{"Quote": Quote(s), "Inert": Inert(s, 0)} {
			for _, r := range got {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202E' || r == '\uFFFD' {
					t.Errorf("%s(%q) = %q holds %U", name, s, got, r)
				}
			}
		}
	}
	if got := Quote("naïve ✓"); got != `"naïve ✓"` {
		t.Errorf("Quote kept printable text as %s", got)
	}
	if got := Inert(`say "hi"`+"\x1b", 0); got != `say "hi"\x1b` {
		t.Errorf("Inert = %s", got)
	}
	if got := Inert("αβγδε", 3); got != "αβγ…" {
		t.Errorf("Inert cut = %s", got)
	}
}

func FuzzInert(f *testing.F) {
	f.Add("stable\x1b[31m", 10)
	f.Fuzz(func(t *testing.T, s string, max int) {
		for _, got := range []string{Quote(s), Inert(s, max%1000)} {
			for _, r := range got {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\uFFFD' && !strings.ContainsRune(s, '\uFFFD') {
					t.Fatalf("output %q of %q holds %U", got, s, r)
				}
			}
		}
		for _, r := range Terminal(s) {
			if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202E' {
				t.Fatalf("Terminal(%q) holds %U", s, r)
			}
		}
	})
}

func TestTerminal(t *testing.T) {
	for in, want := range map[string]string{
		"line one\n\tline two":         "line one\n\tline two",
		"channel \x1b]0;pwned\x07 end": `channel \x1b]0;pwned\a end`,
		"bad\xffbyte":                  `bad\xffbyte`,
		"rtl\u202eevil":                `rtl\u202eevil`,
		"naïve ✓":                      "naïve ✓",
	} {
		if got := Terminal(in); got != want {
			t.Errorf("Terminal(%q) = %q, want %q", in, got, want)
		}
	}
}
