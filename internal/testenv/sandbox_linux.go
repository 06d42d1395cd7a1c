package testenv

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Sandbox changes cmd, before it starts, so that run as root it can write
// only below os.TempDir() and the writable directories: it runs, through
// /bin/sh and mount(8), in a new mount namespace in which every mount but
// /proc, /sys and /dev is remounted read-only, and then the writable
// directories are bind-mounted read-write. A tool that unpacks an archive
// with absolute member names (rpm2cpio | cpio, as rpmlint does) then fails
// with "Read-only file system" instead of writing into the machine's /.
//
// If the namespace cannot be set up, the command fails with the reason: a
// test is never run outside the sandbox by surprise. Not root, cmd is left
// as it is: it cannot write /etc, /opt or /usr anyway.
func Sandbox(cmd *exec.Cmd, writable ...string) *exec.Cmd {
	if os.Geteuid() != 0 || cmd.Err != nil {
		return cmd
	}
	var script strings.Builder
	// The working directory (cmd.Dir) was entered before the mounts: enter it
	// again by name afterwards, or it stays on the read-only mount beneath.
	script.WriteString("set -e\nhere=$(pwd -P)\n")
	for _, m := range mountPoints() {
		if under(m, "/proc") || under(m, "/sys") || under(m, "/dev") {
			continue
		}
		q := shellQuote(m)
		script.WriteString("mount -o remount,bind,ro " + q + " || { echo sandbox: cannot make " + q + " read-only >&2; exit 125; }\n")
	}
	for _, w := range append([]string{os.TempDir()}, writable...) {
		q := shellQuote(w)
		script.WriteString("mount --bind " + q + " " + q + " && mount -o remount,bind,rw " + q + " || { echo sandbox: cannot make " + q + " writable >&2; exit 125; }\n")
	}
	script.WriteString("cd \"$here\"\nexec \"$@\"\n")

	args := append([]string{"sh", "-c", script.String(), "sandbox", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = "/bin/sh"
	cmd.Args = args
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// Go makes every mount of the new namespace private (MS_REC|MS_PRIVATE)
	// before exec, so nothing done in it reaches the machine's mounts.
	cmd.SysProcAttr.Unshareflags |= syscall.CLONE_NEWNS
	return cmd
}

// mountPoints lists the mount points of this process's namespace, parents
// before children (the order of /proc/self/mountinfo).
func mountPoints() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return []string{"/"}
	}
	defer f.Close()
	var out []string
	seen := map[string]bool{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		m := unescapeMountinfo(fields[4])
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// unescapeMountinfo decodes the \ooo escapes of /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
