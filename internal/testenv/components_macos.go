package testenv

import "fmt"

// SampleComponentsSizedMacOS is SampleComponentsSized for macOS: orbit on "macos",
// osqueryd.app.tar.gz on "macos-app" and desktop.app.tar.gz on "macos", whose
// executables (orbit, osqueryd and fleet-desktop inside the tarballs) have the given
// sizes in bytes. Used by benchmarks. It does not call Publish.
func SampleComponentsSizedMacOS(r *Repo, channel, version string, orbitSize, osquerydSize, desktopSize int) error {
	sizes := map[string]int{"orbit": orbitSize, "osqueryd": osquerydSize, "desktop": desktopSize}
	for _, c := range Components {
		if c.Platform != "macos" && c.Platform != "macos-app" {
			continue
		}
		size := sizes[c.Name]
		data, err := sampleFile(c, channel, version, &size)
		if err != nil {
			return fmt.Errorf("sample components sized (macOS): %w", err)
		}
		if err := r.AddTarget(c.Name, c.Platform, channel, c.File, data, version); err != nil {
			return fmt.Errorf("sample components sized (macOS): %w", err)
		}
	}
	return nil
}
