package packaging

import (
	"fmt"
	"path"
	"strings"

	mactemplates "github.com/pkgctl/pkgctl/templates/macos"
)

// Facts of the macOS agent (fleetd-compat.md §2.1).
const (
	MacOSLaunchdLabel = "com.fleetdm.orbit"
	MacOSLaunchdPlist = "/Library/LaunchDaemons/com.fleetdm.orbit.plist"
	// MacOSInbandMarker is left by orbit when it runs the installer to upgrade
	// itself: the postinstall then restarts it later instead of at once.
	MacOSInbandMarker = "/opt/orbit/.inband_upgrade"
	// MacOSUID and MacOSGID own every payload entry: root:admin, as fleetctl's
	// `cpio -R 0:80` and `mkbom -u 0 -g 80` write them.
	MacOSUID = 0
	MacOSGID = 80
)

var macosOwner = entryOwner{Owner: "root", Group: "admin", UID: MacOSUID, GID: MacOSGID}

// macosLayout is the agent's layout for pkg (fleetd-compat.md §2.1). The payload
// holds no symlinks: the postinstall script creates /opt/orbit/bin/orbit/orbit
// and /usr/local/bin/orbit.
func macosLayout(o *Options, in Inputs) (*Layout, error) {
	l := &Layout{
		OS: OSMacOS, Type: o.Type, Arch: o.Arch, Name: PackageName,
		Identifier: o.Identifier, MTime: in.MTime,
	}
	orbit, ok := componentFor(in.Components, "orbit")
	if !ok {
		return nil, fmt.Errorf("layout: orbit component missing")
	}
	l.Version = orbit.Version
	if err := checkMacOSValues(o); err != nil {
		return nil, err
	}

	root := UnixOrbitRoot
	// The payload is a tree rooted at "/": its parent directories are entries
	// too, as in fleetctl's `find . | cpio`.
	l.add(macosOwner.entry(Entry{Path: "/opt", Kind: KindDir, Mode: dirMode}))
	l.add(macosOwner.entry(Entry{Path: root, Kind: KindDir, Mode: dirMode}))
	files, err := orbitRootEntries(o, in, OSMacOS, root, macosOwner)
	if err != nil {
		return nil, err
	}
	l.Entries = append(l.Entries, files...)
	l.add(macosOwner.entry(Entry{Path: path.Join(root, "staging"), Kind: KindDir, Mode: dirMode}))
	comps := componentEntries(root, in.Components, macosOwner)
	for _, e := range comps {
		if e.Kind == KindSymlink {
			// The Bom writer and Installer's payload checks want no links
			// from a component tarball; none of Fleet's have any.
			return nil, fmt.Errorf("layout: component entry %s is a symlink, which the pkg payload does not carry", e.Path)
		}
	}
	l.Entries = append(l.Entries, comps...)

	if o.StartService {
		plist, err := mactemplates.RenderPlist(mactemplates.Plist{
			Label: MacOSLaunchdLabel, Program: LinuxOrbitLink, Env: macosEnv(o),
		})
		if err != nil {
			return nil, err
		}
		l.add(macosOwner.entry(Entry{Path: "/Library", Kind: KindDir, Mode: dirMode}))
		l.add(macosOwner.entry(Entry{Path: path.Dir(MacOSLaunchdPlist), Kind: KindDir, Mode: dirMode}))
		l.add(macosOwner.entry(Entry{Path: MacOSLaunchdPlist, Kind: KindFile, Mode: 0o644, Data: plist, Role: RoleServiceUnit}))
	}

	post, err := mactemplates.RenderPostinstall(mactemplates.Postinstall{
		OrbitBinary:  path.Join(root, "bin", orbit.Name, orbit.Platform, orbit.Channel, orbit.File),
		OrbitLink:    LinuxOrbitLink,
		BinLink:      LinuxBinLink,
		Service:      o.StartService,
		Label:        MacOSLaunchdLabel,
		Plist:        MacOSLaunchdPlist,
		InbandMarker: MacOSInbandMarker,
		Root:         root,
		LegacyVarLib: legacyVarLib(orbit.Version),
	})
	if err != nil {
		return nil, err
	}
	l.Scripts.PostInstall = string(post)

	l.sort()
	if err := l.check(); err != nil {
		return nil, err
	}
	return l, nil
}

// checkMacOSValues refuses values the plist or Distribution (XML 1.0) cannot hold
// or orbit would read back changed. Control characters are refused by Validate.
func checkMacOSValues(o *Options) error {
	for _, s := range o.textSettings() {
		if err := mactemplates.CheckXMLText("--"+s.flag, s.value); err != nil {
			return &FlagError{Flag: s.flag, Msg: err.Error()}
		}
	}
	// The postinstall links the orbit binary by its channel's path.
	if !mactemplates.ShellSafe(o.OrbitChannel) {
		return flagErr("orbit-channel", "--orbit-channel %q is not a valid channel name (letters, digits and . _ - + @ :)", o.OrbitChannel)
	}
	// The secret goes to secret.txt, which orbit reads with surrounding
	// whitespace trimmed: such a secret would not be the one Fleet expects.
	if strings.TrimSpace(o.EnrollSecret) != o.EnrollSecret {
		return flagErr("enroll-secret", "--enroll-secret must not begin or end with white space: orbit trims it from secret.txt")
	}
	return nil
}

// macosEnv is the plist's EnvironmentVariables, in fleetctl's order
// (fleetd-compat.md §2.1); each optional one only when set.
func macosEnv(o *Options) []mactemplates.EnvVar {
	var env []mactemplates.EnvVar
	add := func(cond bool, k, v string) {
		if cond {
			env = append(env, mactemplates.EnvVar{Key: k, Value: v})
		}
	}
	add(o.Debug, "ORBIT_DEBUG", "true")
	add(o.Insecure, "ORBIT_INSECURE", "true")
	add(o.FleetCertificate != "", "ORBIT_FLEET_CERTIFICATE", path.Join(UnixOrbitRoot, "fleet.pem"))
	add(o.EnrollSecret != "", "ORBIT_ENROLL_SECRET_PATH", path.Join(UnixOrbitRoot, "secret.txt"))
	add(o.FleetURL != "", "ORBIT_FLEET_URL", o.FleetURL)
	add(o.UseSystemConfiguration, "ORBIT_USE_SYSTEM_CONFIGURATION", "true")
	add(o.EnableScripts, "ORBIT_ENABLE_SCRIPTS", "true")
	add(o.DisableUpdates, "ORBIT_DISABLE_UPDATES", "true")
	add(true, "ORBIT_ORBIT_CHANNEL", o.OrbitChannel)
	add(true, "ORBIT_OSQUERYD_CHANNEL", o.OsquerydChannel)
	add(true, "ORBIT_UPDATE_URL", o.UpdateURL)
	add(o.UpdateTLSServerCertificate != "", "ORBIT_UPDATE_TLS_CERTIFICATE", path.Join(UnixOrbitRoot, "update.pem"))
	add(o.Desktop, "ORBIT_FLEET_DESKTOP", "true")
	add(o.Desktop, "ORBIT_DESKTOP_CHANNEL", o.DesktopChannel)
	add(o.Desktop && o.FleetDesktopAlternativeBrowserHost != "", "ORBIT_FLEET_DESKTOP_ALTERNATIVE_BROWSER_HOST", o.FleetDesktopAlternativeBrowserHost)
	add(true, "ORBIT_UPDATE_INTERVAL", o.OrbitUpdateInterval.String())
	add(o.HostIdentifier != DefaultHostIdentifier, "ORBIT_HOST_IDENTIFIER", o.HostIdentifier)
	add(o.DisableKeystore, "ORBIT_DISABLE_KEYSTORE", "true")
	add(o.OsqueryDB != "", "ORBIT_OSQUERY_DB", o.OsqueryDB)
	add(o.BypassEndUserAuth, "ORBIT_BYPASS_END_USER_AUTH", "true")
	return env
}
