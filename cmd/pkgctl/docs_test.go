package main

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeFlagReference fails when README.md's flag table drifts from the
// flags; regenerate it with `go run ./cmd/pkgctl docs`.
func TestReadmeFlagReference(t *testing.T) {
	var b strings.Builder
	if err := writeFlagDocs(&b); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), b.String()) {
		t.Errorf("README.md's flag reference is stale; replace the block between the markers with the output of `go run ./cmd/pkgctl docs`")
	}
}
