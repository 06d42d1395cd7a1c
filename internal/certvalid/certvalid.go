// Package certvalid is the one rule on certificate dates that pkgctl package
// (checking its flags) and pkgctl verify (checking an installer) share, so a
// certificate that builds also verifies.
package certvalid

import "time"

// State is where a certificate stands at a time.
type State int

const (
	Valid State = iota
	Expired
	NotYetValid
)

// Dates are a certificate's validity period.
type Dates struct{ NotBefore, NotAfter time.Time }

// At reports whether d is valid, expired or not yet valid at now.
func (d Dates) At(now time.Time) State {
	switch {
	case now.After(d.NotAfter):
		return Expired
	case now.Before(d.NotBefore):
		return NotYetValid
	}
	return Valid
}

// ExpiresWithin reports whether d is valid at now and expires within window.
func (d Dates) ExpiresWithin(now time.Time, window time.Duration) bool {
	return d.At(now) == Valid && d.NotAfter.Sub(now) < window
}

// BundleUsable is the rule for a CA bundle (--fleet-certificate,
// --update-tls-certificate): orbit trusts any certificate in it, so while one
// is valid at now an expired or not yet valid entry (a CA being rotated) is
// only a warning; a bundle with none valid can verify no server, an error. A
// client certificate is a single certificate: not valid is an error.
func BundleUsable(certs []Dates, now time.Time) bool {
	for _, d := range certs {
		if d.At(now) == Valid {
			return true
		}
	}
	return false
}
