// Command pkgctl builds Fleet agent (fleetd/orbit) installers: a drop-in
// alternative to `fleetctl package` written in pure Go.
package main

import (
	"os"

	_ "github.com/pkgctl/pkgctl/packaging/linux"   // registers deb, rpm and pkg.tar.zst
	_ "github.com/pkgctl/pkgctl/packaging/macos"   // registers pkg
	_ "github.com/pkgctl/pkgctl/packaging/windows" // registers msi
)

func main() {
	stop := startCPUProfile()
	code := Execute(os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, ErrIsTerminal: isTerminal(os.Stderr)})
	stop()
	os.Exit(code)
}
