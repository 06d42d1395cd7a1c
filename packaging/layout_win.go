package packaging

import (
	"fmt"
	"path"
	"time"
)

// Windows paths follow one convention in Entry.Path and EnvVar.Path: "/" is the
// system drive, separators are slashes, so "/Program Files/Orbit/secret.txt" is
// C:\Program Files\Orbit\secret.txt. The msi format maps the two roots below to
// the installer's folders (ProgramFiles64Folder, System64Folder).
const (
	WindowsOrbitRoot   = "/Program Files/Orbit"
	WindowsSystem32    = "/Windows/System32"
	WindowsServiceName = "Fleet osquery"
	// WindowsServiceBinary is the copy of orbit.exe the service runs
	// (fleetctl's component C_ORBITBIN).
	WindowsServiceBinary = WindowsOrbitRoot + "/bin/orbit/orbit.exe"
	// WindowsLogFile is orbit's log under the LocalSystem profile.
	WindowsLogFile = WindowsSystem32 + "/config/systemprofile/AppData/Local/FleetDM/Orbit/Logs/orbit-osquery.log"

	// SDDLDefault is every file's and folder's descriptor (SYSTEM and
	// Administrators full control, Users read and execute, not inherited);
	// SDDLSecret is that of secret.txt and of the TLS client keys (SYSTEM and
	// Administrators only). fleetctl locks only secret.txt, and its keys
	// inherit the folder's Users read access: pkgctl locks the keys on purpose.
	SDDLDefault = "O:SYG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
	SDDLSecret  = "O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)"

	// dummyProperty is fleetctl's placeholder for "not given at install time".
	dummyProperty = "dummy"
)

// windowsLayout (in layout_win.go: a _windows.go name would build only on
// Windows) is the agent's layout for msi (fleetd-compat.md §2.2).
func windowsLayout(o *Options, in Inputs) (*Layout, error) {
	l := &Layout{
		OS: OSWindows, Type: o.Type, Arch: o.Arch, Name: PackageName,
		Identifier: o.Identifier, MTime: in.MTime,
	}
	orbit, ok := componentFor(in.Components, "orbit")
	if !ok {
		return nil, fmt.Errorf("layout: orbit component missing")
	}
	l.Version = orbit.Version

	var owner entryOwner // Windows: ownership is in the SDDL
	root := WindowsOrbitRoot
	l.add(Entry{Path: root, Kind: KindDir, Mode: dirMode})
	files, err := orbitRootEntries(o, in, OSWindows, root, owner)
	if err != nil {
		return nil, err
	}
	l.Entries = append(l.Entries, files...)
	if l.Entry(path.Join(root, "secret.txt")) == nil {
		// An empty secret.txt carries the file's restrictive ACL for the
		// secret written at install time from FLEET_SECRET (fleetctl's older
		// MSIs always carried it, even empty).
		l.add(Entry{Path: path.Join(root, "secret.txt"), Kind: KindFile, Mode: fileMode, Data: []byte{}, Role: RoleEnrollSecret, Secret: true})
	}
	l.add(Entry{Path: path.Join(root, "staging"), Kind: KindDir, Mode: dirMode})
	l.Entries = append(l.Entries, componentEntries(root, in.Components, owner)...)
	l.add(Entry{Path: WindowsServiceBinary, Kind: KindFile, Mode: execMode, Source: orbit.Source, Role: RoleServiceBinary})
	for i := range l.Entries {
		e := &l.Entries[i]
		e.SDDL = SDDLDefault
		if e.Secret {
			e.SDDL = SDDLSecret
		}
	}

	l.Windows = &WindowsInstall{
		Service: WindowsService{
			Name:            WindowsServiceName,
			DisplayName:     WindowsServiceName,
			Description:     "This service runs Fleet's osquery runtime and autoupdater (Orbit).",
			Account:         "LocalSystem",
			AutoStart:       true,
			Binary:          WindowsServiceBinary,
			Environment:     windowsEnv(o),
			FailureRestarts: 3,
			RestartDelay:    time.Second,
			ResetPeriod:     24 * time.Hour,
		},
		Properties:     windowsProperties(o),
		SecretFile:     path.Join(root, "secret.txt"),
		SecretProperty: "FLEET_SECRET",
		SecretKeep:     []string{"", dummyProperty},
	}

	l.sort()
	if err := l.check(); err != nil {
		return nil, err
	}
	return l, nil
}

// windowsProperties are the msiexec properties of fleetctl's MSI, with the
// defaults it gives them.
func windowsProperties(o *Options) []InstallProperty {
	email := o.EndUserEmail
	if email == "" {
		email = dummyProperty
	}
	return []InstallProperty{
		{Name: "FLEET_URL", Default: o.FleetURL},
		{Name: "FLEET_SECRET", Default: dummyProperty, Secret: true}, // the build's secret is in secret.txt
		{Name: "FLEET_DESKTOP", Default: titleBool(o.Desktop)},
		{Name: "ENABLE_SCRIPTS", Default: titleBool(o.EnableScripts)},
		{Name: "END_USER_EMAIL", Default: email},
		{Name: "EUA_TOKEN", Default: dummyProperty},
	}
}

func titleBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// windowsEnv is the service's Environment value: every ORBIT_* setting, as
// fleetctl ≥ v4.92.0 writes it (orbit ignores unknown variables, so a downgrade
// to an older orbit keeps working, where unknown flags made it exit).
func windowsEnv(o *Options) []EnvVar {
	lit := func(n, v string) EnvVar { return EnvVar{Name: n, Literal: v} }
	prop := func(n, p string) EnvVar { return EnvVar{Name: n, Property: p} }
	file := func(n, p string) EnvVar { return EnvVar{Name: n, Path: p} }
	env := []EnvVar{
		file("ORBIT_ROOT_DIR", WindowsOrbitRoot),
		file("ORBIT_LOG_FILE", WindowsLogFile),
		prop("ORBIT_FLEET_URL", "FLEET_URL"),
		file("ORBIT_ENROLL_SECRET_PATH", path.Join(WindowsOrbitRoot, "secret.txt")),
		lit("ORBIT_UPDATE_URL", o.UpdateURL),
		lit("ORBIT_UPDATE_INTERVAL", o.OrbitUpdateInterval.String()),
		prop("ORBIT_FLEET_DESKTOP", "FLEET_DESKTOP"),
		lit("ORBIT_DESKTOP_CHANNEL", o.DesktopChannel),
		lit("ORBIT_ORBIT_CHANNEL", o.OrbitChannel),
		lit("ORBIT_OSQUERYD_CHANNEL", o.OsquerydChannel),
		prop("ORBIT_ENABLE_SCRIPTS", "ENABLE_SCRIPTS"),
	}
	if o.FleetCertificate != "" {
		env = append(env, file("ORBIT_FLEET_CERTIFICATE", path.Join(WindowsOrbitRoot, "fleet.pem")))
	}
	if o.Insecure {
		env = append(env, lit("ORBIT_INSECURE", "true"))
	}
	if o.Debug {
		env = append(env, lit("ORBIT_DEBUG", "true"))
	}
	if o.UpdateTLSServerCertificate != "" {
		env = append(env, file("ORBIT_UPDATE_TLS_CERTIFICATE", path.Join(WindowsOrbitRoot, "update.pem")))
	}
	if o.DisableUpdates {
		env = append(env, lit("ORBIT_DISABLE_UPDATES", "true"))
	}
	if o.FleetDesktopAlternativeBrowserHost != "" {
		env = append(env, lit("ORBIT_FLEET_DESKTOP_ALTERNATIVE_BROWSER_HOST", o.FleetDesktopAlternativeBrowserHost))
	}
	if o.HostIdentifier != "" && o.HostIdentifier != DefaultHostIdentifier {
		env = append(env, lit("ORBIT_HOST_IDENTIFIER", o.HostIdentifier))
	}
	env = append(env, prop("ORBIT_END_USER_EMAIL", "END_USER_EMAIL"), prop("ORBIT_EUA_TOKEN", "EUA_TOKEN"))
	if o.OsqueryDB != "" {
		env = append(env, lit("ORBIT_OSQUERY_DB", o.OsqueryDB))
	}
	if o.DisableSetupExperience {
		env = append(env, lit("ORBIT_DISABLE_SETUP_EXPERIENCE", "true"))
	}
	if o.BypassEndUserAuth {
		env = append(env, lit("ORBIT_BYPASS_END_USER_AUTH", "true"))
	}
	// fleetctl drops --disable-keystore for MSI; pkgctl passes it on.
	if o.DisableKeystore {
		env = append(env, lit("ORBIT_DISABLE_KEYSTORE", "true"))
	}
	return env
}
