package packaging

import (
	"fmt"

	"github.com/pkgctl/pkgctl/update"
)

// ComponentRequest is one TUF target a build needs.
type ComponentRequest struct {
	Name, Platform, Channel, File string
}

// ComponentsFor lists the TUF targets the options need, in a fixed order: orbit,
// osqueryd and, with --fleet-desktop, desktop. Platform and file names come from
// update's table of Fleet's TUF naming (fleetd-compat.md §3).
func ComponentsFor(o *Options) ([]ComponentRequest, error) {
	var out []ComponentRequest
	for _, name := range []string{update.TargetOrbit, update.TargetOsqueryd, update.TargetDesktop} {
		if name == update.TargetDesktop && !o.Desktop {
			continue
		}
		platform, err := update.PlatformFor(o.Type, o.Arch, name)
		if err != nil {
			return nil, err
		}
		file, err := update.TargetFile(name, platform)
		if err != nil {
			return nil, err
		}
		ch := map[string]string{update.TargetOrbit: o.OrbitChannel, update.TargetOsqueryd: o.OsquerydChannel, update.TargetDesktop: o.DesktopChannel}[name]
		if ch == "" {
			return nil, fmt.Errorf("no channel for %s", name)
		}
		out = append(out, ComponentRequest{Name: name, Platform: platform, Channel: ch, File: file})
	}
	return out, nil
}
