package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// tufDir is the repository `pkgctl updates` manages: keys/, staged/, repository/.
const tufDir = "demo/tuf"

// Versions the demo publishes: stable (the default channel of every build) and edge.
var published = []struct {
	version string
	tags    []string
}{
	{"1.2.3", []string{"1.2", "1", "stable"}},
	{"1.3.0", []string{"edge"}},
}

// serverFiles are the TUF server's throwaway PKI and what `pkgctl package` needs to reach it.
type serverFiles struct {
	dir                                         string
	serverCA, clientCA                          *testenv.CA
	serverCAFile, clientCertFile, clientKeyFile string
	url                                         string // set once the server runs
	rootJSON                                    []byte // `pkgctl updates roots`
}

// newServerFiles makes a server CA, a client CA and a client certificate in dir.
func newServerFiles(dir string) (*serverFiles, error) {
	s := &serverFiles{dir: dir}
	var err error
	if s.serverCA, err = testenv.NewCA("pkgctl demo TUF server CA"); err != nil {
		return nil, err
	}
	if s.clientCA, err = testenv.NewCA("pkgctl demo TUF client CA"); err != nil {
		return nil, err
	}
	cert, key, err := s.clientCA.IssueClient("pkgctl demo TUF client")
	if err != nil {
		return nil, err
	}
	// For `demo serve`, which serves the repository again after the demo.
	serverCert, serverKey, err := s.serverCA.IssueServer("127.0.0.1", "localhost")
	if err != nil {
		return nil, err
	}
	var unused string
	for _, f := range []struct {
		path *string
		name string
		data []byte
	}{
		{&s.serverCAFile, "server-ca.pem", s.serverCA.CertPEM},
		{&s.clientCertFile, "client.crt", cert},
		{&s.clientKeyFile, "client.key", key},
		{&unused, serverCertName, serverCert},
		{&unused, serverKeyName, serverKey},
		{&unused, clientCAName, s.clientCA.CertPEM},
	} {
		if *f.path, err = testenv.WriteFile(dir, f.name, f.data); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// makeRepository creates the TUF repository the way an administrator would: `pkgctl
// updates init`, `pkgctl updates add` for each component file, then `pkgctl updates roots`
// (kept in s.rootJSON). The passphrases are random, passed in FLEET_<ROLE>_PASSPHRASE and
// never printed.
func makeRepository(s *serverFiles) error {
	env := os.Environ()
	for _, role := range []string{"ROOT", "TARGETS", "SNAPSHOT", "TIMESTAMP"} {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		env = append(env, "FLEET_"+role+"_PASSPHRASE="+hex.EncodeToString(b))
	}
	fmt.Println("\nFLEET_{ROOT,TARGETS,SNAPSHOT,TIMESTAMP}_PASSPHRASE are set to random values for the commands below.")
	bin := arg{v: "demo/bin/pkgctl"}
	if err := runCmd(".", []arg{bin, {v: "updates"}, {v: "init"}, {v: "--path=" + tufDir}}, env, os.Stdout); err != nil {
		return fmt.Errorf("pkgctl updates init: %w", err)
	}
	n := 0
	for _, p := range published {
		for _, c := range testenv.Components {
			data, err := testenv.SampleFile(c, p.tags[len(p.tags)-1], p.version)
			if err != nil {
				return err
			}
			src := filepath.Join("demo/components", p.version, c.Platform, c.File)
			if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(src, data, 0o755); err != nil {
				return err
			}
			args := []arg{bin, {v: "updates"}, {v: "add"}, {v: "--path=" + tufDir}, {v: "--target=" + src},
				{v: "--name=" + c.Name}, {v: "--platform=" + c.Platform}, {v: "--version=" + p.version}}
			for _, tag := range p.tags {
				args = append(args, arg{v: "--tag=" + tag})
			}
			if n == 0 {
				printCmd(".", args)
			}
			n++
			var out bytes.Buffer
			if err := execCmd(".", args, env, &out); err != nil {
				return fmt.Errorf("pkgctl updates add %s %s: %w\n%s", c.Name, c.Platform, err, out.String())
			}
		}
	}
	fmt.Printf("(and %d more `pkgctl updates add`: each file of demo/components, as 1.2.3 on stable and 1.3.0 on edge)\n", n-1)
	var roots bytes.Buffer
	if err := runCmd(".", []arg{bin, {v: "updates"}, {v: "roots"}, {v: "--path=" + tufDir}}, env, &roots); err != nil {
		return fmt.Errorf("pkgctl updates roots: %w\n%s", err, roots.String())
	}
	s.rootJSON = []byte(strings.TrimSpace(roots.String()))
	return nil
}
