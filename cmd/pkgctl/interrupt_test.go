//go:build unix

package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildPkgctl builds this command into a temp dir, once per test binary.
var buildPkgctl = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pkgctl-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pkgctl")
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{out, err}
	}
	return bin, nil
})

type buildError struct {
	out []byte
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + string(e.out) }

// hangingServer accepts requests and never answers; hit is closed by the first.
func hangingServer(t *testing.T) (url string, hit <-chan struct{}) {
	h := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(h) })
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, h
}

// TestCtrlCRealSignal sends a real SIGINT to a built pkgctl while it waits for
// a TUF server, for a single build and for a matrix: exit 130, "interrupted",
// no "build(s) failed", and nothing written.
func TestCtrlCRealSignal(t *testing.T) {
	bin, err := buildPkgctl()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args func(url, dir string) []string
	}{
		{"package", func(url, dir string) []string {
			return []string{"package", "--type", "deb", "--update-url", url, "--cache-dir", ""}
		}},
		{"matrix", func(url, dir string) []string {
			cfg := "update-url: " + url + "\ncache-dir: \"\"\nbuilds:\n  - type: deb\n  - type: rpm\n  - type: pkg.tar.zst\n"
			path := filepath.Join(dir, "pkgctl.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"package", "--config", path}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, hit := hangingServer(t)
			dir := t.TempDir()
			cmd := exec.Command(bin, tt.args(url, dir)...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CACHE_HOME="+dir)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-hit:
			case <-time.After(2 * time.Minute): // hang guard
				cmd.Process.Kill()
				t.Fatalf("pkgctl never reached the server; stderr:\n%s", stderr.String())
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(2 * time.Minute): // hang guard, not a timing assertion
				cmd.Process.Kill()
				t.Fatalf("pkgctl did not stop after SIGINT; stderr:\n%s", stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 130 {
				t.Errorf("exit code %d, want 130; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), "interrupted") || strings.Contains(stderr.String(), "failed") {
				t.Errorf("stderr should say interrupted and name no failure:\n%s", stderr.String())
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != "pkgctl.yaml" {
					t.Errorf("left %s in the working directory", e.Name())
				}
			}
		})
	}
}

// TestCtrlCUpdatesAdd: `updates add` stuck where no context reaches (here, a
// key file that is a FIFO nobody writes) still stops on SIGINT with exit 130.
func TestCtrlCUpdatesAdd(t *testing.T) {
	bin, err := buildPkgctl()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, "tuf")
	env := os.Environ()
	for k, v := range updatesPass {
		env = append(env, k+"="+v)
	}
	initCmd := exec.Command(bin, "updates", "init", "--path", repo)
	initCmd.Env = env
	if out, err := initCmd.CombinedOutput(); err != nil {
		t.Fatalf("updates init: %v\n%s", err, out)
	}
	key := filepath.Join(repo, "keys", "timestamp.json")
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(key, 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "orbit")
	if err := os.WriteFile(target, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "updates", "add", "--path", repo, "--target", target, "--name", "orbit", "--platform", "linux", "--version", "1.0.0")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Wait until pkgctl has opened the FIFO for reading, then hold the write end
	// open without writing: its read blocks.
	var w *os.File
	for deadline := time.Now().Add(2 * time.Minute); w == nil; {
		f, err := os.OpenFile(key, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			w = f
			break
		}
		if time.Now().After(deadline) { // hang guard
			t.Fatalf("pkgctl never opened the key file: %v; stderr:\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer w.Close()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute): // hang guard, not a timing assertion
		t.Fatalf("pkgctl updates add did not stop after SIGINT; stderr:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q; want 130 and interrupted", code, stderr.String())
	}
}
