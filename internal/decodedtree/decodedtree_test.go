package decodedtree

import (
	"reflect"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want any
	}{
		{"scalar", 42, 42},
		{"yaml map[any]any keys become strings", map[any]any{1: "a", true: map[any]any{"x": 2}},
			map[string]any{"1": "a", "true": map[string]any{"x": 2}}},
		{"toml array of tables becomes []any", map[string]any{"t": []map[string]any{{"a": 1}}},
			map[string]any{"t": []any{map[string]any{"a": 1}}}},
		{"lists nest", []any{[]any{"a"}, map[any]any{"k": "v"}}, []any{[]any{"a"}, map[string]any{"k": "v"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Normalize(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Normalize(%#v) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestNormalizeDepth(t *testing.T) {
	nest := func(n int) any {
		var v any = "leaf"
		for range n {
			v = []any{v}
		}
		return v
	}
	if _, err := Normalize(nest(MaxDepth)); err != nil {
		t.Errorf("depth %d: %v, want accepted", MaxDepth, err)
	}
	if _, err := Normalize(nest(MaxDepth + 2)); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("depth %d: err = %v, want nested too deeply", MaxDepth+2, err)
	}
}
