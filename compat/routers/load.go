package routers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Sources say where the dynamic configuration is.
type Sources struct {
	// Static is what the static configuration says (providers, entry
	// points). nil means nothing: no provider is enabled.
	Static *Static
	// Paths are more places to read routers from, given by the user:
	// dynamic configuration files (.yml, .yaml, .toml), directories of
	// them, or compose files (YAML with a top-level services table) whose
	// labels the Docker provider would read.
	Paths []string
	// ComposeProject is the compose project name. Default: see
	// ComposeOptions.Project.
	ComposeProject string
	// LookupEnv resolves ${VAR} in compose labels. Default: none is set.
	LookupEnv func(string) (string, bool)
}

// Load reads the routers and services from the file provider named by
// the static configuration and from Paths.
func Load(src Sources) (*Dynamic, error) {
	static := src.Static
	if static == nil {
		static = &Static{}
	}
	dyn := &Dynamic{Services: map[string]Service{}}
	if static.File != nil {
		if static.File.Filename == "" && static.File.Directory == "" {
			return nil, fmt.Errorf("providers.file: neither filename nor directory is set")
		}
		d, err := LoadFileProvider(static.File.Filename, static.File.Directory)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Traefik logs the error and runs without the file's routers.
			dyn.Warnings = append(dyn.Warnings, Warning{Where: "providers.file", Message: fmt.Sprintf("%v; no routers are read from it, as Traefik reads none", err)})
		case err != nil:
			return nil, err
		default:
			dyn.Merge(d)
		}
	}
	for _, p := range src.Paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading routers: %w", err)
		}
		if st.IsDir() {
			d, err := LoadFileProvider("", p)
			if err != nil {
				return nil, err
			}
			dyn.Merge(d)
			continue
		}
		data, err := readBounded(p)
		if err != nil {
			return nil, fmt.Errorf("reading routers: %w", err)
		}
		if isComposeFile(p, data) {
			docker := static.Docker
			if docker == nil {
				dyn.Warnings = append(dyn.Warnings, Warning{Where: "compose file " + p, Message: "providers.docker is not enabled in the static configuration, so Traefik would not read these labels; they are read with the Docker provider's defaults (exposedByDefault true)"})
			}
			d, err := ParseCompose(data, docker, ComposeOptions{Path: p, Project: src.ComposeProject, LookupEnv: src.LookupEnv})
			if err != nil {
				return nil, err
			}
			dyn.Merge(d)
			continue
		}
		d, err := ParseFile(p, data)
		if err != nil {
			return nil, err
		}
		dyn.Merge(d)
	}
	return dyn, nil
}

// IsComposeFile reports whether the file at path is a compose file: YAML
// with a top-level services table.
func IsComposeFile(path string) bool {
	data, err := readBounded(path)
	return err == nil && isComposeFile(path, data)
}

// isComposeFile reports whether a YAML file has a top-level services
// table.
func isComposeFile(path string, data []byte) bool {
	if strings.EqualFold(filepath.Ext(path), ".toml") {
		return false
	}
	tree, err := yamlTree(data)
	if err != nil {
		return false
	}
	_, ok := tree["services"].(map[string]any)
	return ok
}

// LoadStatic reads what the routers depend on from a Traefik static
// configuration file (.yml, .yaml, .toml), or from the Traefik service
// (named service, or the one with Traefik's image) of a compose file.
func LoadStatic(path, service string) (*Static, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	if isComposeFile(path, data) {
		s, err := StaticFromCompose(data, service)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		if s == nil {
			s = &Static{}
		}
		return s, nil
	}
	var tree map[string]any
	if strings.EqualFold(filepath.Ext(path), ".toml") {
		tree, err = tomlTree(data)
	} else {
		tree, err = yamlTree(data)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	s, err := StaticFromTree(tree)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return s, nil
}
