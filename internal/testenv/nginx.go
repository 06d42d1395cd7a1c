package testenv

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Nginx is a running nginx that serves a directory over HTTPS and requires client certificates.
type Nginx struct {
	URL string // https://127.0.0.1:PORT

	workDir string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed
}

// nginxStartTimeout bounds how long StartNginx waits for the port to accept TLS.
const nginxStartTimeout = 15 * time.Second

// StartNginx serves root (a directory) over HTTPS on 127.0.0.1 with ssl_verify_client on, the given server cert/key
// files and client CA file. It writes its config, pid, logs in workDir, runs `nginx -c conf -g 'daemon off;'`
// (find the binary with exec.LookPath("nginx") then /usr/sbin/nginx), waits until the port accepts TLS, and
// returns an error (not a skip) if nginx is missing or fails to start, including the error log tail.
func StartNginx(workDir, root, serverCertFile, serverKeyFile, clientCAFile string) (*Nginx, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, statErr := os.Stat(bin); statErr != nil {
			return nil, fmt.Errorf("start nginx: nginx not found in PATH or at %s (install it, e.g. apt-get install -y nginx): %w", bin, err)
		}
	}
	paths := []*string{&workDir, &root, &serverCertFile, &serverKeyFile, &clientCAFile}
	for _, p := range paths {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, fmt.Errorf("start nginx: %w", err)
		}
		*p = abs
	}
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	// The port is picked by listening on :0 and closing, so another process can take it
	// before nginx binds it: retry a few times on "Address already in use".
	for attempt := 1; ; attempt++ {
		n, err := startNginx(bin, workDir, root, serverCertFile, serverKeyFile, clientCAFile)
		if err == nil {
			return n, nil
		}
		if attempt == 3 || !strings.Contains(err.Error(), "Address already in use") {
			return nil, fmt.Errorf("start nginx: %w", err)
		}
	}
}

func startNginx(bin, workDir, root, serverCertFile, serverKeyFile, clientCAFile string) (*Nginx, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(workDir, "nginx.conf")
	errorLog := filepath.Join(workDir, "error.log")
	if err := os.WriteFile(conf, nginxConfig(workDir, root, serverCertFile, serverKeyFile, clientCAFile, port), 0o600); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	// Start each attempt with an empty error log so its tail is about this run.
	if err := os.WriteFile(errorLog, nil, 0o600); err != nil {
		return nil, fmt.Errorf("create error log: %w", err)
	}
	output, err := os.Create(filepath.Join(workDir, "nginx.out"))
	if err != nil {
		return nil, fmt.Errorf("create output file: %w", err)
	}
	defer output.Close() // the child keeps its own descriptor

	cmd := exec.Command(bin, "-p", workDir+"/", "-e", errorLog, "-c", conf, "-g", "daemon off;")
	cmd.Dir = workDir
	cmd.Stdout = output
	cmd.Stderr = output
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	n := &Nginx{
		URL:     "https://127.0.0.1:" + strconv.Itoa(port),
		workDir: workDir,
		cmd:     cmd,
		done:    make(chan struct{}),
	}
	go func() {
		n.waitErr = cmd.Wait()
		close(n.done)
	}()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(nginxStartTimeout)
	for {
		select {
		case <-n.done:
			return nil, fmt.Errorf("nginx exited during start-up (%v)\n%s", n.waitErr, n.logTail())
		default:
		}
		if err := probeTLS(addr); err == nil {
			return n, nil
		} else if time.Now().After(deadline) {
			_ = n.Stop()
			return nil, fmt.Errorf("nginx did not accept TLS on %s within %s: %w\n%s", addr, nginxStartTimeout, err, n.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nginxConfig returns a configuration that keeps every file nginx writes in workDir.
func nginxConfig(workDir, root, certFile, keyFile, clientCAFile string, port int) []byte {
	var b bytes.Buffer
	in := func(name string) string { return nginxQuote(filepath.Join(workDir, name)) }
	if os.Geteuid() == 0 {
		// Workers would otherwise run as nobody and could not read 0700 temporary directories.
		b.WriteString("user root;\n")
	}
	fmt.Fprintf(&b, "worker_processes 1;\npid %s;\nerror_log %s info;\n", in("nginx.pid"), in("error.log"))
	b.WriteString("events {\n\tworker_connections 256;\n}\n")
	b.WriteString("http {\n")
	fmt.Fprintf(&b, "\taccess_log %s;\n", in("access.log"))
	for _, dir := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "\t%s_temp_path %s;\n", dir, in(dir+"_temp"))
	}
	b.WriteString("\tdefault_type application/octet-stream;\n")
	b.WriteString("\ttypes {\n\t\tapplication/json json;\n\t}\n")
	b.WriteString("\tserver {\n")
	fmt.Fprintf(&b, "\t\tlisten 127.0.0.1:%d ssl;\n", port)
	b.WriteString("\t\tserver_name localhost 127.0.0.1;\n")
	fmt.Fprintf(&b, "\t\tssl_certificate %s;\n", nginxQuote(certFile))
	fmt.Fprintf(&b, "\t\tssl_certificate_key %s;\n", nginxQuote(keyFile))
	fmt.Fprintf(&b, "\t\tssl_client_certificate %s;\n", nginxQuote(clientCAFile))
	b.WriteString("\t\tssl_verify_client on;\n")
	fmt.Fprintf(&b, "\t\troot %s;\n", nginxQuote(root))
	b.WriteString("\t\tlocation / {\n\t\t\ttry_files $uri =404;\n\t\t}\n")
	b.WriteString("\t}\n}\n")
	return b.Bytes()
}

// nginxQuote quotes s as an nginx configuration string.
func nginxQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Stop stops nginx (SIGTERM, then SIGKILL after 10 seconds) and waits for it to exit.
// It may be called more than once.
func (n *Nginx) Stop() error {
	select {
	case <-n.done:
		return nil
	default:
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop nginx: %w", err)
	}
	select {
	case <-n.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	if err := n.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop nginx: %w", err)
	}
	<-n.done
	return fmt.Errorf("stop nginx: killed after SIGTERM timeout\n%s", n.logTail())
}

// ErrorLog returns the content of nginx's error log.
func (n *Nginx) ErrorLog() string {
	data, _ := os.ReadFile(filepath.Join(n.workDir, "error.log"))
	return string(data)
}

// logTail returns the last lines of nginx's output and error log, for error messages.
func (n *Nginx) logTail() string {
	var b strings.Builder
	for _, name := range []string{"nginx.out", "error.log"} {
		data, err := os.ReadFile(filepath.Join(n.workDir, name))
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		fmt.Fprintf(&b, "--- %s (tail) ---\n%s\n", name, strings.Join(lines, "\n"))
	}
	return b.String()
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return 0, fmt.Errorf("pick free port: %w", err)
	}
	return port, nil
}

// probeTLS completes a TLS handshake with addr without verifying it.
func probeTLS(addr string) error {
	dialer := &net.Dialer{Timeout: time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe only
	if err != nil {
		return err
	}
	return conn.Close()
}
