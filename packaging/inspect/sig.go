package inspect

import (
	"crypto/x509"

	"github.com/sassoftware/relic/v7/lib/pkcs9"
)

// fillPKCS7 fills signer, chain and timestamp from a verified PKCS#7
// signature and checks the chain against opt.Roots when given.
func fillPKCS7(s *Signature, sig pkcs9.TimestampedSignature, opt Options, where string, usage x509.ExtKeyUsage) {
	if sig.Certificate != nil {
		s.Signer = sig.Certificate.Subject.String()
		s.Chain = append(s.Chain, describeCert(where, sig.Certificate))
	}
	for _, c := range sig.Intermediates {
		if sig.Certificate == nil || !c.Equal(sig.Certificate) {
			s.Chain = append(s.Chain, describeCert(where, c))
		}
	}
	if t, err := sig.SignerInfo.SigningTime(); err == nil {
		t = t.UTC()
		s.SigningTime = &t
	}
	if cs := sig.CounterSignature; cs != nil {
		t := cs.SigningTime.UTC()
		s.Timestamp = &t
		if cs.Certificate != nil {
			if s.Extra == nil {
				s.Extra = map[string]string{}
			}
			s.Extra["timestamp_authority"] = cs.Certificate.Subject.String()
		}
	}
	if opt.Roots != nil {
		err := sig.VerifyChain(opt.Roots, nil, usage)
		t := err == nil
		s.Trusted = &t
		if err != nil {
			s.Error = "chain: " + err.Error()
		}
	}
}
