package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoConfiguration means none of the sources holds a Traefik static
// configuration.
var ErrNoConfiguration = errors.New("no Traefik static configuration found")

// Source names where a static configuration was read from.
type Source string

// The sources of a static configuration, in Traefik's order of precedence.
const (
	// SourceFile is a traefik.yml, traefik.yaml, traefik.toml or
	// traefik.json file.
	SourceFile Source = "file"
	// SourceFlags is command-line flags (also those of a compose command).
	SourceFlags Source = "flags"
	// SourceEnv is TRAEFIK_* environment variables (also those of a
	// compose service).
	SourceEnv Source = "env"
)

// Origin says which source a configuration was read from, for a log line.
type Origin struct {
	// Source is the kind of source that was used.
	Source Source
	// Path is the file read: the configuration file, or the compose file
	// whose service's flags or env were used. Empty for Args and Environ.
	Path string
	// Service is the compose service whose flags or env were used.
	Service string
}

// String describes the origin, such as `file /etc/traefik/traefik.yml` or
// `flags of service "traefik" in compose file docker-compose.yml`.
func (o Origin) String() string {
	what := map[Source]string{
		SourceFile:  "file",
		SourceFlags: "flags",
		SourceEnv:   "TRAEFIK_* environment variables",
	}[o.Source]
	switch {
	case o.Service != "":
		return fmt.Sprintf("%s of service %q in compose file %s", what, o.Service, o.Path)
	case o.Source == SourceFile:
		return "file " + o.Path
	case what == "":
		return "nothing"
	}
	return what
}

// Sources are the places Traefik reads its static configuration from.
type Sources struct {
	// File is the path of a Traefik static configuration file (.yml,
	// .yaml, .toml, .json) or of a docker-compose file (a YAML file with a
	// top-level services section). When empty, a --configFile flag in
	// Args names it, as in Traefik.
	File string

	// Service names the Traefik service of a compose File. Default: the
	// service with a Traefik image.
	Service string

	// Args are Traefik's command-line arguments, without the program name.
	Args []string

	// Environ is Traefik's environment, as KEY=VALUE strings.
	Environ []string

	// LookupEnv resolves ${VAR} in a compose File. Default: a lookup in
	// Environ (then in the .env file next to the compose file).
	LookupEnv func(string) (string, bool)
}

// Loaded is a static configuration with where it came from.
type Loaded struct {
	// Static is the configuration, after SetDefaults and Validate.
	Static *Static
	// Warnings are the non-fatal findings, including sources that were
	// ignored because another one took precedence.
	Warnings []Warning
	// Origin says which source was used.
	Origin Origin
}

// Load reads the static configuration the way Traefik does: from exactly
// one source, the first that has configuration, in this order: the file
// (File, or a --configFile flag); else the flags, when there are any
// arguments at all; else the TRAEFIK_* environment variables. Sources are
// not merged: a file makes flags and env ineffective, flags make env
// ineffective, and a warning names what was ignored. With no source it
// returns ErrNoConfiguration.
//
// It returns the configuration after SetDefaults and Validate, or an error;
// never both.
func Load(src Sources) (*Loaded, error) {
	file := src.File
	if file == "" {
		file = configFileArg(src.Args)
	}
	switch {
	case file != "":
		lookup := src.LookupEnv
		if lookup == nil {
			lookup = environLookup(src.Environ)
		}
		s, warns, origin, err := loadFile(file, src.Service, lookup)
		if err != nil {
			return nil, err
		}
		if hasOurFlags(src.Args) {
			warns = append(warns, Warning{Path: "flags", Message: "certificatesResolvers/entryPoints flags are ignored: Traefik reads its static configuration from the file only"})
		}
		if hasOurEnv(src.Environ) {
			warns = append(warns, Warning{Path: "env", Message: "TRAEFIK_CERTIFICATESRESOLVERS_*/TRAEFIK_ENTRYPOINTS_* variables are ignored: Traefik reads its static configuration from the file only"})
		}
		return &Loaded{Static: s, Warnings: warns, Origin: origin}, nil
	case len(src.Args) > 0:
		s, warns, err := ParseArgs(src.Args)
		if err != nil {
			return nil, err
		}
		if hasOurEnv(src.Environ) {
			warns = append(warns, Warning{Path: "env", Message: "TRAEFIK_* variables are ignored because there are command-line arguments, as in Traefik (flags win over env)"})
		}
		return &Loaded{Static: s, Warnings: warns, Origin: Origin{Source: SourceFlags}}, nil
	case hasEnvConfig(src.Environ):
		s, warns, err := ParseEnv(src.Environ)
		if err != nil {
			return nil, err
		}
		return &Loaded{Static: s, Warnings: warns, Origin: Origin{Source: SourceEnv}}, nil
	}
	return nil, fmt.Errorf("loading static configuration: %w (no file, no arguments, no TRAEFIK_* environment variables)", ErrNoConfiguration)
}

// configFileArg returns the value of a --configFile flag, as Traefik's
// file loader reads it.
func configFileArg(args []string) string {
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		if len(a) == len(args[i]) || len(args[i])-len(a) > 2 {
			continue
		}
		name, value, hasValue := strings.Cut(a, "=")
		if !strings.EqualFold(name, "configFile") {
			continue
		}
		if hasValue {
			return value
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// hasOurFlags reports whether args set entry points or resolvers.
func hasOurFlags(args []string) bool {
	for _, a := range args {
		if inOurSections(strings.TrimLeft(a, "-")) {
			return true
		}
	}
	return false
}

// hasOurEnv reports whether environ sets entry points or resolvers.
func hasOurEnv(environ []string) bool {
	for _, e := range environ {
		if strings.HasPrefix(e, envPrefix+"CERTIFICATESRESOLVERS") || strings.HasPrefix(e, envPrefix+"ENTRYPOINTS") {
			return true
		}
	}
	return false
}

// environLookup looks names up in KEY=VALUE entries; the last entry of a
// name wins, as in os.Environ semantics.
func environLookup(environ []string) func(string) (string, bool) {
	m := make(map[string]string, len(environ))
	for _, e := range environ {
		if k, v, ok := strings.Cut(e, "="); ok {
			m[k] = v
		}
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}
