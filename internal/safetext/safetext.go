// Package safetext makes strings that come from outside (TUF repositories,
// servers, files) inert before they reach a terminal or a log.
package safetext

import (
	"strconv"
	"strings"
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
