package main

import (
	"testing"
	"time"
)

// TestConfigSigningKeys: the signing settings come from a config file like
// every flag; the .p8 content only as a variable (it is a secret).
func TestConfigSigningKeys(t *testing.T) {
	const file = `
macos-sign-timestamp-url: none
windows-sign-timestamp-url: http://tsa.example.com/rfc3161
linux-sign-key: signing.asc
notarize-timeout: 45m
builds:
  - {name: mac, type: pkg, notarize: true, app-store-connect-api-key-content-env: ASC_P8, macos-sign-timestamp-url: http://timestamp.apple.com/ts01}
  - {name: win, type: msi}
`
	got, err := parseWithConfig(t, file, map[string]string{"ASC_P8": "p8-content"})
	if err != nil {
		t.Fatal(err)
	}
	mac, win := got[0].Options, got[1].Options
	if mac.MacOSSignTimestampURL != "http://timestamp.apple.com/ts01" || win.MacOSSignTimestampURL != "none" {
		t.Errorf("macos-sign-timestamp-url: %q %q", mac.MacOSSignTimestampURL, win.MacOSSignTimestampURL)
	}
	if win.WindowsSignTimestampURL != "http://tsa.example.com/rfc3161" || win.LinuxSignKey != "signing.asc" {
		t.Errorf("win: %+v", win)
	}
	if !mac.Notarize || mac.AppStoreConnectAPIKeyContent != "p8-content" || mac.NotarizeTimeout != 45*time.Minute {
		t.Errorf("mac notarize settings: %v %q %v", mac.Notarize, mac.AppStoreConnectAPIKeyContent, mac.NotarizeTimeout)
	}
	if _, err := parseWithConfig(t, "builds:\n  - {name: m, type: pkg, app-store-connect-api-key-content: x}\n", nil); err == nil {
		t.Error("a literal .p8 key in the config file is accepted")
	}
}
