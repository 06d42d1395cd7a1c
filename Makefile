# Go may be installed at /usr/local/go without being on PATH (fresh CI machines).
ifeq ($(shell command -v go 2>/dev/null),)
export PATH := /usr/local/go/bin:$(PATH)
endif

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all build cross test fuzz deps demo demo-serve bench lint man dist

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/pkgctl ./cmd/pkgctl

# man writes the man pages (section 1) of pkgctl and every command, generated
# from the cobra definitions (github.com/spf13/cobra/doc), to dist/man.
man:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/pkgctl man --dir dist/man

# dist cross-builds the release archives of pkgctl into dist/ (internal/cmd/dist):
# one per OS/arch with the binary, README, man pages and shell completions, plus
# SHA256SUMS; reproducible (mtimes from SOURCE_DATE_EPOCH, else the commit time).
# DIST_FLAGS="-targets host" builds this machine's target only.
dist:
	$(GO) run ./internal/cmd/dist -version $(VERSION) -commit "$(COMMIT)" $(DIST_FLAGS)

# deps installs the Debian tools the tests check installers with (lintian,
# rpm, rpmlint, nginx, bsdtar, ...); it does nothing when they are present.
deps:
	.ci/deps

# cross: pkgctl must build every format on any OS (a _linux.go file name once
# kept it from building for Windows and macOS).
cross:
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/pkgctl
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/pkgctl

# test fails when the run changed anything under /etc, /opt or /usr
# (internal/cmd/untouched); tools that unpack run in testenv.Sandbox.
test: deps cross
	$(GO) vet ./...
	$(GO) build -o bin/untouched ./internal/cmd/untouched
	bin/untouched $(GO) test -count=1 -timeout 40m ./...
	GO=$(GO) .ci/fuzz 3s

# fuzz runs every fuzz target for FUZZTIME each (default 5m): `make test`
# runs them for 3s only.
FUZZTIME ?= 5m
fuzz:
	GO=$(GO) .ci/fuzz $(FUZZTIME)

# demo needs only Go: no root, no apt. The Debian tools are for `make test`.
demo:
	$(GO) run ./internal/cmd/demo

# demo-serve serves the demo's TUF repository again (https://127.0.0.1:8443).
demo-serve:
	$(GO) run ./internal/cmd/demo serve

# bench measures every format on a real agent (LLVM, Wine's DLLs, Go programs)
# against its compression floor and peer tools; BENCH_FLAGS="-n 1 -teams 1,10".
bench:
	.ci/deps libllvm14 libllvm15 libwine gzip pigz wixl
	$(GO) run ./internal/cmd/bench $(BENCH_FLAGS)

lint:
	@out="$$(gofmt -l .)"; \
	if [ -n "$$out" ]; then echo "gofmt -l reports:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
