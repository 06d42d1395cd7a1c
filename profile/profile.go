// Package profile writes the macOS configuration profile (.mobileconfig) from
// which orbit, installed with --use-system-configuration, reads its Fleet URL
// and enroll secret: the payload Fleet's own MDM delivers, identifier
// com.fleetdm.fleetd.config, keys FleetURL and EnrollSecret. The profile can
// be CMS-signed (attached SignedData, DER), as signed profiles are.
package profile

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sassoftware/relic/v7/lib/pkcs7"
	"howett.net/plist"
)

// Facts from Fleet (server/mdm/apple/mobileconfig: FleetdConfigPayloadIdentifier,
// FleetdProfileTemplate; orbit's profiles package looks the payload up by this
// identifier and reads EnrollSecret and FleetURL from it).
const (
	PayloadIdentifier = "com.fleetdm.fleetd.config"
	DisplayName       = "Fleetd configuration"
	Description       = "Default configuration for the fleetd agent."
)

// Options are the profile's settings.
type Options struct {
	FleetURL      string
	EnrollSecret  string
	EnableScripts bool // adds EnableScripts, as Fleet's MDM profile has it
	// Seed, when set (SOURCE_DATE_EPOCH builds), makes the UUIDs a function
	// of the settings but the secret, and Seed itself: same inputs, same file.
	// Empty: fresh random UUIDs.
	Seed string
}

type payload struct {
	EnrollSecret       string
	FleetURL           string
	EnableScripts      bool `plist:",omitempty"`
	PayloadDisplayName string
	PayloadIdentifier  string
	PayloadType        string
	PayloadUUID        string
	PayloadVersion     int
}

type configuration struct {
	PayloadContent     []payload
	PayloadDescription string
	PayloadDisplayName string
	PayloadIdentifier  string
	PayloadType        string
	PayloadUUID        string
	PayloadVersion     int
}

// Build returns the profile as an XML property list.
func Build(o Options) ([]byte, error) {
	if o.FleetURL == "" || o.EnrollSecret == "" {
		return nil, errors.New("profile: the Fleet URL and the enroll secret are both needed")
	}
	inner, err := newUUID(o, "payload")
	if err != nil {
		return nil, err
	}
	outer, err := newUUID(o, "profile")
	if err != nil {
		return nil, err
	}
	c := configuration{
		PayloadContent: []payload{{
			EnrollSecret: o.EnrollSecret, FleetURL: o.FleetURL, EnableScripts: o.EnableScripts,
			PayloadDisplayName: DisplayName, PayloadIdentifier: PayloadIdentifier, PayloadType: PayloadIdentifier,
			PayloadUUID: inner, PayloadVersion: 1,
		}},
		PayloadDescription: Description, PayloadDisplayName: DisplayName,
		PayloadIdentifier: PayloadIdentifier, PayloadType: "Configuration", PayloadUUID: outer, PayloadVersion: 1,
	}
	out, err := plist.MarshalIndent(c, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	return append(out, '\n'), nil
}

// newUUID is random, or derived from the non-secret settings and the seed.
func newUUID(o Options, role string) (string, error) {
	var b [16]byte
	if o.Seed == "" {
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		b[6] = b[6]&0x0f | 0x40 // version 4
	} else {
		// The secret stays out: the UUID is public, a low-entropy secret could
		// be found from it.
		h := sha256.Sum256([]byte(strings.Join([]string{"pkgctl profile", role, o.FleetURL, fmt.Sprint(o.EnableScripts), o.Seed}, "\x00")))
		copy(b[:], h[:])
		b[6] = b[6]&0x0f | 0x80 // version 8: name-based, SHA-256
	}
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])), nil
}

// Sign wraps a profile in CMS SignedData (attached content, DER), as a signed
// .mobileconfig is: chain leaf first, key RSA or ECDSA; the signing time is at.
func Sign(profile []byte, chain []*x509.Certificate, key crypto.Signer, at time.Time) ([]byte, error) {
	if len(chain) == 0 || key == nil {
		return nil, errors.New("profile: sign: no certificate or key")
	}
	b := pkcs7.NewBuilder(key, chain, crypto.SHA256)
	if err := b.SetContentData(profile); err != nil {
		return nil, fmt.Errorf("profile: sign: %w", err)
	}
	t, err := asn1.Marshal(at.UTC())
	if err != nil {
		return nil, err
	}
	if err := b.AddAuthenticatedAttribute(pkcs7.OidAttributeSigningTime, asn1.RawValue{FullBytes: t}); err != nil {
		return nil, fmt.Errorf("profile: sign: %w", err)
	}
	psd, err := b.Sign()
	if err != nil {
		return nil, fmt.Errorf("profile: sign: %w", err)
	}
	der, err := psd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("profile: sign: %w", err)
	}
	return der, nil
}
