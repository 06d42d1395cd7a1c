package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigOutputClashBeforeDownload: outfiles that are one file by two
// names, and a --manifest naming an output or input, are refused before
// anything is fetched (a fetch would fail with another error: the test has
// no update server) and nothing is written.
func TestConfigOutputClashBeforeDownload(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(out, filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	flags := filepath.Join(dir, "osquery.flags")
	if err := os.WriteFile(flags, []byte("--verbose\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := "osquery-flagfile: " + flags + "\n"
	for _, tc := range []struct {
		name, yaml string
		args       []string
		want       string
	}{
		{"symlinked dir", common + "builds:\n- name: a\n  type: deb\n  outfile: " + out + "/x.deb\n- name: b\n  type: deb\n  outfile: " + dir + "/alias/x.deb\n", nil, "builds a and b both write one file"},
		{"dot-dot", common + "builds:\n- name: a\n  type: deb\n  outfile: " + out + "/x.deb\n- name: b\n  type: deb\n  outfile: " + out + "/../out/x.deb\n", nil, "builds a and b both write one file"},
		{"manifest is an output", common + "builds:\n- name: a\n  type: deb\n  outfile: " + out + "/x.deb\n", []string{"--manifest=" + dir + "/alias/x.deb"}, "--manifest"},
		{"manifest is an input", common + "builds:\n- name: a\n  type: deb\n  outfile: " + out + "/x.deb\n", []string{"--manifest=" + flags}, "is also --osquery-flagfile of build a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(dir, "pkgctl.yaml")
			if err := os.WriteFile(cfg, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			var so, se bytes.Buffer
			cmd := NewCmdPackage(Streams{Out: &so, ErrOut: &se}, nil)
			cmd.SetArgs(append([]string{"--config=" + cfg}, tc.args...))
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q\nstderr: %s", err, tc.want, se.String())
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("the output directory holds %v", ents)
			}
			if data, _ := os.ReadFile(flags); string(data) != "--verbose\n" {
				t.Errorf("the flagfile was changed: %q", data)
			}
		})
	}
}

// TestInert: errors, warnings and logs reach the terminal without a URL's
// password and without raw control characters.
func TestInert(t *testing.T) {
	got := inert("fetch https://u:hunter2@h/x: server said \x1b]0;pwned\x07\x1b[2J\nsecond line")
	if strings.Contains(got, "hunter2") || strings.ContainsAny(got, "\x1b\x07") || !strings.Contains(got, "u:REDACTED@h") || !strings.Contains(got, "\nsecond line") {
		t.Errorf("inert = %q", got)
	}
	var errOut bytes.Buffer
	Streams{Out: &bytes.Buffer{}, ErrOut: &errOut}.Warnf("channel %s", "edge\x1b[31m")
	if strings.Contains(errOut.String(), "\x1b") {
		t.Errorf("Warnf printed %q", errOut.String())
	}
}
