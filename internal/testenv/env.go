package testenv

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
)

// Versions and channels of the sample components that New publishes.
const (
	StableChannel = "stable"
	StableVersion = "1.2.3"
	EdgeChannel   = "edge"
	EdgeVersion   = "1.3.0"
)

// Env is a typical environment: a TUF repository with the sample components on the stable
// (StableVersion) and edge (EdgeVersion) channels, served over HTTPS by a Server that
// requires a client certificate issued by ClientCA.
type Env struct {
	ServerCA, ClientCA *CA
	Repo               *Repo
	Server             *Server
	Dir                string // base directory of the environment

	ServerCAFile   string // PEM of ServerCA, to trust the server (--update-tls-certificate)
	ClientCAFile   string // PEM of ClientCA
	ClientCertFile string // client certificate (--update-tls-client-certificate)
	ClientKeyFile  string // client key (--update-tls-client-key)
	ClientCertPEM  []byte
	ClientKeyPEM   []byte
	RootJSON       []byte // signed root.json at creation (--update-roots)

	mu        sync.Mutex
	nginxes   []*Nginx
	closeOnce sync.Once
}

// New creates the environment in dir (creating dir): certificates in dir, the repository in
// dir/repo. Call Close to stop its servers; New does not remove dir.
func New(dir string) (e *Env, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("new env: %w", err)
	}
	e = &Env{Dir: dir}
	defer func() {
		if err != nil {
			e.Close()
			err = fmt.Errorf("new env: %w", err)
		}
	}()
	if e.ServerCA, err = NewCA("pkgctl testenv server CA"); err != nil {
		return e, err
	}
	if e.ClientCA, err = NewCA("pkgctl testenv client CA"); err != nil {
		return e, err
	}
	if e.ClientCertPEM, e.ClientKeyPEM, err = e.ClientCA.IssueClient("pkgctl testenv client"); err != nil {
		return e, err
	}
	files := []struct {
		path *string
		name string
		data []byte
	}{
		{&e.ServerCAFile, "server-ca.pem", e.ServerCA.CertPEM},
		{&e.ClientCAFile, "client-ca.pem", e.ClientCA.CertPEM},
		{&e.ClientCertFile, "client.crt", e.ClientCertPEM},
		{&e.ClientKeyFile, "client.key", e.ClientKeyPEM},
	}
	for _, f := range files {
		if *f.path, err = WriteFile(dir, f.name, f.data); err != nil {
			return e, err
		}
	}
	if e.Repo, err = NewRepo(filepath.Join(dir, "repo")); err != nil {
		return e, err
	}
	if err = SampleComponents(e.Repo, StableChannel, StableVersion); err != nil {
		return e, err
	}
	if err = SampleComponents(e.Repo, EdgeChannel, EdgeVersion); err != nil {
		return e, err
	}
	if err = e.Repo.Publish(); err != nil {
		return e, err
	}
	e.RootJSON = e.Repo.RootJSON()
	if e.Server, err = NewServer(http.FileServer(http.Dir(e.Repo.Dir)), e.ServerCA, e.ClientCA); err != nil {
		return e, err
	}
	return e, nil
}

// HTTPClient returns a new HTTP client that trusts ServerCA and presents the client certificate.
func (e *Env) HTTPClient() (*http.Client, error) {
	return NewHTTPClient(e.ServerCA.CertPEM, e.ClientCertPEM, e.ClientKeyPEM)
}

// StartNginx starts nginx serving the repository with a ServerCA certificate for 127.0.0.1 and
// localhost, requiring client certificates from ClientCA. Close stops it.
func (e *Env) StartNginx() (*Nginx, error) {
	e.mu.Lock()
	workDir := filepath.Join(e.Dir, fmt.Sprintf("nginx%d", len(e.nginxes)))
	e.mu.Unlock()
	certPEM, keyPEM, err := e.ServerCA.IssueServer("127.0.0.1", "localhost")
	if err != nil {
		return nil, fmt.Errorf("env start nginx: %w", err)
	}
	certFile, err := WriteFile(workDir, "server.crt", certPEM)
	if err != nil {
		return nil, fmt.Errorf("env start nginx: %w", err)
	}
	keyFile, err := WriteFile(workDir, "server.key", keyPEM)
	if err != nil {
		return nil, fmt.Errorf("env start nginx: %w", err)
	}
	n, err := StartNginx(workDir, e.Repo.Dir, certFile, keyFile, e.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("env: %w", err)
	}
	e.mu.Lock()
	e.nginxes = append(e.nginxes, n)
	e.mu.Unlock()
	return n, nil
}

// Close stops the server and any nginx started with StartNginx. It does not remove Dir.
// It may be called more than once.
func (e *Env) Close() {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		nginxes := e.nginxes
		e.mu.Unlock()
		var errs []error
		for _, n := range nginxes {
			errs = append(errs, n.Stop())
		}
		if e.Server != nil {
			e.Server.Close()
		}
		if err := errors.Join(errs...); err != nil {
			// Close has no error result (it is used with t.Cleanup and defer); report on stderr.
			fmt.Fprintf(os.Stderr, "testenv: close: %v\n", err)
		}
	})
}
