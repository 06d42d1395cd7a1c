package packaging

// componentSpec says where one agent component lives in TUF for a target OS
// (fleetd-compat.md §3).
type componentSpec struct {
	Name     string
	Platform string // arm64 adds "-arm64" on Linux and Windows
	File     string
	Desktop  bool // only with --fleet-desktop
}

var componentSpecs = map[string][]componentSpec{
	OSLinux: {
		{Name: "orbit", Platform: "linux", File: "orbit"},
		{Name: "osqueryd", Platform: "linux", File: "osqueryd"},
		{Name: "desktop", Platform: "linux", File: "desktop.tar.gz", Desktop: true},
	},
	OSMacOS: {
		{Name: "orbit", Platform: "macos", File: "orbit"},
		{Name: "osqueryd", Platform: "macos-app", File: "osqueryd.app.tar.gz"},
		{Name: "desktop", Platform: "macos", File: "desktop.app.tar.gz", Desktop: true},
	},
	OSWindows: {
		{Name: "orbit", Platform: "windows", File: "orbit.exe"},
		{Name: "osqueryd", Platform: "windows", File: "osqueryd.exe"},
		{Name: "desktop", Platform: "windows", File: "fleet-desktop.exe", Desktop: true},
	},
}

// ComponentRequest is one TUF target a build needs.
type ComponentRequest struct {
	Name, Platform, Channel, File string
}

// ComponentsFor lists the TUF targets the options need, in a fixed order.
func ComponentsFor(o *Options) []ComponentRequest {
	osName := TargetOS(o.Type)
	var out []ComponentRequest
	for _, s := range componentSpecs[osName] {
		if s.Desktop && !o.Desktop {
			continue
		}
		platform := s.Platform
		if o.Arch == ArchARM64 && osName != OSMacOS {
			platform += "-arm64"
		}
		ch := map[string]string{"orbit": o.OrbitChannel, "osqueryd": o.OsquerydChannel, "desktop": o.DesktopChannel}[s.Name]
		out = append(out, ComponentRequest{Name: s.Name, Platform: platform, Channel: ch, File: s.File})
	}
	return out
}
