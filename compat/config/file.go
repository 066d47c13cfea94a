package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"

	"github.com/ac075510/caddy-traefik-acme/internal/decodedtree"
)

// ParseYAML reads a Traefik static configuration file in YAML
// (traefik.yml). Keys match case-insensitively; sections other than
// entryPoints and certificatesResolvers are ignored; unknown keys inside a
// resolver are errors. It returns the configuration after SetDefaults and
// Validate, or an error for what Traefik refuses too; never both. Resolvers
// that fail Validate are kept, with their errors in Static.Problems.
func ParseYAML(data []byte) (*Static, []Warning, error) {
	s, warns, err := decodeYAML(data)
	if err != nil {
		return nil, warns, err
	}
	return finish(s, warns)
}

// ParseTOML reads a Traefik static configuration file in TOML
// (traefik.toml), with the same rules as ParseYAML.
func ParseTOML(data []byte) (*Static, []Warning, error) {
	s, warns, err := decodeTOML(data)
	if err != nil {
		return nil, warns, err
	}
	return finish(s, warns)
}

// ParseJSON reads a Traefik static configuration file in JSON
// (traefik.json, which Traefik's file loader reads too), with the same rules
// as ParseYAML.
func ParseJSON(data []byte) (*Static, []Warning, error) {
	s, warns, err := decodeJSON(data)
	if err != nil {
		return nil, warns, err
	}
	return finish(s, warns)
}

// LoadFile reads the file at path by its extension: .toml is a Traefik
// static configuration in TOML, .json one in JSON; .yml and .yaml are one
// in YAML, unless the
// file has a top-level services: section, in which case it is read as a
// docker-compose file (see ParseCompose; the Traefik service is found by
// its image, and ${VAR} are resolved from the process environment, then
// from a .env file next to it, as docker compose does).
func LoadFile(path string) (*Static, []Warning, error) {
	s, warns, _, err := loadFile(path, "", nil)
	return s, warns, err
}

// loadFile implements LoadFile and Load's file source. lookupEnv nil means
// the process environment. It also reports which compose source was used.
func loadFile(path, service string, lookupEnv func(string) (string, bool)) (*Static, []Warning, Origin, error) {
	origin := Origin{Source: SourceFile, Path: path}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, origin, fmt.Errorf("reading static configuration: %w", err)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		s, warns, err := ParseTOML(data)
		if err != nil {
			return nil, warns, origin, fmt.Errorf("reading %s: %w", path, err)
		}
		return s, warns, origin, nil
	case ".yml", ".yaml":
		tree, err := yamlTree(data)
		if err != nil {
			return nil, nil, origin, fmt.Errorf("reading %s: %w", path, err)
		}
		if isCompose(tree) {
			if lookupEnv == nil {
				lookupEnv = os.LookupEnv
			}
			lookupEnv = withDotEnv(lookupEnv, filepath.Join(filepath.Dir(path), ".env"))
			s, warns, via, svc, err := composeFromTree(tree, service, lookupEnv)
			origin = Origin{Source: via, Path: path, Service: svc}
			if err != nil {
				return nil, warns, origin, fmt.Errorf("reading %s: %w", path, err)
			}
			return s, warns, origin, nil
		}
		s, warns, err := decodeTree(tree, "YAML")
		if err == nil {
			s, warns, err = finish(s, warns)
		}
		if err != nil {
			return nil, warns, origin, fmt.Errorf("reading %s: %w", path, err)
		}
		return s, warns, origin, nil
	case ".json":
		s, warns, err := ParseJSON(data)
		if err != nil {
			return nil, warns, origin, fmt.Errorf("reading %s: %w", path, err)
		}
		return s, warns, origin, nil
	default:
		return nil, nil, origin, fmt.Errorf("reading %s: unsupported extension %q: Traefik reads .toml, .yml, .yaml and .json static configuration files", path, filepath.Ext(path))
	}
}

// decodeYAML is ParseYAML without defaults and validation.
func decodeYAML(data []byte) (*Static, []Warning, error) {
	tree, err := yamlTree(data)
	if err != nil {
		return nil, nil, err
	}
	return decodeTree(tree, "YAML")
}

// decodeJSON is ParseJSON without defaults and validation.
func decodeJSON(data []byte) (*Static, []Warning, error) {
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, fmt.Errorf("parsing JSON: %w", err)
	}
	if len(raw) == 0 {
		return nil, nil, fmt.Errorf("parsing JSON: %w", errEmpty)
	}
	tree, err := normalizeMap(raw)
	if err != nil {
		return nil, nil, err
	}
	return decodeTree(tree, "JSON")
}

// decodeTOML is ParseTOML without defaults and validation.
func decodeTOML(data []byte) (*Static, []Warning, error) {
	tree, err := tomlTree(data)
	if err != nil {
		return nil, nil, err
	}
	return decodeTree(tree, "TOML")
}

// errEmpty is returned for a file without any configuration, which Traefik
// refuses too ("no configuration found in file").
var errEmpty = errors.New("no configuration found")

// yamlTree decodes YAML into the decoder's tree.
func yamlTree(data []byte) (tree map[string]any, err error) {
	defer func() {
		// A configuration parser must not take the process down on a
		// malformed file, even if the YAML library panics.
		if r := recover(); r != nil {
			tree, err = nil, fmt.Errorf("parsing YAML: %v", r)
		}
	}()
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parsing YAML: %w", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("parsing YAML: %w", errEmpty)
	}
	return normalizeMap(raw)
}

// tomlTree decodes TOML into the decoder's tree.
func tomlTree(data []byte) (tree map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			tree, err = nil, fmt.Errorf("parsing TOML: %v", r)
		}
	}()
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, fmt.Errorf("parsing TOML: %w", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("parsing TOML: %w", errEmpty)
	}
	return normalizeMap(raw)
}

// normalizeMap converts decoder output to the tree shape: map[string]any
// tables (YAML may give map[any]any), []any lists (TOML gives
// []map[string]any for arrays of tables) and scalars.
func normalizeMap(m map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		n, err := decodedtree.Normalize(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = n
	}
	return out, nil
}

// decodeTree decodes a file tree into a Static.
func decodeTree(tree map[string]any, what string) (*Static, []Warning, error) {
	d := newDecoder(srcFile, nil)
	s := d.decodeStatic(tree)
	if err := d.err(); err != nil {
		return nil, d.warns, fmt.Errorf("reading %s static configuration: %w", what, err)
	}
	return s, d.warns, nil
}

// applyDefaults runs SetDefaults on every resolver, in name order.
func applyDefaults(s *Static) []Warning {
	var warns []Warning
	for _, name := range slices.Sorted(maps.Keys(s.CertificatesResolvers)) {
		if r := s.CertificatesResolvers[name]; r != nil && r.ACME != nil {
			warns = append(warns, r.ACME.SetDefaults("certificatesResolvers."+name+".acme")...)
		}
	}
	return warns
}

// validateStatic runs Validate on every resolver, in name order, and
// records the errors in s.Problems. When the configuration defines no entry
// points, httpChallenge.entryPoint is not checked against them.
func validateStatic(s *Static) {
	var eps map[string]*EntryPoint
	if len(s.EntryPoints) > 0 {
		eps = s.EntryPoints
	}
	s.Problems = nil
	for _, name := range slices.Sorted(maps.Keys(s.CertificatesResolvers)) {
		if r := s.CertificatesResolvers[name]; r != nil && r.ACME != nil {
			if err := r.ACME.Validate(name, eps); err != nil {
				if s.Problems == nil {
					s.Problems = map[string]error{}
				}
				s.Problems[name] = err
			}
		}
	}
}

// setEffectiveEntryPoints adds the entry points Traefik creates itself
// (static.Configuration.SetEffectiveConfiguration): "http" on :80 when the
// configuration defines none, and the internal "traefik" on :8080 when
// internal is set and it is not defined.
func setEffectiveEntryPoints(s *Static, internal bool) {
	if len(s.EntryPoints) == 0 {
		s.EntryPoints = map[string]*EntryPoint{DefaultEntryPointName: {Address: DefaultEntryPointAddress}}
	}
	if _, ok := s.EntryPoints[InternalEntryPointName]; internal && !ok {
		s.EntryPoints[InternalEntryPointName] = &EntryPoint{Address: InternalEntryPointAddress}
	}
}

// finish completes a decoded configuration as Traefik does before using it:
// its own entry points, defaults, then validation of each resolver. A
// resolver that fails validation is kept, its error in s.Problems, with a
// warning from the caller that knows whether a site uses it: Traefik loads
// such a configuration. finish returns s, or an
// error for what Traefik refuses too; never both.
func finish(s *Static, warns []Warning) (*Static, []Warning, error) {
	warns = append(warns, applyDefaults(s)...)
	setEffectiveEntryPoints(s, s.internalEntryPoint)
	validateStatic(s)
	return s, warns, nil
}
