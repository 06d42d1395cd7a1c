package packaging

import (
	"fmt"
	"path"

	"github.com/pkgctl/pkgctl/templates"
)

var linuxOwner = entryOwner{Owner: "root", Group: "root"}

// linuxEnv is what /etc/default/orbit says; see templates/linux/orbit.env.
type linuxEnv struct {
	UpdateURL, OrbitChannel, OsquerydChannel, DesktopChannel string
	UpdateInterval                                           string
	Desktop                                                  bool
	DesktopAlternativeBrowserHost                            string
	Insecure, DisableUpdates, Debug, EnableScripts           bool
	FleetURL, EnrollSecret                                   string
	FleetCertificate, UpdateTLSCertificate                   string
	HostIdentifier, OsqueryDB, EndUserEmail                  string
	ManagedHostIdentity, DisableSetupExperience              bool
	BypassEndUserAuth                                        bool
}

// linuxLayout (in layout_lin.go: a _linux.go name would build only on Linux) is the agent's layout for deb, rpm and pkg.tar.zst
// (fleetd-compat.md §2.3).
func linuxLayout(o *Options, in Inputs) (*Layout, error) {
	l := &Layout{
		OS: OSLinux, Type: o.Type, Arch: o.Arch, Name: PackageName,
		Identifier: o.Identifier, MTime: in.MTime,
	}
	orbit, ok := componentFor(in.Components, "orbit")
	if !ok {
		return nil, fmt.Errorf("layout: orbit component missing")
	}
	l.Version = orbit.Version

	root := UnixOrbitRoot
	l.add(linuxOwner.entry(Entry{Path: root, Kind: KindDir, Mode: dirMode}))
	files, err := orbitRootEntries(o, in, OSLinux, root, linuxOwner)
	if err != nil {
		return nil, err
	}
	l.Entries = append(l.Entries, files...)
	l.add(linuxOwner.entry(Entry{Path: path.Join(root, "staging"), Kind: KindDir, Mode: dirMode}))
	l.Entries = append(l.Entries, componentEntries(root, in.Components, linuxOwner)...)

	// The service runs /opt/orbit/bin/orbit/orbit, which orbit repoints on update.
	l.add(linuxOwner.entry(Entry{Path: LinuxOrbitLink, Kind: KindSymlink, Mode: 0o777,
		Link: path.Join(root, "bin", "orbit", orbit.Platform, orbit.Channel, orbit.File)}))
	l.add(linuxOwner.entry(Entry{Path: LinuxBinLink, Kind: KindSymlink, Mode: 0o777, Link: LinuxOrbitLink}))
	for _, d := range []string{"/var/log/osquery", "/var/log/orbit"} {
		l.add(linuxOwner.entry(Entry{Path: d, Kind: KindDir, Mode: dirMode}))
	}
	if legacyVarLib(orbit.Version) {
		l.add(linuxOwner.entry(Entry{Path: "/var/lib/orbit", Kind: KindSymlink, Mode: 0o777, Link: root}))
	}

	env, err := templates.Render("linux/orbit.env", linuxEnvFor(o))
	if err != nil {
		return nil, err
	}
	l.add(linuxOwner.entry(Entry{Path: LinuxEnvFile, Kind: KindFile, Mode: fileMode, Data: env, Role: RoleServiceConfig, Secret: true}))
	quota, err := o.CPUQuotaPercent()
	if err != nil {
		return nil, err
	}
	unit, err := templates.Render("linux/orbit.service", struct{ CPUQuota int }{quota})
	if err != nil {
		return nil, err
	}
	l.add(linuxOwner.entry(Entry{Path: LinuxServiceUnit, Kind: KindFile, Mode: 0o644, Data: unit, Role: RoleServiceUnit}))

	// Debian policy wants a copyright file and a lintian overrides file.
	copyright, err := templates.Render("linux/copyright", nil)
	if err != nil {
		return nil, err
	}
	l.add(linuxOwner.entry(Entry{Path: "/usr/share/doc/" + PackageName + "/copyright", Kind: KindFile, Mode: 0o644, Data: copyright, Role: RoleDoc, Only: TypeDeb}))
	overrides, err := templates.Render("linux/lintian-overrides", nil)
	if err != nil {
		return nil, err
	}
	l.add(linuxOwner.entry(Entry{Path: "/usr/share/lintian/overrides/" + PackageName, Kind: KindFile, Mode: 0o644, Data: overrides, Role: RoleDoc, Only: TypeDeb}))

	scriptData := struct{ StartService bool }{o.StartService}
	for _, s := range []struct {
		name string
		dst  *string
	}{
		{"linux/postinstall.sh", &l.Scripts.PostInstall},
		{"linux/preremove.sh", &l.Scripts.PreRemove},
		{"linux/postremove.sh", &l.Scripts.PostRemove},
		{"linux/posttrans.sh", &l.Scripts.PostTrans},
	} {
		b, err := templates.Render(s.name, scriptData)
		if err != nil {
			return nil, err
		}
		*s.dst = string(b)
	}

	l.sort()
	if err := l.check(); err != nil {
		return nil, err
	}
	return l, nil
}

func linuxEnvFor(o *Options) linuxEnv {
	e := linuxEnv{
		UpdateURL: o.UpdateURL, OrbitChannel: o.OrbitChannel, OsquerydChannel: o.OsquerydChannel,
		DesktopChannel: o.DesktopChannel, UpdateInterval: o.OrbitUpdateInterval.String(),
		Desktop: o.Desktop, DesktopAlternativeBrowserHost: o.FleetDesktopAlternativeBrowserHost,
		Insecure: o.Insecure, DisableUpdates: o.DisableUpdates, Debug: o.Debug, EnableScripts: o.EnableScripts,
		FleetURL: o.FleetURL, EnrollSecret: o.EnrollSecret,
		OsqueryDB: o.OsqueryDB, EndUserEmail: o.EndUserEmail,
		ManagedHostIdentity: o.FleetManagedHostIdentityCertificate, DisableSetupExperience: o.DisableSetupExperience,
		BypassEndUserAuth: o.BypassEndUserAuth,
	}
	if o.FleetCertificate != "" {
		e.FleetCertificate = path.Join(UnixOrbitRoot, "fleet.pem")
	}
	if o.UpdateTLSServerCertificate != "" {
		e.UpdateTLSCertificate = path.Join(UnixOrbitRoot, "update.pem")
	}
	if o.HostIdentifier != DefaultHostIdentifier {
		e.HostIdentifier = o.HostIdentifier
	}
	return e
}
