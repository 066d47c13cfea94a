package routers

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// DefaultDockerRule is the Docker provider's default defaultRule.
const DefaultDockerRule = "Host(`{{ normalize .Name }}`)"

// Static is what the routers depend on in Traefik's static configuration.
// Callers fill it from the configuration they loaded, or use
// StaticFromTree, StaticFromArgs or StaticFromEnv.
type Static struct {
	// File is providers.file; nil when the file provider is not enabled.
	File *FileProvider `json:"file,omitempty"`
	// Docker is providers.docker; nil when the Docker provider is not
	// enabled.
	Docker *DockerProvider `json:"docker,omitempty"`
	// EntryPoints maps an entry point name to what its routers inherit.
	EntryPoints map[string]EntryPoint `json:"entryPoints,omitempty"`
}

// FileProvider is providers.file.
type FileProvider struct {
	Filename  string `json:"filename,omitempty"`
	Directory string `json:"directory,omitempty"`
}

// DockerProvider is providers.docker.
type DockerProvider struct {
	// ExposedByDefault: when false, only containers labelled
	// traefik.enable=true are read. Default: true.
	ExposedByDefault bool `json:"exposedByDefault"`
	// DefaultRule is the rule of routers without one, a Go template.
	// Default: DefaultDockerRule.
	DefaultRule string `json:"defaultRule,omitempty"`
	// Constraints is providers.docker.constraints, which is not evaluated
	// (a warning says so).
	Constraints string `json:"constraints,omitempty"`
}

// EntryPoint is what of an entry point applies to its routers.
type EntryPoint struct {
	// AsDefault: routers without entryPoints use the entry points marked
	// asDefault, or all of them when none is.
	AsDefault bool `json:"asDefault,omitempty"`
	// TLS is entryPoints.<name>.http.tls: the tls section of every HTTP
	// router on this entry point that has none of its own.
	TLS *TLS `json:"tls,omitempty"`
}

// StaticFromTree reads providers and entry points from a static
// configuration decoded from traefik.yml or traefik.toml (a tree of
// map[string]any, []any and scalars; option names in any case).
func StaticFromTree(tree map[string]any) (*Static, error) {
	s := &Static{EntryPoints: map[string]EntryPoint{}}
	providers := table(tree, "providers")
	if has(providers, "file") && enabled(providers, "file") {
		f := table(providers, "file")
		s.File = &FileProvider{}
		var err error
		if s.File.Filename, err = str(f, "filename"); err != nil {
			return nil, fmt.Errorf("providers.file.%w", err)
		}
		if s.File.Directory, err = str(f, "directory"); err != nil {
			return nil, fmt.Errorf("providers.file.%w", err)
		}
	}
	if has(providers, "docker") && enabled(providers, "docker") {
		d := table(providers, "docker")
		s.Docker = &DockerProvider{ExposedByDefault: true, DefaultRule: DefaultDockerRule}
		if v, err := str(d, "exposedByDefault"); err != nil {
			return nil, fmt.Errorf("providers.docker.%w", err)
		} else if v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("providers.docker.exposedByDefault: %q is not true or false", v)
			}
			s.Docker.ExposedByDefault = b
		}
		if v, err := str(d, "defaultRule"); err != nil {
			return nil, fmt.Errorf("providers.docker.%w", err)
		} else if v != "" {
			s.Docker.DefaultRule = v
		}
		if v, err := str(d, "constraints"); err != nil {
			return nil, fmt.Errorf("providers.docker.%w", err)
		} else {
			s.Docker.Constraints = v
		}
	}
	eps := table(tree, "entryPoints")
	for _, name := range sortedKeys(eps) {
		m, _ := eps[name].(map[string]any)
		var ep EntryPoint
		if v, err := str(m, "asDefault"); err != nil {
			return nil, fmt.Errorf("entryPoints.%s.%w", name, err)
		} else if v != "" {
			ep.AsDefault, _ = strconv.ParseBool(v)
		}
		httpSec := table(m, "http")
		if v, ok := get(httpSec, "tls"); ok {
			t, err := decodeTLS(v)
			if err != nil {
				return nil, fmt.Errorf("entryPoints.%s.http.tls%w", name, err)
			}
			ep.TLS = t
		}
		s.EntryPoints[name] = ep
	}
	return s, nil
}

// enabled reports whether a provider section is on: a table (even empty),
// an empty value, or true.
func enabled(m map[string]any, key string) bool {
	v, _ := get(m, key)
	switch x := v.(type) {
	case nil, map[string]any:
		return true
	default:
		s, _ := scalar(x)
		b, err := strconv.ParseBool(s)
		return s == "" || err == nil && b
	}
}

// boolFlags are the flags of the sections read here that take no value.
var boolFlags = []string{"providers.file", "providers.docker", "providers.docker.exposedbydefault"}

// StaticFromArgs reads providers and entry points from Traefik's
// command-line flags (--providers.docker.exposedByDefault=false,
// --entryPoints.websecure.http.tls.certResolver=le,
// --entryPoints.websecure.http.tls.domains[0].main=example.com …). Flags of
// other sections are skipped.
func StaticFromArgs(args []string) (*Static, error) {
	var pairs [][2]string
	if len(args) > 0 && (args[0] == "traefik" || strings.HasSuffix(args[0], "/traefik")) {
		args = args[1:]
	}
	for len(args) > 0 {
		a := args[0]
		args = args[1:]
		if !strings.HasPrefix(a, "-") {
			break // Traefik stops reading flags at the first non-flag.
		}
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if i := strings.IndexByte(name, '='); i >= 0 {
			name, value, hasValue = name[:i], name[i+1:], true
		}
		if !hasValue {
			lk := strings.ToLower(name)
			isBool := contains(boolFlags, lk) || strings.HasSuffix(lk, ".http.tls") || strings.HasSuffix(lk, ".asdefault")
			if isBool || len(args) == 0 || strings.HasPrefix(args[0], "-") {
				value = "true"
			} else {
				value, args = args[0], args[1:]
			}
		}
		pairs = append(pairs, [2]string{strings.NewReplacer("[", ".", "]", "").Replace(name), value})
	}
	return StaticFromTree(flatTree(pairs))
}

// StaticFromEnv reads providers and entry points from TRAEFIK_* variables
// (KEY=VALUE strings): TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT,
// TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_CERTRESOLVER,
// TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_MAIN … As in Traefik,
// names are lower-cased and every '_' starts a new level.
func StaticFromEnv(environ []string) (*Static, error) {
	var pairs [][2]string
	for _, e := range environ {
		k, v, ok := strings.Cut(e, "=")
		if !ok || !(strings.HasPrefix(k, "TRAEFIK_PROVIDERS") || strings.HasPrefix(k, "TRAEFIK_ENTRYPOINTS")) {
			continue
		}
		pairs = append(pairs, [2]string{strings.ReplaceAll(strings.ToLower(k[len("TRAEFIK_"):]), "_", "."), v})
	}
	return StaticFromTree(flatTree(pairs))
}

// flatTree turns dotted keys into a tree; a table whose keys are all
// numbers becomes a list in index order.
func flatTree(pairs [][2]string) map[string]any {
	root := map[string]any{}
	for _, p := range pairs {
		segs := strings.Split(p[0], ".")
		cur := root
		for i, s := range segs {
			if i == len(segs)-1 {
				if _, isTable := cur[s].(map[string]any); !isTable {
					cur[s] = p[1]
				} else if p[1] == "false" {
					cur[s] = p[1]
				}
				break
			}
			next, ok := cur[s].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[s] = next
			}
			cur = next
		}
	}
	return listify(root).(map[string]any)
}

func listify(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	numeric := len(m) > 0
	for k, e := range m {
		m[k] = listify(e)
		if _, err := strconv.Atoi(k); err != nil {
			numeric = false
		}
	}
	if !numeric {
		return m
	}
	keys := make([]int, 0, len(m))
	for k := range m {
		n, _ := strconv.Atoi(k)
		keys = append(keys, n)
	}
	sort.Ints(keys)
	out := make([]any, 0, len(keys))
	for _, n := range keys {
		out = append(out, m[strconv.Itoa(n)])
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
