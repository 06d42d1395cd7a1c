package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagError is every command's cobra FlagErrorFunc: a usage error (exit 2),
// with "did you mean --x?" when an unknown flag is close to a known one.
func flagError(c *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return &usageError{err}
	}
	var names []string
	visit := func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	}
	c.Flags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	if s := suggest(name, names); s != "" {
		return &usageError{fmt.Errorf("%w (did you mean --%s?)", err, s)}
	}
	return &usageError{err}
}

// suggest returns the candidate closest to word when it is close enough to be
// a typo (an edit distance of at most a third of the word, and at most 3),
// else "".
func suggest(word string, candidates []string) string {
	best, bestD := "", 0
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted) // ties go to the first name in order, whatever the input order
	for _, c := range sorted {
		d := editDistance(word, c)
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	limit := min(3, max(1, len(word)/3))
	if best == "" || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Damerau–Levenshtein distance (optimal string alignment):
// insertions, deletions, substitutions and swaps of adjacent letters cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
