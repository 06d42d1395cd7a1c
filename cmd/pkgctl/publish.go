package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/pkgctl/pkgctl/internal/safetext"
	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/publish"
)

// tokenEnv is the only place the GitHub token is read from.
const tokenEnv = "GITHUB_TOKEN"

// PublishOptions is `pkgctl publish`.
type PublishOptions struct {
	Streams  Streams
	Getenv   func(string) (string, bool)
	Target   publishTarget
	Manifest string
	Files    []string
	// HTTPClient and Sleep are injected by tests (nil in production).
	HTTPClient *http.Client
	Sleep      func(context.Context, time.Duration) error
}

// NewCmdPublish builds `pkgctl publish`.
func NewCmdPublish(s Streams, runF func(*PublishOptions) error) *cobra.Command {
	opts := &PublishOptions{Streams: s, Getenv: os.LookupEnv}
	cmd := &cobra.Command{
		Use:   "publish --github OWNER/REPO --tag TAG [FILE...] [--manifest FILE]",
		Short: "Upload installers and their manifest to a GitHub release",
		Long: "Creates the GitHub release for --tag, or reuses it, and uploads every FILE, then the manifest\n" +
			"and the outputs it lists. The token comes from $GITHUB_TOKEN only. An asset that already\n" +
			"exists is an error unless --replace is given.",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(opts)
			}
			return publishCmdRun(cmd, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.Target.Repo, "github", "", "GitHub repository OWNER/REPO (required)")
	fs.StringVar(&opts.Target.Tag, "tag", "", "Release tag (created when missing) (required)")
	fs.BoolVar(&opts.Target.Draft, "draft", false, "Create the release as a draft")
	fs.BoolVar(&opts.Target.Prerelease, "prerelease", false, "Mark the release as a prerelease")
	fs.BoolVar(&opts.Target.Replace, "replace", false, "Replace assets of the same name")
	fs.StringVar(&opts.Target.GitHubURL, "github-url", "", "GitHub Enterprise URL (https://github.example.com/); default github.com")
	fs.StringVar(&opts.Manifest, "manifest", "", "Manifest written by pkgctl package --manifest: upload the outputs it lists, then it")
	cmd.SetFlagErrorFunc(flagError)
	return cmd
}

func publishCmdRun(cmd *cobra.Command, opts *PublishOptions) error {
	p, err := opts.Target.options(opts.Getenv, "--github", "--tag")
	if err != nil {
		return &usageError{err}
	}
	p.Files = opts.Files
	if opts.Manifest != "" {
		m, err := packaging.ReadManifest(opts.Manifest)
		if err != nil {
			return err
		}
		dir := filepath.Dir(opts.Manifest)
		for _, o := range m.Outputs {
			f := filepath.FromSlash(o.Path)
			if !filepath.IsAbs(f) {
				f = filepath.Join(dir, f)
			}
			p.Files = append(p.Files, f)
		}
		p.Manifest = opts.Manifest
	}
	if len(p.Files) == 0 && p.Manifest == "" {
		return &usageError{errors.New("nothing to publish: give FILE arguments or --manifest")}
	}
	p.HTTPClient, p.Sleep = opts.HTTPClient, opts.Sleep
	p.Logf = func(format string, args ...any) {
		fmt.Fprintln(opts.Streams.Msg(opts.Streams.Out), inert(fmt.Sprintf(format, args...)))
	}
	return publishRun(cmd, p)
}

// options checks the target and reads the token; repoFlag and tagFlag name the
// flags in errors (publish and package --publish-* differ).
func (t publishTarget) options(getenv func(string) (string, bool), repoFlag, tagFlag string) (*publish.Options, error) {
	if t.Repo == "" {
		return nil, fmt.Errorf("%s OWNER/REPO is required", repoFlag)
	}
	owner, repo, err := publish.ParseRepo(t.Repo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", repoFlag, err)
	}
	if t.Tag == "" {
		return nil, fmt.Errorf("%s is required", tagFlag)
	}
	token, _ := getenv(tokenEnv)
	p := &publish.Options{Owner: owner, Repo: repo, Tag: t.Tag, Draft: t.Draft, Prerelease: t.Prerelease,
		Replace: t.Replace, BaseURL: t.GitHubURL, Token: token}
	if token == "" {
		return nil, errors.New("GITHUB_TOKEN is not set: pkgctl reads the GitHub token from the GITHUB_TOKEN environment variable only")
	}
	return p, nil
}

func publishRun(cmd *cobra.Command, p *publish.Options) error {
	if err := p.Check(); err != nil {
		return &usageError{err}
	}
	res, err := publish.Publish(cmd.Context(), p)
	if err != nil {
		return err
	}
	if res.URL != "" {
		p.Logf("Release: %s", safetext.Inert(res.URL, 0)) // from GitHub: inert
	}
	return nil
}
