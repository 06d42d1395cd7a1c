// Package safetext makes strings that come from outside (TUF repositories,
// servers, files) inert before they reach a terminal or a log.
package safetext

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Quote returns s in double quotes with Go escapes for every control
// character, invalid UTF-8 byte and non-printing rune (bidirectional
// overrides included), so a string from a server cannot move the cursor,
// change colours, rewrite the window title or reorder the text around it.
func Quote(s string) string {
	return strconv.Quote(s)
}

// Inert is s without the quotes: printable text stays as it is, anything
// else is escaped as Quote escapes it. It is for longer text such as a
// server's error body; past max runes (max > 0) it is cut and ends with "…".
func Inert(s string, max int) string {
	cut := false
	if max > 0 && utf8.RuneCountInString(s) > max {
		n := 0
		for i := range s {
			if n == max {
				s, cut = s[:i], true
				break
			}
			n++
		}
	}
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	// Quote escapes these for its own syntax; in bare text they are harmless.
	q = strings.ReplaceAll(q, `\"`, `"`)
	if cut {
		q += "…"
	}
	return q
}

// Terminal is s made safe to print as a whole message: newlines and tabs
// stay (multi-line errors keep their shape), every other control character,
// invalid UTF-8 byte and non-printing rune is escaped as Quote escapes it.
// It is the last line of defence for errors, warnings and logs that may
// quote what a server or repository sent.
func Terminal(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (!unicode.IsPrint(r) && r != '\n' && r != '\t') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError && n == 1, !unicode.IsPrint(r):
			q := strconv.Quote(s[i : i+n])
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
