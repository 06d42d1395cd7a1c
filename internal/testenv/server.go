package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is an HTTPS server on 127.0.0.1 that records the paths it is asked for.
type Server struct {
	URL     string // https://127.0.0.1:PORT
	CertPEM []byte // PEM of the CA that issued the server certificate

	srv  *http.Server
	done chan struct{}

	mu       sync.Mutex
	requests []string
}

// NewServer serves handler over HTTPS on 127.0.0.1:0 with a cert issued by serverCA for 127.0.0.1 and localhost.
// If clientCA != nil it uses tls.RequireAndVerifyClientCert with clientCA as the only client root.
func NewServer(handler http.Handler, serverCA *CA, clientCA *CA) (*Server, error) {
	certPEM, keyPEM, err := serverCA.IssueServer("127.0.0.1", "localhost")
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("new server: load key pair: %w", err)
	}
	tlsConfig := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if clientCA != nil {
		tlsConfig.ClientAuth = tls.RequireAndVerifyClientCert
		tlsConfig.ClientCAs = clientCA.Pool()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("new server: listen: %w", err)
	}
	s := &Server{
		URL:     "https://" + ln.Addr().String(),
		CertPEM: serverCA.CertPEM,
		done:    make(chan struct{}),
	}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			s.requests = append(s.requests, r.URL.Path)
			s.mu.Unlock()
			handler.ServeHTTP(w, r)
		}),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		// Rejected handshakes are expected in tests; keep them off stderr.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.done)
		// ServeTLS returns http.ErrServerClosed after Close.
		_ = s.srv.ServeTLS(ln, "", "")
	}()
	return s, nil
}

// Close stops the server and closes all its connections.
func (s *Server) Close() {
	_ = s.srv.Close()
	<-s.done
}

// Requests returns the URL paths requested so far, in order. It is safe for concurrent use.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// NewHTTPClient returns an HTTP client that trusts only the CA certificates in caPEM
// and, if certPEM and keyPEM are not empty, presents that client certificate whenever the
// server asks for one, even if the server does not list its issuer (like curl; crypto/tls
// with tls.Config.Certificates would silently send no certificate then).
// It does not use or change http.DefaultClient or http.DefaultTransport.
func NewHTTPClient(caPEM, certPEM, keyPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("new http client: no CA certificate in PEM")
	}
	tlsConfig := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if len(certPEM) > 0 || len(keyPEM) > 0 {
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("new http client: load client key pair: %w", err)
		}
		tlsConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &cert, nil
		}
	}
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:     tlsConfig,
			TLSHandshakeTimeout: 10 * time.Second,
			DisableKeepAlives:   true,
		},
		Timeout: time.Minute,
	}, nil
}
