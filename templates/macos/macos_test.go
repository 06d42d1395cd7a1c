package macos

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestXMLDocumentsEscape(t *testing.T) {
	c := Component{Identifier: `com.ex&ample<"x">.ü`, Version: "1.2.3", NumberOfFiles: 7, InstallKBytes: 42, Postinstall: true}
	for name, render := range map[string]func(Component) ([]byte, error){"PackageInfo": PackageInfo, "Distribution": Distribution} {
		data, err := render(c)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			ID      string `xml:"identifier,attr"`
			Payload struct {
				N string `xml:"numberOfFiles,attr"`
			} `xml:"payload"`
			Refs []struct {
				ID     string `xml:"id,attr"`
				Bundle struct {
					ID string `xml:"id,attr"`
				} `xml:"bundle-version>bundle"`
			} `xml:"pkg-ref"`
		}
		if err := xml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, data)
		}
		switch name {
		case "PackageInfo":
			if doc.ID != c.Identifier+".base.pkg" || doc.Payload.N != "7" {
				t.Errorf("PackageInfo: %+v", doc)
			}
		case "Distribution":
			if len(doc.Refs) != 2 || doc.Refs[0].ID != c.Identifier+".base.pkg" || doc.Refs[1].Bundle.ID != c.Identifier {
				t.Errorf("Distribution: %+v", doc)
			}
		}
	}
	if _, err := PackageInfo(Component{Identifier: "a\uFFFF", Version: "1"}); err == nil || !strings.Contains(err.Error(), "--identifier") {
		t.Errorf("U+FFFF identifier: %v", err)
	}
}

func TestRenderPlistEscapes(t *testing.T) {
	v := `a&b<c>"d"'e' ü`
	data, err := RenderPlist(Plist{Label: "com.fleetdm.orbit", Program: "/opt/orbit/bin/orbit/orbit", Env: []EnvVar{{"ORBIT_FLEET_URL", v}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "a&amp;b&lt;c&gt;&#34;d&#34;&#39;e&#39; ü") {
		t.Errorf("value not escaped:\n%s", data)
	}
	if _, err := RenderPlist(Plist{Env: []EnvVar{{"K", "\xff"}}}); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
}

func TestRenderPostinstallRefusesShell(t *testing.T) {
	_, err := RenderPostinstall(Postinstall{OrbitBinary: "/opt/orbit/bin/orbit/macos/$(id)/orbit"})
	if err == nil {
		t.Error("shell metacharacters accepted")
	}
}
