package testenv

import "os/exec"

// Command is exec.Command run in Sandbox: use it for every tool that unpacks,
// installs or runs package scripts (cpio, bsdtar, 7z, dpkg, rpm, rpmlint,
// msiextract, gcab, wine), so that as root it cannot write outside the
// temporary directory.
func Command(name string, arg ...string) *exec.Cmd {
	return Sandbox(exec.Command(name, arg...))
}
