package routers

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"

	"github.com/ac075510/caddy-traefik-acme/internal/decodedtree"
)

// This file holds the generic tree the YAML and TOML decoders produce and
// the case-insensitive accessors Traefik's paerser implies: option names
// match in any case; names of routers, services and entry points keep
// theirs.

// yamlTree decodes YAML into a tree of map[string]any, []any and scalars.
func yamlTree(data []byte) (tree map[string]any, err error) {
	defer func() {
		// A configuration reader must not take the process down on a
		// malformed file, even if the YAML library panics.
		if r := recover(); r != nil {
			tree, err = nil, fmt.Errorf("parsing YAML: %v", r)
		}
	}()
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parsing YAML: %w", err)
	}
	if raw == nil {
		return map[string]any{}, nil
	}
	n, err := decodedtree.Normalize(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing YAML: %w", err)
	}
	m, ok := n.(map[string]any)
	if !ok {
		return nil, errors.New("parsing YAML: the document is not a table of options")
	}
	return m, nil
}

// tomlTree decodes TOML into the same tree shape.
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
	n, err := decodedtree.Normalize(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing TOML: %w", err)
	}
	m, _ := n.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// get returns the value of option key in table m, matched in any case.
// When two spellings are present, the last in sorted order wins, as in
// paerser.
func get(m map[string]any, key string) (any, bool) {
	var (
		val   any
		found bool
		best  string
	)
	for k, v := range m {
		if strings.EqualFold(k, key) && (!found || k > best) {
			val, found, best = v, true, k
		}
	}
	return val, found
}

// table returns the table at the option path, or nil.
func table(m map[string]any, path ...string) map[string]any {
	cur := m
	for _, k := range path {
		v, ok := get(cur, k)
		if !ok {
			return nil
		}
		t, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		cur = t
	}
	return cur
}

// has reports whether the option path exists (with any value, even an
// empty table).
func has(m map[string]any, path ...string) bool {
	cur := m
	for i, k := range path {
		v, ok := get(cur, k)
		if !ok {
			return false
		}
		if i == len(path)-1 {
			return true
		}
		t, ok := v.(map[string]any)
		if !ok {
			return false
		}
		cur = t
	}
	return true
}

// scalar renders a scalar value as paerser does before parsing it.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// str returns the string option key of m ("" when absent).
func str(m map[string]any, key string) (string, error) {
	v, ok := get(m, key)
	if !ok || v == nil {
		return "", nil
	}
	s, ok := scalar(v)
	if !ok {
		return "", fmt.Errorf("%s: expected a single value, found %s", key, kindOf(v))
	}
	return s, nil
}

// list returns the list option key of m: a list of scalars, or one string
// split on commas (as paerser splits a string for a list field).
func list(m map[string]any, key string) ([]string, error) {
	v, ok := get(m, key)
	if !ok || v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := scalar(e)
			if !ok {
				return nil, fmt.Errorf("%s: expected a list of values, found an element that is %s", key, kindOf(e))
			}
			out = append(out, strings.TrimSpace(s))
		}
		return out, nil
	}
	s, ok := scalar(v)
	if !ok {
		return nil, fmt.Errorf("%s: expected a list of values, found %s", key, kindOf(v))
	}
	return splitList(s), nil
}

// splitList splits a comma-separated value and trims each element, as
// paerser does for list options given as one string.
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a table"
	case []any:
		return "a list"
	case nil:
		return "nothing"
	}
	return "a value"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// otherKeys lists the keys of m not in known (case-insensitive), sorted.
func otherKeys(m map[string]any, known ...string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		ok := false
		for _, kn := range known {
			if strings.EqualFold(k, kn) {
				ok = true
				break
			}
		}
		if !ok {
			out = append(out, k)
		}
	}
	return out
}
