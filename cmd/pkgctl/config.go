package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/pkgctl/pkgctl/internal/flagfile"
	"github.com/pkgctl/pkgctl/packaging"
)

// defaultConfigFile is read when present, --config is not given and neither is
// --type: a fleetctl-style call always passes --type, so it never picks up a
// stray pkgctl.yaml.
const defaultConfigFile = "pkgctl.yaml"

// secretEnvSuffix turns a Secret flag's key into the key naming its variable:
// enroll-secret-env: TEAM_A_SECRET.
const secretEnvSuffix = "-env"

// configValue is one key of the config file, ready for pflag's Set.
type configValue struct {
	Key   string // as written (enroll-secret-env for a secret)
	Flag  string // flag it sets
	Value string
	Line  int
}

// configBuild is one entry of builds:.
type configBuild struct {
	Name   string
	Line   int
	Values []configValue
}

// configFile is a parsed, checked config file. Secret values are already read
// from their environment variables.
type configFile struct {
	Path     string
	Defaults []configValue
	Builds   []configBuild
}

// configError names the file, line and key of a bad config entry.
type configError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *configError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
}

// loadConfig reads and checks a config file against the flag table: every
// key must be a flag name (or a secret flag's name + "-env"), of the flag's
// type; secret variables must be set. Nothing is fetched before this passes.
func loadConfig(path string, defs []flagDef, getenv func(string) (string, bool)) (*configFile, error) {
	data, err := flagfile.Read(path, flagfile.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("read --config %s: %w", path, errors.Unwrap(err))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse --config %s: %w", path, err)
	}
	cf := &configFile{Path: path}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &configError{File: path, Line: 1, Msg: "the file is empty"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &configError{File: path, Line: root.Line, Msg: "want a mapping of flag names to values"}
	}
	byName := map[string]flagDef{}
	for _, d := range defs {
		byName[d.Name] = d
	}
	var buildsNode *yaml.Node
	var buildsLine int
	cf.Defaults, err = configMapping(path, root, byName, getenv, func(k, v *yaml.Node) (bool, error) {
		if k.Value != "builds" {
			return false, nil
		}
		if v.Kind != yaml.SequenceNode {
			return true, &configError{File: path, Line: v.Line, Key: "builds", Msg: "want a list of builds"}
		}
		buildsNode, buildsLine = v, k.Line
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if buildsNode != nil {
		if len(buildsNode.Content) == 0 {
			return nil, &configError{File: path, Line: buildsLine, Key: "builds", Msg: "the list is empty"}
		}
		names := map[string]int{}
		for _, bn := range buildsNode.Content {
			if bn.Kind != yaml.MappingNode {
				return nil, &configError{File: path, Line: bn.Line, Key: "builds", Msg: "each build must be a mapping of flag names to values"}
			}
			b := configBuild{Line: bn.Line}
			b.Values, err = configMapping(path, bn, byName, getenv, func(k, v *yaml.Node) (bool, error) {
				switch k.Value {
				case "name":
					if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Value == "" {
						return true, &configError{File: path, Line: v.Line, Key: "name", Msg: "want a non-empty string"}
					}
					if prev, ok := names[v.Value]; ok {
						return true, &configError{File: path, Line: v.Line, Key: "name", Msg: fmt.Sprintf("%q is already the name of the build at line %d", v.Value, prev)}
					}
					names[v.Value] = v.Line
					b.Name = v.Value
					return true, nil
				case "builds":
					return true, &configError{File: path, Line: k.Line, Key: "builds", Msg: "builds cannot be nested"}
				}
				return false, nil
			})
			if err != nil {
				return nil, err
			}
			cf.Builds = append(cf.Builds, b)
		}
	}
	return cf, nil
}

// configMapping checks the keys of one mapping. extra handles the keys that are
// not flags (builds, name); it returns true when it took the key.
func configMapping(path string, m *yaml.Node, byName map[string]flagDef, getenv func(string) (string, bool),
	extra func(k, v *yaml.Node) (bool, error)) ([]configValue, error) {
	var out []configValue
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, &configError{File: path, Line: k.Line, Msg: "keys must be flag names"}
		}
		if prev, ok := seen[k.Value]; ok {
			return nil, &configError{File: path, Line: k.Line, Key: k.Value, Msg: fmt.Sprintf("given twice (first at line %d)", prev)}
		}
		seen[k.Value] = k.Line
		if took, err := extra(k, v); took || err != nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		cv, err := configEntry(path, k, v, byName, getenv)
		if err != nil {
			return nil, err
		}
		out = append(out, cv)
	}
	return out, nil
}

// configEntry checks one key: a known flag, of the flag's type, and no secret
// literal.
func configEntry(path string, k, v *yaml.Node, byName map[string]flagDef, getenv func(string) (string, bool)) (configValue, error) {
	bad := func(line int, format string, args ...any) (configValue, error) {
		return configValue{}, &configError{File: path, Line: line, Key: k.Value, Msg: fmt.Sprintf(format, args...)}
	}
	if name, ok := strings.CutSuffix(k.Value, secretEnvSuffix); ok {
		if d, ok := byName[name]; ok && d.Secret {
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Value == "" {
				return bad(v.Line, "want the name of an environment variable")
			}
			val, ok := getenv(v.Value)
			if !ok {
				return bad(v.Line, "environment variable %s is not set", v.Value)
			}
			if val == "" {
				return bad(v.Line, "environment variable %s is empty", v.Value)
			}
			return configValue{Key: k.Value, Flag: name, Value: val, Line: k.Line}, nil
		}
	}
	d, ok := byName[k.Value]
	if !ok {
		names := []string{"builds"}
		for n := range byName {
			names = append(names, n)
		}
		if s := suggest(k.Value, names); s != "" {
			return bad(k.Line, "unknown key: not a flag of pkgctl package (did you mean %s?)", s)
		}
		return bad(k.Line, "unknown key: not a flag of pkgctl package (see pkgctl package --help)")
	}
	if d.Secret {
		return bad(k.Line, "secrets are not allowed in the config file; name an environment variable with %s%s: VARIABLE", d.Name, secretEnvSuffix)
	}
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return bad(v.Line, "want a %s", flagKind(d))
	}
	switch {
	case d.Bool != nil:
		if v.Tag != "!!bool" {
			return bad(v.Line, "want true or false, got %q", v.Value)
		}
	case d.Dur != nil:
		if v.Tag != "!!str" {
			return bad(v.Line, "want a duration such as 15m or 1h, got %q", v.Value)
		}
		if _, err := time.ParseDuration(v.Value); err != nil {
			return bad(v.Line, "want a duration such as 15m or 1h, got %q", v.Value)
		}
	default:
		if v.Tag != "!!str" && v.Tag != "!!int" && v.Tag != "!!float" {
			return bad(v.Line, "want a string, got %s %q", strings.TrimPrefix(v.Tag, "!!"), v.Value)
		}
	}
	return configValue{Key: k.Value, Flag: d.Name, Value: v.Value, Line: k.Line}, nil
}

func flagKind(d flagDef) string {
	switch {
	case d.Bool != nil:
		return "boolean (true or false)"
	case d.Dur != nil:
		return "duration such as 15m"
	}
	return "string"
}

// resolvedBuild is one build's options after precedence.
type resolvedBuild struct {
	Name    string
	Options *packaging.Options
	Line    int                 // line of its builds: entry; 0 for the file's defaults
	From    map[string]string   // flag → where its value came from (for errors)
	set     map[string]struct{} // flags given anywhere (not built-in defaults)
}

// resolveBuilds applies, for each build, from lowest to highest precedence:
// built-in default, file defaults, the build entry, then every flag set on the
// command line or from its environment variable (cli, where applyEnv already
// put environment values and a flag beats its variable).
func resolveBuilds(cf *configFile, cli *pflag.FlagSet) ([]resolvedBuild, error) {
	entries := cf.Builds
	if len(entries) == 0 {
		entries = []configBuild{{}}
	}
	var out []resolvedBuild
	for i, b := range entries {
		o := &packaging.Options{}
		defs := packageFlags(o)
		fs := pflag.NewFlagSet("config", pflag.ContinueOnError)
		for _, d := range defs {
			switch {
			case d.Str != nil:
				fs.StringVar(d.Str, d.Name, d.Def.(string), "")
			case d.Bool != nil:
				fs.BoolVar(d.Bool, d.Name, d.Def.(bool), "")
			case d.Dur != nil:
				fs.DurationVar(d.Dur, d.Name, d.Def.(time.Duration), "")
			}
		}
		rb := resolvedBuild{Options: o, Line: b.Line, From: map[string]string{}, set: map[string]struct{}{}}
		for _, layer := range [][]configValue{cf.Defaults, b.Values} {
			for _, cv := range layer {
				if err := fs.Set(cv.Flag, cv.Value); err != nil {
					return nil, &configError{File: cf.Path, Line: cv.Line, Key: cv.Key, Msg: "invalid value"}
				}
				rb.From[cv.Flag] = fmt.Sprintf("%s:%d", cf.Path, cv.Line)
				rb.set[cv.Flag] = struct{}{}
			}
		}
		var err error
		cli.Visit(func(f *pflag.Flag) {
			if fs.Lookup(f.Name) == nil || err != nil {
				return
			}
			if serr := fs.Set(f.Name, f.Value.String()); serr != nil {
				err = fmt.Errorf("--%s: %w", f.Name, serr)
			}
			rb.From[f.Name] = "--" + f.Name
			rb.set[f.Name] = struct{}{}
		})
		if err != nil {
			return nil, err
		}
		_, o.ArchSet = rb.set["arch"]
		o.HostOS = runtime.GOOS
		rb.Name = b.Name
		if rb.Name == "" {
			if o.CustomOutfile != "" {
				rb.Name = filepath.Base(o.CustomOutfile)
			} else {
				rb.Name = fmt.Sprintf("%s-%s-%d", o.Type, o.Arch, i+1)
			}
		}
		out = append(out, rb)
	}
	return out, nil
}

// findConfig returns the config file to use: --config, or ./pkgctl.yaml when
// present and --type is not given; "" for none.
func findConfig(flagValue string, typeGiven bool) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if typeGiven {
		return "", nil
	}
	if _, err := os.Stat(defaultConfigFile); err == nil {
		return defaultConfigFile, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("stat %s: %w", defaultConfigFile, err)
	}
	return "", nil
}
