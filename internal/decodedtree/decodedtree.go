// Package decodedtree brings what the YAML and TOML decoders return into one
// shape for the compat packages, which read Traefik's files with both and
// never import each other.
package decodedtree

import (
	"errors"
	"fmt"
)

// MaxDepth bounds the nesting of a decoded file: deeper input is refused, so
// a hostile file cannot exhaust the stack.
const MaxDepth = 100

// Normalize returns v with every map keyed by strings (YAML may give
// map[any]any; keys are formatted with fmt.Sprint) and every list as []any
// (TOML gives []map[string]any for arrays of tables). Scalars are returned
// as they are. It fails when v nests deeper than MaxDepth.
func Normalize(v any) (any, error) {
	return normalize(v, 0)
}

func normalize(v any, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, errors.New("nested too deeply")
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	return v, nil
}
