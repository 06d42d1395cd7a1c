package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/pkgctl/pkgctl/internal/repodir"
)

// serveAddr is where `demo serve` listens unless -addr says otherwise.
const serveAddr = "127.0.0.1:8443"

// Files of demo/env that `demo serve` needs, written by the demo.
const (
	serverCertName = "server.crt"
	serverKeyName  = "server.key"
	clientCAName   = "client-ca.pem"
)

// serve serves demo/tuf/repository over HTTPS with the demo's server
// certificate, requiring a client certificate of the demo's client CA, until
// interrupted.
func serve(argv []string) int {
	fs := flag.NewFlagSet("demo serve", flag.ContinueOnError)
	base := fs.String("dir", "", "directory holding demo/ (default: the repository root)")
	addr := fs.String("addr", serveAddr, "address to listen on")
	if err := fs.Parse(argv); err != nil {
		return 2
	}
	if *base == "" {
		root, err := repodir.Root()
		if err != nil {
			return fail(err)
		}
		*base = root
	}
	env := filepath.Join(*base, "demo", "env")
	repo := filepath.Join(*base, tufDir, "repository")
	srv, err := newServeServer(env, repo, *addr)
	if err != nil {
		return fail(fmt.Errorf("%w (run `make demo` first)", err))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	fmt.Printf("serving %s at https://%s (client certificates of %s required); Ctrl-C stops\n", repo, ln.Addr(), filepath.Join(env, clientCAName))
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return fail(err)
	}
	fmt.Println("stopped")
	return 0
}

// newServeServer loads the demo's server key pair and client CA from env.
func newServeServer(env, repo, addr string) (*http.Server, error) {
	if _, err := os.Stat(filepath.Join(repo, "root.json")); err != nil {
		return nil, fmt.Errorf("no TUF repository: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(env, serverCertName), filepath.Join(env, serverKeyName))
	if err != nil {
		return nil, fmt.Errorf("demo server certificate: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(env, clientCAName))
	if err != nil {
		return nil, fmt.Errorf("demo client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("demo client CA %s: no certificate", filepath.Join(env, clientCAName))
	}
	return &http.Server{
		Addr:    addr,
		Handler: http.FileServer(http.Dir(repo)),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			MinVersion:   tls.VersionTLS12,
		},
		ReadHeaderTimeout: 10 * time.Second,
	}, nil
}
