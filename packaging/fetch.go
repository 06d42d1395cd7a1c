package packaging

import "github.com/pkgctl/pkgctl/update"

// openUpdateClient opens the TUF client a build fetches the agent with.
func openUpdateClient(o *Options, env BuildEnv) (*update.Client, error) {
	return update.New(update.Options{
		URL:            o.UpdateURL,
		RootJSON:       []byte(o.UpdateRoots),
		ServerCAFile:   o.UpdateTLSServerCertificate,
		ClientCertFile: o.UpdateTLSClientCertificate,
		ClientKeyFile:  o.UpdateTLSClientKey,
		CacheDir:       o.CacheDir,
		Progress:       env.Progress,
		Logf:           env.Logf,
		Version:        env.ToolVersion,
	})
}
