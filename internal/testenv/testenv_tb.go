package testenv

import "testing"

// NewTB creates the typical environment of New in t.TempDir() and closes it with t.Cleanup.
// It fails the test if the environment cannot be created.
func NewTB(t testing.TB) *Env {
	t.Helper()
	e, err := New(t.TempDir())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// StartNginxTB starts nginx in front of e's repository (see Env.StartNginx) and stops it with
// t.Cleanup. It fails the test, never skips it, if nginx is missing or does not start.
func StartNginxTB(t testing.TB, e *Env) *Nginx {
	t.Helper()
	n, err := e.StartNginx()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return n
}
