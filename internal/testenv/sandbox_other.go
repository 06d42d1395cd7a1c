//go:build !linux

package testenv

import "os/exec"

// Sandbox returns cmd unchanged: mount namespaces are Linux's. The tests that
// run Debian's tools run on Linux.
func Sandbox(cmd *exec.Cmd, writable ...string) *exec.Cmd { return cmd }
