package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// This file holds the generic decoder: it fills Static from a tree of
// map[string]any / []any / scalars, the shape produced by the YAML and TOML
// decoders and by the flag and env parsers (flat.go), by walking the
// `traefik` struct tags. It copies the rules of Traefik's paerser
// (parser/nodes_metadata.go, parser/element_fill.go, file/raw_node.go):
//
//   - struct keys match field names case-insensitively; map keys (resolver and
//     entry point names) keep their case;
//   - every scalar is first turned into a string (ints in decimal, floats
//     with trailing ".000000" dropped, bools as true/false) and then parsed
//     for the field's type, so `certificatesDuration: "2160"` and
//     `delay: 30` (30 seconds) both work;
//   - a list of scalars is joined with ',' first, so a []string field splits
//     it again on ',' and trims each element (strings.TrimSpace in paerser's
//     setSlice);
//   - a null value (YAML `key:`) is skipped, as if the key were absent;
//   - a struct pointer tagged allowEmpty is enabled by a table (even an empty
//     one), by "true" or by an empty string; any other scalar ("false")
//     leaves it nil, and also disables it when flags give it sub-keys too;
//   - a struct pointer not tagged allowEmpty (acme, eab) needs at least one
//     option: empty, "true" or a flag without value is an error.

// valuedMap is a table node that also carries a value of its own. Only the
// flag and env parsers make it: `--a.tlschallenge=false` together with
// `--a.tlschallenge.delay=5s` gives the tlschallenge node both.
type valuedMap struct {
	value   string
	entries map[string]any
}

// sourceKind says which configuration source a tree came from; it changes
// a few messages (env names cannot hold '_', flags name their origin).
type sourceKind int

const (
	srcFile sourceKind = iota
	srcFlags
	srcEnv
)

// maxErrors bounds how many key errors one decode reports.
const maxErrors = 20

// KeyError reports a problem with one key of a Traefik static
// configuration: an unknown option, a value of the wrong type, a Traefik v1
// option. It never contains a secret value.
type KeyError struct {
	// Path is the full Traefik key path, such as
	// certificatesResolvers.le.acme.email. Field names are spelled as in
	// Traefik's docs; resolver and entry point names as in the source.
	Path string
	// Origin names the flag or environment variable the key came from, or
	// is empty for files.
	Origin string
	// Message says what is wrong and what to do.
	Message string
}

// Error formats the error as "path (origin): message".
func (e *KeyError) Error() string {
	if e.Origin != "" {
		return fmt.Sprintf("%s (from %s): %s", e.Path, e.Origin, e.Message)
	}
	return e.Path + ": " + e.Message
}

// keyPath is a position in the tree: disp uses Traefik's spelling of field
// names, raw the keys as the source spelled them.
type keyPath struct {
	disp []string
	raw  []string
}

func (p keyPath) child(disp, raw string) keyPath {
	return keyPath{
		disp: append(append(make([]string, 0, len(p.disp)+1), p.disp...), disp),
		raw:  append(append(make([]string, 0, len(p.raw)+1), p.raw...), raw),
	}
}

// String joins the path with dots, quoting a segment that is not a plain
// name (such as the "resolvers:" of a mistyped flag).
func (p keyPath) String() string {
	segs := make([]string, len(p.disp))
	for i, s := range p.disp {
		segs[i] = s
		if s == "" || strings.IndexFunc(s, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '@' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
		}) >= 0 {
			segs[i] = strconv.Quote(s)
		}
	}
	return strings.Join(segs, ".")
}

// decoder accumulates errors and warnings while filling a Static.
type decoder struct {
	src   sourceKind
	errs  []error
	warns []Warning
	// origin returns the flag or env var that set the raw path (or one
	// below it); nil for files.
	origin func(raw []string) string
	// v1KV is set when the tree has a Traefik v1 KV store section
	// (consul, etcd, zookeeper, boltdb at the top level).
	v1KV bool
	// tailscale records resolver paths that have an enabled tailscale block.
	tailscale map[string]bool
	// secretDepth > 0 while decoding below a secret field.
	secretDepth int
}

func newDecoder(src sourceKind, origin func([]string) string) *decoder {
	return &decoder{src: src, origin: origin, tailscale: map[string]bool{}}
}

func (d *decoder) fail(p keyPath, format string, args ...any) {
	if len(d.errs) == maxErrors {
		d.errs = append(d.errs, errors.New("too many errors; stopping here"))
	}
	if len(d.errs) > maxErrors {
		return
	}
	e := &KeyError{Path: p.String(), Message: fmt.Sprintf(format, args...)}
	if d.origin != nil {
		e.Origin = d.origin(p.raw)
	}
	d.errs = append(d.errs, e)
}

// capped reports whether enough errors were collected that more are
// dropped; callers skip costly messages then.
func (d *decoder) capped() bool { return len(d.errs) > maxErrors }

func (d *decoder) warn(p keyPath, format string, args ...any) {
	d.warns = append(d.warns, Warning{Path: p.String(), Message: fmt.Sprintf(format, args...)})
}

// err returns the accumulated errors, or nil.
func (d *decoder) err() error { return errors.Join(d.errs...) }

// fieldInfo describes one struct field that has a traefik tag.
type fieldInfo struct {
	name       string
	index      int
	allowEmpty bool
	secret     bool
}

var fieldCache sync.Map // reflect.Type -> []fieldInfo

// traefikFields lists the fields of struct type t that are Traefik options.
func traefikFields(t reflect.Type) []fieldInfo {
	if v, ok := fieldCache.Load(t); ok {
		return v.([]fieldInfo)
	}
	var out []fieldInfo
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("traefik")
		if !ok || tag == "-" || !f.IsExported() {
			continue
		}
		parts := strings.Split(tag, ",")
		fi := fieldInfo{name: parts[0], index: i}
		for _, opt := range parts[1:] {
			switch opt {
			case "allowEmpty":
				fi.allowEmpty = true
			case "secret":
				fi.secret = true
			}
		}
		out = append(out, fi)
	}
	fieldCache.Store(t, out)
	return out
}

func findField(fields []fieldInfo, key string) (fieldInfo, bool) {
	for _, f := range fields {
		if strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return fieldInfo{}, false
}

var (
	durationType    = reflect.TypeOf(Duration(0))
	staticType      = reflect.TypeOf(Static{})
	entryPointType  = reflect.TypeOf(EntryPoint{})
	resolverType    = reflect.TypeOf(CertificateResolver{})
	acmeType        = reflect.TypeOf(ACME{})
	stringSliceType = reflect.TypeOf([]string(nil))
)

// decodeStatic fills a new Static from tree.
func (d *decoder) decodeStatic(tree map[string]any) *Static {
	s := &Static{}
	d.decodeStruct(reflect.ValueOf(s).Elem(), tree, keyPath{})
	s.internalEntryPoint = needsInternalEntryPoint(tree)
	if d.v1KV {
		d.checkKVStorage(s)
	}
	return s
}

// entries returns the table entries of node, and whether node is a table.
func entries(node any) (map[string]any, bool) {
	switch n := node.(type) {
	case map[string]any:
		return n, true
	case *valuedMap:
		return n.entries, true
	}
	return nil, false
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// decodeStruct fills struct v from the table node. Keys are visited in
// sorted order, as paerser does, so that when two spellings of one field
// appear (Email and email) the last one wins like in Traefik.
func (d *decoder) decodeStruct(v reflect.Value, node any, p keyPath) {
	m, _ := entries(node)
	t := v.Type()
	fields := traefikFields(t)
	setBy := map[int]string{}
	for _, key := range sortedKeys(m) {
		val := m[key]
		fi, ok := findField(fields, key)
		if !ok {
			d.otherKey(t, key, val, p)
			continue
		}
		cp := p.child(fi.name, key)
		if val == nil {
			d.nullValue(fi, cp)
			continue
		}
		if prev, dup := setBy[fi.index]; dup {
			d.warn(cp, "set twice, as %q and %q; the last one in sorted order (%q) wins, as in Traefik", prev, key, key)
		}
		setBy[fi.index] = key
		if fi.secret {
			d.secretDepth++
		}
		d.decodeValue(v.Field(fi.index), val, cp, fi)
		if fi.secret {
			d.secretDepth--
		}
	}
}

// nullValue handles `key:` with no value. Traefik's file loader skips such
// keys, which surprises people who write `tlsChallenge:` to enable a
// challenge, so say so.
func (d *decoder) nullValue(fi fieldInfo, p keyPath) {
	if fi.allowEmpty {
		d.warn(p, "empty (null) value is ignored, as Traefik ignores it, so this does not enable %s; write `%s: {}` to enable it", fi.name, fi.name)
	}
}

// decodeValue fills v (a field) from node.
func (d *decoder) decodeValue(v reflect.Value, node any, p keyPath, fi fieldInfo) {
	switch {
	case v.Type() == durationType:
		s, ok := d.scalar(node, p, "a duration such as 10s or 2m (a bare number is seconds)")
		if !ok {
			return
		}
		dur, err := ParseDuration(s)
		if err != nil {
			d.typeError(p, "a duration such as 10s or 2m (a bare number is seconds)", node)
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		if s, ok := d.scalar(node, p, "a string"); ok {
			v.SetString(s)
		}
	case v.Kind() == reflect.Bool:
		s, ok := d.scalar(node, p, "true or false")
		if !ok {
			return
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			d.typeError(p, "true or false", node)
			return
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int:
		s, ok := d.scalar(node, p, "a whole number")
		if !ok {
			return
		}
		n, err := strconv.ParseInt(s, 10, strconv.IntSize)
		if err != nil {
			d.typeError(p, "a whole number", node)
			return
		}
		v.SetInt(n)
	case v.Type() == stringSliceType:
		s, ok := d.scalar(node, p, "a list of strings or a comma-separated string")
		if !ok || s == "" {
			return
		}
		parts := strings.Split(s, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		v.Set(reflect.ValueOf(parts))
	case v.Kind() == reflect.Map:
		d.decodeMap(v, node, p)
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct:
		d.decodePtrStruct(v, node, p, fi)
	case v.Kind() == reflect.Struct:
		if _, ok := entries(node); !ok {
			d.structTypeError(p, v.Type(), node)
			return
		}
		d.decodeStruct(v, node, p)
	default:
		// The model has no other kinds; a new field of another kind must
		// be taught to the decoder.
		d.fail(p, "unsupported field type %s", v.Type())
	}
}

// decodePtrStruct handles *Struct fields, with paerser's allowEmpty rules.
func (d *decoder) decodePtrStruct(v reflect.Value, node any, p keyPath, fi fieldInfo) {
	if vm, ok := node.(*valuedMap); ok && fi.allowEmpty && isDisabling(vm.value) {
		if len(vm.entries) > 0 {
			d.warn(p, "is %q, which disables it, so its other options are ignored", vm.value)
		}
		return
	}
	if m, ok := entries(node); ok {
		if len(m) == 0 && !fi.allowEmpty {
			d.emptyStruct(p, v.Type().Elem())
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decodeStruct(v.Elem(), node, p)
		return
	}
	s, ok := scalarString(node)
	if !ok {
		if l, isList := node.([]any); isList {
			if joined, ok := listString(l); ok {
				s = joined
			} else {
				d.structTypeError(p, v.Type().Elem(), node)
				return
			}
		} else {
			d.structTypeError(p, v.Type().Elem(), node)
			return
		}
	}
	switch {
	case (s == "" || strings.EqualFold(s, "true")) && !fi.allowEmpty:
		d.emptyStruct(p, v.Type().Elem())
	case s == "" || strings.EqualFold(s, "true"):
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
	case fi.allowEmpty:
		// "false" or any other value leaves the option disabled, as in
		// Traefik; say so when the value does not read as false.
		if b, err := strconv.ParseBool(s); err != nil || b {
			d.warn(p, "%s does not enable %s: only true, an empty value or a table of its options do, anything else disables it (as in Traefik)", d.describe(node), p.disp[len(p.disp)-1])
		}
	default:
		d.structTypeError(p, v.Type().Elem(), node)
	}
}

// emptyStruct reports an option block without options that is not
// tagged allowEmpty, which paerser refuses ("cannot be a standalone
// element").
func (d *decoder) emptyStruct(p keyPath, t reflect.Type) {
	var names []string
	for _, f := range traefikFields(t) {
		names = append(names, f.name)
	}
	d.fail(p, "needs its options (%s): an empty %s is not allowed (Traefik refuses it too)", strings.Join(names, ", "), p.disp[len(p.disp)-1])
}

// isDisabling reports whether a scalar given to an allowEmpty option
// disables it (paerser: non-empty and not "true").
func isDisabling(s string) bool { return s != "" && !strings.EqualFold(s, "true") }

// decodeMap handles map[string]*Struct fields (entryPoints,
// certificatesResolvers).
func (d *decoder) decodeMap(v reflect.Value, node any, p keyPath) {
	m, ok := entries(node)
	if !ok {
		d.fail(p, "expected a table of named entries, got %s", d.describe(node))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	elemType := v.Type().Elem() // *T
	for _, name := range sortedKeys(m) {
		val := m[name]
		cp := p.child(name, name)
		if val == nil {
			d.warn(cp, "empty (null) value; ignored, as Traefik ignores it")
			continue
		}
		elem := reflect.New(elemType.Elem())
		if _, isTable := entries(val); isTable {
			d.decodeStruct(elem.Elem(), val, cp)
		} else if s, isScalar := scalarString(val); !isScalar || isDisabling(s) {
			d.structTypeError(cp, elemType.Elem(), val)
			continue
		}
		if elemType.Elem() == resolverType {
			r := elem.Interface().(*CertificateResolver)
			if !d.keepResolver(r, cp) {
				continue
			}
		}
		v.SetMapIndex(reflect.ValueOf(name), elem)
	}
}

// keepResolver decides whether a decoded resolver goes into the result:
// tailscale resolvers and resolvers without acme options are skipped with a
// warning, so every resolver in a Static has a non-nil ACME.
func (d *decoder) keepResolver(r *CertificateResolver, p keyPath) bool {
	ts := d.tailscale[p.String()]
	switch {
	case ts && r.ACME != nil:
		d.fail(p, "acme and tailscale are mutually exclusive in one resolver (as in Traefik); keep one")
		return false
	case ts:
		d.warn(p, "tailscale resolver skipped: only acme resolvers are supported; routers using it keep no certificate from this module")
		return false
	case r.ACME == nil:
		d.warn(p, "resolver without acme options skipped")
		return false
	}
	return true
}

// scalar returns node as a string for a scalar field: scalars are
// formatted, lists of scalars joined with ',' (as paerser does).
func (d *decoder) scalar(node any, p keyPath, expected string) (string, bool) {
	if s, ok := scalarString(node); ok {
		return s, true
	}
	if l, ok := node.([]any); ok {
		if s, ok := listString(l); ok {
			return s, true
		}
	}
	if vm, ok := node.(*valuedMap); ok {
		d.fail(p, "expected %s, but sub-keys were given too (%s)", expected, strings.Join(sortedKeys(vm.entries), ", "))
		return "", false
	}
	d.fail(p, "expected %s, got %s", expected, d.describe(node))
	return "", false
}

func (d *decoder) typeError(p keyPath, expected string, node any) {
	d.fail(p, "expected %s, got %s", expected, d.describe(node))
}

func (d *decoder) structTypeError(p keyPath, t reflect.Type, node any) {
	var names []string
	for _, f := range traefikFields(t) {
		names = append(names, f.name)
	}
	d.fail(p, "expected a table of options (%s), got %s", strings.Join(names, ", "), d.describe(node))
}

// describe names the kind of node for an error, showing scalar values
// unless they may be secret.
func (d *decoder) describe(node any) string {
	switch n := node.(type) {
	case map[string]any, *valuedMap:
		return "a table"
	case []any:
		return "a list"
	case nil:
		return "an empty value"
	default:
		if d.secretDepth > 0 {
			return "(redacted)"
		}
		switch f := n.(type) {
		case float64:
			return strconv.FormatFloat(f, 'g', -1, 64)
		case float32:
			return strconv.FormatFloat(float64(f), 'g', -1, 32)
		}
		s, ok := scalarString(n)
		if !ok {
			return fmt.Sprintf("a value of type %T", n)
		}
		return strconv.Quote(s)
	}
}

// scalarString formats a scalar like paerser's getSimpleValue.
func scalarString(x any) (string, bool) {
	switch v := x.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case json.Number:
		return v.String(), true
	}
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10), true
	case reflect.Float32, reflect.Float64:
		return strings.TrimSuffix(strconv.FormatFloat(rv.Float(), 'f', 6, 64), ".000000"), true
	}
	return "", false
}

// listString joins a list of scalars with ',' (paerser's file loader does
// this for every list); it fails if an element is not a scalar.
func listString(l []any) (string, bool) {
	parts := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := scalarString(e)
		if !ok {
			return "", false
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ","), true
}

// needsInternalEntryPoint reports whether the configuration enables
// something Traefik serves on its internal entry point, so that Traefik
// creates that entry point (SetEffectiveConfiguration): api.insecure, ping
// or metrics.prometheus without manualRouting on the default entry point,
// or providers.rest.insecure.
func needsInternalEntryPoint(tree map[string]any) bool {
	onInternal := func(n any) bool {
		if !enabledNode(n) || boolAt(n, "manualRouting") {
			return false
		}
		ep, ok := childFold(n, "entryPoint")
		if !ok {
			return true
		}
		s, _ := scalarString(ep)
		return s == "" || s == InternalEntryPointName
	}
	if api, ok := childFold(tree, "api"); ok && enabledNode(api) && boolAt(api, "insecure") {
		return true
	}
	if ping, ok := childFold(tree, "ping"); ok && onInternal(ping) {
		return true
	}
	if metrics, ok := childFold(tree, "metrics"); ok {
		if prom, ok := childFold(metrics, "prometheus"); ok && onInternal(prom) {
			return true
		}
	}
	if providers, ok := childFold(tree, "providers"); ok {
		if rest, ok := childFold(providers, "rest"); ok && enabledNode(rest) && boolAt(rest, "insecure") {
			return true
		}
	}
	return false
}

// childFold returns the entry of a table node whose key matches name
// case-insensitively (the last in sorted order, as the decoder keeps it).
func childFold(node any, name string) (any, bool) {
	m, ok := entries(node)
	if !ok {
		return nil, false
	}
	var val any
	found := false
	for _, k := range sortedKeys(m) {
		if strings.EqualFold(k, name) {
			val, found = m[k], true
		}
	}
	return val, found
}

// enabledNode reports whether an allowEmpty option node is enabled: a
// table, "true" or an empty value (paerser's rules; null is skipped).
func enabledNode(n any) bool {
	if vm, ok := n.(*valuedMap); ok {
		return !isDisabling(vm.value)
	}
	if _, ok := entries(n); ok {
		return true
	}
	s, ok := scalarString(n)
	return ok && !isDisabling(s)
}

// boolAt reports whether the table node has key set to true.
func boolAt(n any, key string) bool {
	v, ok := childFold(n, key)
	if !ok {
		return false
	}
	s, _ := scalarString(v)
	b, _ := strconv.ParseBool(s)
	return b
}
