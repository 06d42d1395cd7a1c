package testenv

import "fmt"

// SampleComponentsSizedWindows is SampleComponentsSized for "windows" or
// "windows-arm64": orbit.exe, osqueryd.exe and fleet-desktop.exe of the given
// sizes (Fleet publishes the Windows desktop as a bare .exe, not a tarball),
// padded the same way. Used by benchmarks. It does not call Publish.
func SampleComponentsSizedWindows(r *Repo, platform, channel, version string, orbitSize, osquerydSize, desktopSize int) error {
	if platform != "windows" && platform != "windows-arm64" {
		return fmt.Errorf("sample components sized: platform %q is not windows or windows-arm64", platform)
	}
	sizes := map[string]int{"orbit": orbitSize, "osqueryd": osquerydSize, "desktop": desktopSize}
	for _, c := range Components {
		if c.Platform != platform {
			continue
		}
		size := sizes[c.Name]
		data, err := sampleFile(c, channel, version, &size)
		if err != nil {
			return fmt.Errorf("sample components sized: %w", err)
		}
		if err := r.AddTarget(c.Name, c.Platform, channel, c.File, data, version); err != nil {
			return fmt.Errorf("sample components sized: %w", err)
		}
	}
	return nil
}
