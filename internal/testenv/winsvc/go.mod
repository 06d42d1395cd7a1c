module github.com/pkgctl/pkgctl/internal/testenv/winsvc

go 1.20

require golang.org/x/sys v0.20.0
