package certvalid

import (
	"testing"
	"time"
)

func TestRule(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	valid := Dates{now.Add(-day), now.Add(100 * day)}
	soon := Dates{now.Add(-day), now.Add(10 * day)}
	expired := Dates{now.Add(-100 * day), now.Add(-day)}
	future := Dates{now.Add(day), now.Add(100 * day)}
	for _, tc := range []struct {
		name   string
		d      Dates
		state  State
		within bool // expires within 30 days
	}{
		{"valid", valid, Valid, false},
		{"expires soon", soon, Valid, true},
		{"expired", expired, Expired, false},
		{"not yet valid", future, NotYetValid, false},
	} {
		if got := tc.d.At(now); got != tc.state {
			t.Errorf("%s: state %v, want %v", tc.name, got, tc.state)
		}
		if got := tc.d.ExpiresWithin(now, 30*day); got != tc.within {
			t.Errorf("%s: expires within 30 days %v, want %v", tc.name, got, tc.within)
		}
	}
	for _, tc := range []struct {
		name   string
		bundle []Dates
		usable bool
	}{
		{"one valid", []Dates{valid}, true},
		{"expired beside a valid one", []Dates{expired, valid}, true},
		{"not yet valid beside a valid one", []Dates{future, soon}, true},
		{"expired only", []Dates{expired}, false},
		{"expired and not yet valid", []Dates{expired, future}, false},
		{"empty", nil, false},
	} {
		if got := BundleUsable(tc.bundle, now); got != tc.usable {
			t.Errorf("%s: usable %v, want %v", tc.name, got, tc.usable)
		}
	}
}
