package update

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// envOptions returns Options that reach e's server with the right CA and client certificate.
func envOptions(e *testenv.Env) Options {
	return Options{
		URL:            e.Server.URL,
		RootJSON:       e.RootJSON,
		ServerCAFile:   e.ServerCAFile,
		ClientCertFile: e.ClientCertFile,
		ClientKeyFile:  e.ClientKeyFile,
	}
}

func newClient(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// servedTarget returns the bytes the repository serves for a target path.
func servedTarget(t *testing.T, e *testenv.Env, repoPath string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.Repo.Dir, "targets", filepath.FromSlash(repoPath)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// targetRequests returns the recorded requests for target files.
func targetRequests(s *testenv.Server) []string {
	var out []string
	for _, r := range s.Requests() {
		if strings.HasPrefix(r, "/targets/") {
			out = append(out, r)
		}
	}
	return out
}

// startTLSServer serves handler over HTTPS on 127.0.0.1 with a certificate from serverCA
// for hosts, requiring a client certificate from clientCA, limited to maxVersion (0 = any).
func startTLSServer(t *testing.T, handler http.Handler, serverCA, clientCA *testenv.CA, maxVersion uint16, hosts ...string) *httptest.Server {
	t.Helper()
	certPEM, keyPEM, err := serverCA.IssueServer(hosts...)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(handler)
	s.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.Pool(),
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   maxVersion,
	}
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// resolveTestHosts makes the client's dialer connect "<host>:port" to 127.0.0.1:port for the
// given host names, as if DNS resolved them to loopback.
func resolveTestHosts(t *testing.T, hosts ...string) {
	t.Helper()
	orig := dialContext
	t.Cleanup(func() { dialContext = orig })
	dialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err == nil {
			for _, h := range hosts {
				if strings.EqualFold(host, h) {
					addr = net.JoinHostPort("127.0.0.1", port)
				}
			}
		}
		return orig(ctx, network, addr)
	}
}

// connectProxy is an HTTP CONNECT proxy that counts tunnels and dials 127.0.0.1.
type connectProxy struct {
	URL      string
	connects atomic.Int64
	mu       sync.Mutex
	hosts    []string
}

func startConnectProxy(t *testing.T) *connectProxy {
	t.Helper()
	p := &connectProxy{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		p.connects.Add(1)
		p.mu.Lock()
		p.hosts = append(p.hosts, r.Host)
		p.mu.Unlock()
		_, port, err := net.SplitHostPort(r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		upstream, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			upstream.Close()
			http.Error(w, "no hijack", http.StatusInternalServerError)
			return
		}
		conn, brw, err := hj.Hijack()
		if err != nil {
			upstream.Close()
			return
		}
		if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
			conn.Close()
			upstream.Close()
			return
		}
		go func() {
			defer upstream.Close()
			defer conn.Close()
			_, _ = io.Copy(upstream, bufReader(brw.Reader, conn))
		}()
		go func() {
			defer upstream.Close()
			defer conn.Close()
			_, _ = io.Copy(conn, upstream)
		}()
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(s.Close)
	p.URL = s.URL
	return p
}

// bufReader drains what the hijacked bufio.Reader already buffered before reading conn.
func bufReader(br *bufio.Reader, conn net.Conn) io.Reader {
	if n := br.Buffered(); n > 0 {
		buffered, _ := br.Peek(n)
		return io.MultiReader(strings.NewReader(string(buffered)), conn)
	}
	return conn
}

func (p *connectProxy) Hosts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.hosts...)
}

// keySecrets returns strings that must never appear in an error: the PEM markers and every
// base64 line of the private key.
func keySecrets(t *testing.T, keyPEM []byte) []string {
	t.Helper()
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		t.Fatal("no PEM key")
	}
	secrets := []string{"PRIVATE KEY"}
	for _, line := range strings.Split(string(keyPEM), "\n") {
		line = strings.TrimSpace(line)
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line)
		}
	}
	secrets = append(secrets, string(block.Bytes[len(block.Bytes)-16:]))
	secrets = append(secrets, strings.ToLower(hexString(block.Bytes[len(block.Bytes)-16:])))
	return secrets
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func assertNoSecrets(t *testing.T, err error, secrets []string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error leaks private key material %q: %s", s, msg)
		}
	}
}

// cacheFiles lists the regular files under dir (relative paths).
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// textProgress records progress events as text lines ("cached X", "downloaded X: N").
type textProgress struct {
	mu sync.Mutex
	b  strings.Builder
}

func (p *textProgress) Cached(name string, size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(&p.b, "cached %s\n", name)
}

func (p *textProgress) Download(name string, total int64) Task {
	return &textTask{p: p, name: name}
}

func (p *textProgress) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.b.String()
}

type textTask struct {
	p    *textProgress
	name string
	n    atomic.Int64
}

func (t *textTask) Add(n int64) { t.n.Add(n) }
func (t *textTask) Done(err error) {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if err != nil {
		fmt.Fprintf(&t.p.b, "failed %s\n", t.name)
		return
	}
	fmt.Fprintf(&t.p.b, "downloaded %s: %d\n", t.name, t.n.Load())
}
