package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestSuccessMessage: a build ends with fleetctl's closing lines on stdout
// (a blank line, the path, a blank line, the enrollment hint); --quiet
// prints nothing.
func TestSuccessMessage(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	out := filepath.Join(t.TempDir(), "a.deb")
	args := []string{"package", "--type=deb", "--fleet-url=https://fleet.example.com", "--enroll-secret=s3cret", "--cache-dir=",
		"--outfile=" + out, "--update-url=" + env.Server.URL, "--update-roots=" + string(env.RootJSON), "--update-tls-certificate=" + env.ServerCAFile,
		"--update-tls-client-certificate=" + env.ClientCertFile, "--update-tls-client-key=" + env.ClientKeyFile}
	var stdout, stderr bytes.Buffer
	if code := Execute(args, Streams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	want := "Generating your fleetd agent...\n\nSuccess! You generated fleetd at " + out + "\n\n" +
		"To add hosts to Fleet, install fleetd.\nLearn how: https://fleetdm.com/learn-more-about/enrolling-hosts\n"
	if stdout.String() != want {
		t.Errorf("stdout:\n%q\nwant:\n%q", stdout.String(), want)
	}
	stdout.Reset()
	if code := Execute(append(args, "--quiet"), Streams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}); code != 0 || stdout.Len() != 0 {
		t.Errorf("--quiet: exit %d, stdout %q", code, stdout.String())
	}
}
