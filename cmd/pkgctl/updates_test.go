package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/tufrepo"
)

// updatesPass are FLEET_<ROLE>_PASSPHRASE for the tests; none may ever be printed.
var updatesPass = map[string]string{
	"FLEET_ROOT_PASSPHRASE":      "cmd-Root-Passphrase-71",
	"FLEET_TARGETS_PASSPHRASE":   "cmd-Targets-Passphrase-72",
	"FLEET_SNAPSHOT_PASSPHRASE":  "cmd-Snapshot-Passphrase-73",
	"FLEET_TIMESTAMP_PASSPHRASE": "cmd-Timestamp-Passphrase-74",
}

func envWith(over map[string]string) func(string) (string, bool) {
	env := map[string]string{}
	for k, v := range updatesPass {
		env[k] = v
	}
	for k, v := range over {
		if v == "<unset>" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// lines returns a ReadPassword that yields each line in turn (a terminal typing them).
func lines(ls ...string) func() ([]byte, error) {
	sc := bufio.NewScanner(strings.NewReader(strings.Join(ls, "\n") + "\n"))
	return func() ([]byte, error) {
		if !sc.Scan() {
			return nil, errors.New("EOF")
		}
		return []byte(sc.Text()), nil
	}
}

type updatesRun struct {
	Stdout, Stderr string
	Err            error
}

// runUpdates runs `pkgctl updates args...` through the command and its run functions,
// with the environment lookupEnv, the terminal readPassword (nil: not a terminal) and the
// clock now (zero: time.Now). It checks that no passphrase appears in the output.
func runUpdates(t *testing.T, lookupEnv func(string) (string, bool), readPassword func() ([]byte, error), now time.Time, args ...string) updatesRun {
	t.Helper()
	var out, errOut bytes.Buffer
	o := &UpdatesOptions{Streams: Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, LookupEnv: lookupEnv, ReadPassword: readPassword, Now: time.Now}
	if !now.IsZero() {
		o.Now = func() time.Time { return now }
	}
	cmd := newCmdUpdates(o, nil)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	r := updatesRun{Stdout: out.String(), Stderr: errOut.String(), Err: err}
	all := r.Stdout + r.Stderr
	if err != nil {
		all += err.Error()
	}
	for _, p := range updatesPass {
		if strings.Contains(all, p) {
			t.Errorf("updates %v printed a passphrase", args)
		}
	}
	return r
}

func Test_NewCmdUpdates(t *testing.T) {
	target := filepath.Join(t.TempDir(), "orbit")
	if err := os.WriteFile(target, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args    []string
		wantSub string
		wantErr string
		check   func(t *testing.T, o *UpdatesOptions)
	}{
		{args: []string{"init"}, wantSub: "init", check: func(t *testing.T, o *UpdatesOptions) {
			if o.Path != "." {
				t.Errorf("--path default %q, want .", o.Path)
			}
		}},
		{args: []string{"roots", "--path", "/r"}, wantSub: "roots", check: func(t *testing.T, o *UpdatesOptions) {
			if o.Path != "/r" {
				t.Errorf("path %q", o.Path)
			}
		}},
		{args: []string{"add", "--path=/r", "--target", target, "--name", "orbit", "--platform", "linux", "--version", "1.2.3", "-t", "1.2", "--tag", "1", "-t", "stable,edge"},
			wantSub: "add", check: func(t *testing.T, o *UpdatesOptions) {
				if o.Target != target || o.Name != "orbit" || o.Platform != "linux" || o.Version != "1.2.3" || !slices.Equal(o.Tags, []string{"1.2", "1", "stable", "edge"}) {
					t.Errorf("%+v", o)
				}
			}},
		{args: []string{"timestamp"}, wantSub: "timestamp"},
		{args: []string{"rotate", "snapshot"}, wantSub: "rotate", check: func(t *testing.T, o *UpdatesOptions) {
			if o.Role != "snapshot" {
				t.Errorf("role %q", o.Role)
			}
		}},
		{args: []string{"add", "--name", "orbit", "--platform", "linux", "--version", "1"}, wantErr: "--target is required"},
		{args: []string{"add", "--target", target, "--platform", "linux", "--version", "1"}, wantErr: "--name is required"},
		{args: []string{"add", "--target", target, "--name", "orbit", "--version", "1"}, wantErr: "--platform is required"},
		{args: []string{"add", "--target", target, "--name", "orbit", "--platform", "linux"}, wantErr: "--version is required"},
		{args: []string{"add", "--target", "/nonexistent/orbit", "--name", "orbit", "--platform", "linux", "--version", "1"}, wantErr: "--target /nonexistent/orbit: no such file"},
		{args: []string{"add", "--target", filepath.Dir(target), "--name", "orbit", "--platform", "linux", "--version", "1"}, wantErr: "is not a regular file"},
		{args: []string{"add", "--target", target, "--name", "orbit", "--platform", "..", "--version", "1"}, wantErr: "platform \"..\""},
		{args: []string{"add", "--target", target, "--name", "orbit", "--platform", "linux", "--version", "1", "-tag=stable"}, wantErr: `--tag "ag=stable" contains '='`},
		// The versions pkgctl package refuses from a repository (issue 11 §5).
		{args: []string{"add", "--target", target, "--name", "orbit", "--platform", "linux", "--version", "1"}, wantErr: `--version: version "1" is not MAJOR.MINOR.PATCH`},
		{args: []string{"add", "--target", target, "--name", "orbit", "--platform", "linux", "--version", "1.2.3<x>"}, wantErr: "is not a decimal number"},
		{args: []string{"add", "--target", target, "--name", "orbit", "--platform", "linux", "--version", "99999999999999999999.1.1"}, wantErr: "over 255"},
		{args: []string{"add", "--target", target, "--name", "orbit", "--platform", "linux", "--version", "1.2.3\nX: y"}, wantErr: `"1.2.3\nX: y"`},
		{args: []string{"rotate"}, wantErr: "role must be provided"},
		{args: []string{"rotate", "admin"}, wantErr: `role must be one of root, targets, snapshot, timestamp, not "admin"`},
		{args: []string{"init", "--passphrase", "x"}, wantErr: "unknown flag: --passphrase"},
		{args: []string{"add", "--target", target, "--name", "orbit", "--platform", "linx", "--version", "1"},
			wantErr: `--platform "linx" is not a platform fleetd agents fetch updates for (did you mean linux?); known platforms: linux, linux-arm64, macos, macos-app, windows, windows-arm64; pass --force`},
		{args: []string{"add", "--target", target, "--name", "orbit", "--platform", "freebsd", "--version", "1.0.0", "--force"},
			wantSub: "add", check: func(t *testing.T, o *UpdatesOptions) {
				if o.Platform != "freebsd" || !o.Force {
					t.Errorf("%+v", o)
				}
			}},
		{args: []string{"add", "--target", target, "--name", "orbit", "--platfrom", "linux", "--version", "1"}, wantErr: "unknown flag: --platfrom (did you mean --platform?)"},
		{args: []string{"timestamp", "extra"}, wantErr: `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var gotSub string
			var got *UpdatesOptions
			var out bytes.Buffer
			cmd := NewCmdUpdates(Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out}, func(sub string, o *UpdatesOptions) error {
				gotSub, got = sub, o
				return nil
			})
			cmd.SetArgs(tt.args)
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if gotSub != "" {
					t.Errorf("ran %s despite the error", gotSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if gotSub != tt.wantSub {
				t.Errorf("ran %q, want %q", gotSub, tt.wantSub)
			}
			if got.ReadPassword != nil {
				t.Error("a strings.Reader stdin is taken for a terminal")
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

// TestPassphrasePromptLeftWithCtrlC: Ctrl-C at a passphrase prompt returns at
// once with errInterrupted and gives the terminal its echo back, although the
// terminal read itself cannot be cancelled.
func TestPassphrasePromptLeftWithCtrlC(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	blocked := make(chan struct{})
	reading := make(chan struct{})
	restored := false
	var errOut bytes.Buffer
	o := &UpdatesOptions{
		Streams:   Streams{ErrOut: &errOut},
		LookupEnv: func(string) (string, bool) { return "", false },
		ReadPassword: func() ([]byte, error) {
			close(reading)
			<-blocked // the user types nothing
			return nil, errors.New("unreachable")
		},
		restoreTerm: func() { restored = true },
		ctx:         ctx,
	}
	defer close(blocked)
	go func() {
		<-reading
		cancel() // Ctrl-C
	}()
	_, err := o.passphrase("root", false, false)
	if !errors.Is(err, errInterrupted) {
		t.Fatalf("err %v, want errInterrupted", err)
	}
	if !restored {
		t.Error("the terminal was not restored")
	}
	if exitCode(err) != 130 {
		t.Errorf("exit code %d, want 130", exitCode(err))
	}
}

func Test_updatesPassphrase(t *testing.T) {
	tests := []struct {
		name          string
		env           map[string]string
		read          func() ([]byte, error)
		create, retry bool
		want          string
		wantErr       string
		wantPrompt    []string // in stderr
	}{
		{name: "from env", want: updatesPass["FLEET_TARGETS_PASSPHRASE"]},
		{name: "env wins over terminal", read: lines("typed"), want: updatesPass["FLEET_TARGETS_PASSPHRASE"]},
		{name: "env wrong", retry: true, wantErr: "the targets key passphrase from FLEET_TARGETS_PASSPHRASE is wrong: it does not decrypt keys/targets.json"},
		{name: "env empty", env: map[string]string{"FLEET_TARGETS_PASSPHRASE": ""}, wantErr: "FLEET_TARGETS_PASSPHRASE is set but empty: the targets key passphrase must not be empty"},
		{name: "no env, no terminal", env: map[string]string{"FLEET_TARGETS_PASSPHRASE": "<unset>"}, wantErr: "set FLEET_TARGETS_PASSPHRASE (stdin is not a terminal"},
		{name: "prompt", env: map[string]string{"FLEET_TARGETS_PASSPHRASE": "<unset>"}, read: lines("typed-secret"), want: "typed-secret",
			wantPrompt: []string{"Enter targets key passphrase: "}},
		{name: "prompt create confirms", env: map[string]string{"FLEET_TARGETS_PASSPHRASE": "<unset>"}, create: true,
			read: lines("one", "two", "three", "three"), want: "three",
			wantPrompt: []string{"Repeat targets key passphrase: ", "The entered passphrases do not match"}},
		{name: "prompt never confirmed", env: map[string]string{"FLEET_TARGETS_PASSPHRASE": "<unset>"}, create: true,
			read: lines("a", "b", "c", "d", "e", "f"), wantErr: "the targets key passphrases entered did not match"},
		{name: "prompt empty", env: map[string]string{"FLEET_TARGETS_PASSPHRASE": "<unset>"}, read: lines(""), wantErr: "the targets key passphrase must not be empty"},
		{name: "prompt retry", env: map[string]string{"FLEET_TARGETS_PASSPHRASE": "<unset>"}, retry: true, read: lines("retyped-pass"), want: "retyped-pass",
			wantPrompt: []string{"Failed to decrypt targets key. Try again."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errOut bytes.Buffer
			o := &UpdatesOptions{Streams: Streams{ErrOut: &errOut}, LookupEnv: envWith(tt.env), ReadPassword: tt.read}
			got, err := o.passphrase("targets", tt.create, tt.retry)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
			} else if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
			for _, p := range tt.wantPrompt {
				if !strings.Contains(errOut.String(), p) {
					t.Errorf("stderr %q lacks %q", errOut.String(), p)
				}
			}
			for _, typed := range []string{"typed-secret", "three", "retyped-pass", updatesPass["FLEET_TARGETS_PASSPHRASE"]} {
				if strings.Contains(errOut.String(), typed) || (err != nil && strings.Contains(err.Error(), typed)) {
					t.Errorf("the passphrase %q was echoed", typed)
				}
			}
		})
	}
}

// tufServer is an HTTPS server with client-certificate checks in front of a directory,
// with the files for the --update-tls-* flags.
type tufServer struct {
	URL                         string
	CAFile, CertFile, KeyFile   string
	serverCA, clientCA          *testenv.CA
	clientCertPEM, clientKeyPEM []byte
}

func newTUFServer(t *testing.T, dir string) *tufServer {
	t.Helper()
	s := &tufServer{}
	var err error
	if s.serverCA, err = testenv.NewCA("updates test server CA"); err != nil {
		t.Fatal(err)
	}
	if s.clientCA, err = testenv.NewCA("updates test client CA"); err != nil {
		t.Fatal(err)
	}
	if s.clientCertPEM, s.clientKeyPEM, err = s.clientCA.IssueClient("updates test client"); err != nil {
		t.Fatal(err)
	}
	srv, err := testenv.NewServer(http.FileServer(http.Dir(dir)), s.serverCA, s.clientCA)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	tmp := t.TempDir()
	for _, f := range []struct {
		p    *string
		name string
		data []byte
	}{{&s.CAFile, "ca.pem", s.serverCA.CertPEM}, {&s.CertFile, "client.crt", s.clientCertPEM}, {&s.KeyFile, "client.key", s.clientKeyPEM}} {
		if *f.p, err = testenv.WriteFile(tmp, f.name, f.data); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// buildDeb runs `pkgctl package --type=deb` in-process against the server with roots.
func buildDeb(t *testing.T, s *tufServer, roots string) (string, updatesRun, int) {
	t.Helper()
	outfile := filepath.Join(t.TempDir(), "fleet-osquery.deb")
	var out, errOut bytes.Buffer
	code := Execute([]string{"package", "--type=deb", "--fleet-desktop", "--cache-dir=",
		"--fleet-url=https://fleet.example.com", "--enroll-secret=updates-test-secret",
		"--update-url=" + s.URL, "--update-roots=" + roots,
		"--update-tls-certificate=" + s.CAFile, "--update-tls-client-certificate=" + s.CertFile, "--update-tls-client-key=" + s.KeyFile,
		"--outfile=" + outfile}, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return outfile, updatesRun{Stdout: out.String(), Stderr: errOut.String()}, code
}

// publishSamples writes the linux sample components and runs `updates add` for each, as
// version with tags, through the command.
func publishSamples(t *testing.T, path, version string, now time.Time, tags ...string) map[string][]byte {
	t.Helper()
	src := t.TempDir()
	want := map[string][]byte{}
	for _, c := range testenv.Components {
		if c.Platform != "linux" {
			continue
		}
		data, err := testenv.SampleFile(c, "stable", version)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(src, c.Name+"-build") // any file name: add names it as the agent expects
		if err := os.WriteFile(f, data, 0o755); err != nil {
			t.Fatal(err)
		}
		args := []string{"add", "--path", path, "--target", f, "--name", c.Name, "--platform", c.Platform, "--version", version}
		for _, tag := range tags {
			args = append(args, "-t", tag)
		}
		if r := runUpdates(t, envWith(nil), nil, now, args...); r.Err != nil {
			t.Fatalf("updates add %s: %v\n%s", c.Name, r.Err, r.Stderr)
		}
		want[c.Path("stable")] = data
	}
	return want
}

// TestUpdatesRepositoryBuildsDeb makes a repository with `pkgctl updates`, serves it over
// HTTPS with client certificates, and builds a .deb from it with `pkgctl package`; dpkg-deb
// checks that the installer holds the published bytes.
func TestUpdatesRepositoryBuildsDeb(t *testing.T) {
	dpkgDeb := testenv.NeedTool(t, "dpkg-deb", "dpkg")
	path := filepath.Join(t.TempDir(), "tuf")
	r := runUpdates(t, envWith(nil), nil, time.Time{}, "init", "--path", path)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if n := strings.Count(r.Stdout, "Generated "); n != 4 {
		t.Errorf("init printed %d key IDs:\n%s", n, r.Stdout)
	}
	want := publishSamples(t, path, "1.2.3", time.Time{}, "1.2", "1", "stable")
	roots := runUpdates(t, envWith(map[string]string{"FLEET_ROOT_PASSPHRASE": "<unset>"}), nil, time.Time{}, "roots", "--path", path)
	if roots.Err != nil {
		t.Fatal(roots.Err)
	}
	onDisk, _ := os.ReadFile(filepath.Join(path, "repository", "root.json"))
	if strings.TrimSpace(roots.Stdout) != string(onDisk) {
		t.Error("roots does not print repository/root.json")
	}

	s := newTUFServer(t, filepath.Join(path, "repository"))
	deb, res, code := buildDeb(t, s, roots.Stdout)
	if code != 0 {
		t.Fatalf("package: exit %d\n%s%s", code, res.Stdout, res.Stderr)
	}
	root := t.TempDir()
	if out, err := testenv.Command(dpkgDeb, "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	for p, data := range want {
		got, err := os.ReadFile(filepath.Join(root, "opt/orbit/bin", filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s in the deb differs from what updates add published", p)
		}
	}
	out, err := exec.Command(dpkgDeb, "-f", deb, "Version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "1.2.3" {
		t.Errorf("deb Version %q (%v), want the orbit custom version 1.2.3", out, err)
	}
	// The installer's TUF metadata is this repository's root.
	meta, err := os.ReadFile(filepath.Join(root, "opt/orbit/tuf-metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	var store map[string]json.RawMessage
	if err := json.Unmarshal(meta, &store); err != nil {
		t.Fatal(err)
	}
	var gotRoot, wantRoot struct {
		Signed struct{ Keys map[string]any } `json:"signed"`
	}
	json.Unmarshal(store["root.json"], &gotRoot)
	json.Unmarshal(onDisk, &wantRoot)
	if len(gotRoot.Signed.Keys) != 4 || !equalKeys(gotRoot.Signed.Keys, wantRoot.Signed.Keys) {
		t.Error("tuf-metadata.json does not hold the repository's root")
	}

	// A newer version on stable replaces the old one for new builds.
	want2 := publishSamples(t, path, "1.3.0", time.Time{}, "stable")
	deb2, res, code := buildDeb(t, s, roots.Stdout)
	if code != 0 {
		t.Fatalf("package after add 1.3.0: exit %d\n%s", code, res.Stderr)
	}
	if out, err := exec.Command(dpkgDeb, "-f", deb2, "Version").Output(); err != nil || strings.TrimSpace(string(out)) != "1.3.0" {
		t.Errorf("deb Version %q (%v), want 1.3.0", out, err)
	}
	_ = want2
}

func equalKeys(a, b map[string]any) bool {
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return len(a) == len(b)
}

// TestUpdatesTimestampRenewsExpiry: a repository whose timestamp was signed 15 days ago is
// refused by `pkgctl package` (expired); `pkgctl updates timestamp` makes it usable again.
func TestUpdatesTimestampRenewsExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tuf")
	past := time.Now().Add(-15 * 24 * time.Hour)
	if r := runUpdates(t, envWith(nil), nil, past, "init", "--path", path); r.Err != nil {
		t.Fatal(r.Err)
	}
	publishSamples(t, path, "1.2.3", past, "stable")
	roots := runUpdates(t, envWith(nil), nil, time.Time{}, "roots", "--path", path).Stdout
	s := newTUFServer(t, filepath.Join(path, "repository"))

	deb, res, code := buildDeb(t, s, roots)
	if code == 0 || !strings.Contains(res.Stderr, "timestamp.json") || !strings.Contains(res.Stderr, "expired") {
		t.Fatalf("package with a 15-day-old timestamp: exit %d\n%s", code, res.Stderr)
	}
	if _, err := os.Stat(deb); err == nil {
		t.Error("a failed build wrote the deb")
	}

	// Only the timestamp key is online for the cron job.
	env := envWith(map[string]string{"FLEET_ROOT_PASSPHRASE": "<unset>", "FLEET_TARGETS_PASSPHRASE": "<unset>", "FLEET_SNAPSHOT_PASSPHRASE": "<unset>"})
	ts := runUpdates(t, env, nil, time.Time{}, "timestamp", "--path", path)
	if ts.Err != nil {
		t.Fatal(ts.Err)
	}
	if !strings.Contains(ts.Stdout, "Signed timestamp.json, expires "+time.Now().UTC().Add(14*24*time.Hour).Format("2006-01-02")) {
		t.Errorf("timestamp output: %q", ts.Stdout)
	}
	if _, res, code := buildDeb(t, s, roots); code != 0 {
		t.Fatalf("package after updates timestamp: exit %d\n%s", code, res.Stderr)
	}
}

// TestUpdatesWrongPassphrase: a wrong FLEET_<ROLE>_PASSPHRASE is refused with an error
// naming the role and the variable, and nothing changes.
func TestUpdatesWrongPassphrase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tuf")
	if r := runUpdates(t, envWith(nil), nil, time.Time{}, "init", "--path", path); r.Err != nil {
		t.Fatal(r.Err)
	}
	before := testenv.TreeHash(t, path)
	target := filepath.Join(t.TempDir(), "orbit")
	os.WriteFile(target, []byte("#!/bin/sh\n"), 0o755)
	for _, c := range []struct {
		args []string
		env  string
	}{
		{[]string{"timestamp"}, "FLEET_TIMESTAMP_PASSPHRASE"},
		{[]string{"add", "--target", target, "--name", "orbit", "--platform", "linux", "--version", "1.2.3"}, "FLEET_SNAPSHOT_PASSPHRASE"},
		{[]string{"rotate", "root"}, "FLEET_ROOT_PASSPHRASE"},
	} {
		wrong := "Wrong-" + c.env
		r := runUpdates(t, envWith(map[string]string{c.env: wrong}), nil, time.Time{}, append(c.args, "--path", path)...)
		role := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(c.env, "FLEET_"), "_PASSPHRASE"))
		if r.Err == nil || !strings.Contains(r.Err.Error(), "the "+role+" key passphrase from "+c.env+" is wrong") {
			t.Errorf("%v: error %v", c.args, r.Err)
		} else if strings.Contains(r.Err.Error()+r.Stdout+r.Stderr, wrong) {
			t.Errorf("%v: the wrong passphrase is echoed", c.args)
		}
		if testenv.TreeHash(t, path) != before {
			t.Errorf("%v changed the repository", c.args)
		}
	}
	// Empty and init twice.
	r := runUpdates(t, envWith(map[string]string{"FLEET_TIMESTAMP_PASSPHRASE": ""}), nil, time.Time{}, "timestamp", "--path", path)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "FLEET_TIMESTAMP_PASSPHRASE is set but empty") {
		t.Errorf("empty passphrase: %v", r.Err)
	}
	r = runUpdates(t, envWith(nil), nil, time.Time{}, "init", "--path", path)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "already initialized") {
		t.Errorf("init twice: %v", r.Err)
	}
	if testenv.TreeHash(t, path) != before {
		t.Error("the repository changed")
	}
}

// TestUpdatesPrompt creates a repository with passphrases typed at a terminal.
func TestUpdatesPrompt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tuf")
	none := envWith(map[string]string{"FLEET_ROOT_PASSPHRASE": "<unset>", "FLEET_TARGETS_PASSPHRASE": "<unset>",
		"FLEET_SNAPSHOT_PASSPHRASE": "<unset>", "FLEET_TIMESTAMP_PASSPHRASE": "<unset>"})
	r := runUpdates(t, none, nil, time.Time{}, "init", "--path", path)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "set FLEET_ROOT_PASSPHRASE") {
		t.Fatalf("init without env or terminal: %v", r.Err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("a refused init created the directory")
	}
	typed := lines("tty-root", "tty-root", "tty-targets", "tty-targets", "tty-snap", "tty-snap", "tty-ts", "tty-ts")
	r = runUpdates(t, none, typed, time.Time{}, "init", "--path", path)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		if !strings.Contains(r.Stderr, "Repeat "+role+" key passphrase: ") {
			t.Errorf("no confirmation prompt for %s:\n%s", role, r.Stderr)
		}
	}
	// A wrong typed passphrase is asked again.
	r = runUpdates(t, none, lines("nope", "tty-ts"), time.Time{}, "timestamp", "--path", path)
	if r.Err != nil || !strings.Contains(r.Stderr, "Failed to decrypt timestamp key. Try again.") {
		t.Fatalf("timestamp: %v\n%s", r.Err, r.Stderr)
	}
	if strings.Contains(r.Stderr+r.Stdout, "tty-") {
		t.Error("typed passphrases are echoed")
	}
}

// TestUpdatesTimestampWarnsOfExpiry: `timestamp` warns when targets and snapshot, which it
// does not re-sign, expire within 90 days.
func TestUpdatesTimestampWarnsOfExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tuf")
	old := time.Now().Add(-tufrepo.TargetsExpiry + 30*24*time.Hour)
	if r := runUpdates(t, envWith(nil), nil, old, "init", "--path", path); r.Err != nil {
		t.Fatal(r.Err)
	}
	r := runUpdates(t, envWith(nil), nil, time.Time{}, "timestamp", "--path", path)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	for _, role := range []string{"targets", "snapshot"} {
		if !strings.Contains(r.Stderr, "Warning: "+role+".json expires") {
			t.Errorf("no warning for %s:\n%s", role, r.Stderr)
		}
	}
	if strings.Contains(r.Stderr, "root.json expires") {
		t.Errorf("warning for root, which expires in years:\n%s", r.Stderr)
	}
}
