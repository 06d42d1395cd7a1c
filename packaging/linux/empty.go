package linux

import (
	"context"
	"path"

	"github.com/goreleaser/nfpm/v2"

	"github.com/pkgctl/pkgctl/packaging"
)

// emptyOut points every regular file of info that has content at empty,
// with size 0, and returns those contents by installed path: nfpm builds
// the package from empty files and the rewrite streams the contents in
// (debFill, archFill, rpmpayload.Body), so that nfpm neither holds nor
// compresses them.
func emptyOut(info *nfpm.Info, empty string) map[string]fileBody {
	bodies := map[string]fileBody{}
	for _, c := range info.Contents {
		if regularContent(c) && c.FileInfo != nil && c.FileInfo.Size > 0 {
			bodies[path.Clean(c.Destination)] = fileBody{path: c.Source, size: c.FileInfo.Size}
			c.Source, c.FileInfo.Size = empty, 0
		}
	}
	return bodies
}

// withShared returns ctx carrying a packaging.Shared for the compressed
// contents: the build's, or, outside a build (tests), one that lives until
// done is called.
func withShared(ctx context.Context) (_ context.Context, done func()) {
	if packaging.SharedFrom(ctx) != nil {
		return ctx, func() {}
	}
	s := packaging.NewShared("")
	return packaging.WithShared(ctx, s), s.Close
}
