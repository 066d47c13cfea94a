package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// This file reads the two flat sources, CLI flags and TRAEFIK_* env vars,
// with the rules of Traefik's paerser (flag/flagparser.go, env/env.go,
// env/filter.go, parser/labels_decode.go), and turns them into the tree
// the decoder reads.

// flatSet collects flat keys ("certificatesresolvers.le.acme.email") with
// their values and the flag or env var each came from.
type flatSet struct {
	values  map[string]string // key as first spelled -> value
	neutral map[string]string // lower-case key -> key as first spelled
	origins map[string]string // lower-case key -> flag or env var name
	order   []string          // keys as first spelled, in insertion order
}

func newFlatSet() *flatSet {
	return &flatSet{values: map[string]string{}, neutral: map[string]string{}, origins: map[string]string{}}
}

// set stores key=value like paerser's flagSet.setValue: the first spelling
// of a key is kept, a repeated slice option appends with ',', anything
// else is overwritten.
func (f *flatSet) set(key, value, origin string, appendSlice bool) {
	lk := strings.ToLower(key)
	k, ok := f.neutral[lk]
	if !ok {
		f.neutral[lk] = key
		f.origins[lk] = origin
		f.order = append(f.order, key)
		f.values[key] = value
		return
	}
	if appendSlice {
		f.values[k] += "," + value
		return
	}
	f.values[k] = value
	f.origins[lk] = origin
}

// originOf returns the flag or env var that set the raw path, or the first
// one that set a key below it.
func (f *flatSet) originOf(raw []string) string {
	lk := strings.ToLower(strings.Join(raw, "."))
	if o, ok := f.origins[lk]; ok {
		return o
	}
	var best string
	for k, o := range f.origins {
		if strings.HasPrefix(k, lk+".") && (best == "" || o < best) {
			best = o
		}
	}
	return best
}

// flatNode is a node of paerser's label tree (parser.Node).
type flatNode struct {
	name     string
	value    string
	hasValue bool
	children []*flatNode
	index    map[string]*flatNode // lower-case name -> child
}

// child returns the child named name, matched case-insensitively, adding
// it if needed.
func (n *flatNode) child(name string) *flatNode {
	lk := strings.ToLower(name)
	if c, ok := n.index[lk]; ok {
		return c
	}
	c := &flatNode{name: name}
	if n.index == nil {
		n.index = map[string]*flatNode{}
	}
	n.index[lk] = c
	n.children = append(n.children, c)
	return c
}

func (n *flatNode) tree() any {
	if len(n.children) == 0 {
		return n.value
	}
	m := make(map[string]any, len(n.children))
	for _, c := range n.children {
		m[c.name] = c.tree()
	}
	if n.hasValue {
		return &valuedMap{value: n.value, entries: m}
	}
	return m
}

// toTree builds the tree of the keys this package reads, like paerser's
// DecodeToNode: keys sorted, split on '.', and path segments merged
// case-insensitively (the first spelling in sorted order names the node,
// so resolver names that differ only in case are one resolver). Keys of
// other Traefik sections are dropped; keys of unknown sections produce a
// warning.
func (f *flatSet) toTree(d *decoder) map[string]any {
	root := &flatNode{}
	keys := make([]string, 0, len(f.values))
	for k := range f.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	warned := map[string]bool{}
	for _, key := range keys {
		segs := strings.Split(key, ".")
		top := segs[0]
		switch {
		case strings.EqualFold(top, "entryPoints"), strings.EqualFold(top, "certificatesResolvers"), strings.EqualFold(top, "acme"):
		case containsFold(v1KVRoots, top):
			d.v1KV = true
			continue
		case containsFold(internalEntryPointRoots, top):
			// Kept: they decide whether Traefik creates its internal
			// entry point; the decoder ignores them otherwise.
		case containsFold(traefikRoots, top), containsFold(flagOnlyRoots, top):
			continue
		default:
			if !warned[strings.ToLower(top)] {
				warned[strings.ToLower(top)] = true
				o := f.origins[strings.ToLower(key)]
				d.warn(keyPath{disp: []string{top}}, "%s is not a Traefik static option; ignored%s", o,
					didYouMean(top, append([]string{"entryPoints", "certificatesResolvers"}, traefikRoots...)))
			}
			continue
		}
		if containsEmpty(segs) {
			d.errs = append(d.errs, &KeyError{Path: key, Origin: f.origins[strings.ToLower(key)], Message: "invalid key: empty segment between dots"})
			continue
		}
		n := root
		for _, s := range segs {
			n = n.child(s)
		}
		n.value, n.hasValue = f.values[key], true
	}
	m := map[string]any{}
	for _, c := range root.children {
		m[c.name] = c.tree()
	}
	return m
}

func containsEmpty(segs []string) bool {
	for _, s := range segs {
		if s == "" {
			return true
		}
	}
	return false
}

// flagKind is what paerser's getFlagTypes knows about a flag: whether it
// takes no value (bool, struct pointer), appends (slice), takes a value,
// or is unknown to this package.
type flagKind int

const (
	kindUnknown flagKind = iota
	kindValue
	kindBool
	kindPtr
	kindSlice
)

// kindOf returns the kind of the option at the dotted name, walking the
// model's traefik tags (map keys are free names).
func kindOf(name string) flagKind {
	segs := strings.Split(name, ".")
	t := staticType
	for i := 0; i < len(segs); i++ {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return kindUnknown
		}
		f, ok := findField(traefikFields(t), segs[i])
		if !ok {
			return kindUnknown
		}
		ft := t.Field(f.index).Type
		if ft.Kind() == reflect.Map {
			if i+1 >= len(segs) {
				return kindValue
			}
			i++ // the map key
			ft = ft.Elem()
			if i+1 == len(segs) {
				// Traefik's certificatesResolvers holds resolver values,
				// not pointers: a resolver name alone takes a value.
				if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct && ft.Elem() != resolverType {
					return kindPtr
				}
				return kindValue
			}
		}
		if i+1 == len(segs) {
			switch {
			case ft.Kind() == reflect.Bool:
				return kindBool
			case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
				return kindPtr
			case ft.Kind() == reflect.Slice:
				return kindSlice
			}
			return kindValue
		}
		t = ft
	}
	return kindUnknown
}

// isSecretOption reports whether the option at the dotted name, or a block
// holding it, is tagged secret (eab.hmacEncoded): its value is never shown.
func isSecretOption(name string) bool {
	t := staticType
	segs := strings.Split(name, ".")
	for i := 0; i < len(segs); i++ {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Map {
			if t.Kind() == reflect.Map {
				i++ // the map key
				if i >= len(segs) {
					return false
				}
			}
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		f, ok := findField(traefikFields(t), segs[i])
		if !ok {
			return false
		}
		if f.secret {
			return true
		}
		t = t.Field(f.index).Type
	}
	return false
}

// readAsSwitch reports whether Traefik's flag parser reads the option at
// the dotted name as a switch when it is given without '=': paerser's
// getFlagType matches names against patterns such as
// certificatesresolvers.<name>.acme and entrypoints.<name> (pointers to
// structs, which take no value) without anchoring them, so every option
// below a resolver's acme block or an entry point matches one.
func readAsSwitch(name string) bool {
	segs := strings.Split(strings.ToLower(name), ".")
	switch {
	case segs[0] == "entrypoints":
		return len(segs) >= 3
	case segs[0] == "certificatesresolvers":
		return len(segs) >= 4 && (strings.HasPrefix(segs[2], "acme") || strings.HasPrefix(segs[2], "tailscale"))
	}
	return false
}

// inOurSections reports whether a flag name belongs to a section this
// package reads (where unknown names are errors, not Traefik options we
// skip).
func inOurSections(name string) bool {
	top, _, _ := strings.Cut(name, ".")
	return strings.EqualFold(top, "entryPoints") || strings.EqualFold(top, "certificatesResolvers")
}

// ParseArgs reads Traefik's static configuration from command-line
// arguments, as Traefik's flag loader does (traefik/paerser flag package):
//
//   - args are the arguments without the program name; a leading "traefik"
//     (or a path ending in /traefik) is skipped;
//   - "--name=value" and "-name=value" are accepted. Without '=', a bool
//     option or a struct option (such as
//     --certificatesresolvers.le.acme.tlschallenge) means true; so does
//     every other option below a resolver's acme block or an entry point,
//     as in Traefik (paerser matches it against the pointer type of that
//     block): --certificatesresolvers.le.acme.email a@x sets the email to
//     "true", and "a@x" is a stray argument that ends the flags (a warning
//     says so). A list option there (dnschallenge.resolvers) takes the next
//     argument as its value, which is one of the two readings Traefik picks
//     between at random (a warning says so). "--" ends the flags, and so
//     does the first argument that is not a flag (Traefik ignores the
//     rest; a warning says so). Traefik knows the type of every flag; this
//     package only those it reads, so a flag of another section given
//     without "=" (--log.level DEBUG, --api.insecure) takes the next
//     argument as its value unless that one starts with '-';
//   - field names match case-insensitively, resolver and entry point names
//     keep the case they were typed in (two spellings of one name are one
//     resolver, named by the first in sorted order);
//   - a repeated slice option appends (--…resolvers=a --…resolvers=b gives
//     [a b]), other repeated options keep the last value;
//   - values are taken literally: quotes are not removed (a shell removes
//     them before Traefik sees them; compose list items keep them, and a
//     warning flags such values);
//   - flags of other Traefik sections (--providers.docker, --log.level,
//     --api.insecure, --configFile …) are ignored; flags of unknown sections
//     produce a warning.
//
// It returns the configuration after SetDefaults and Validate, or an error
// for what Traefik refuses too; never both. Resolvers that fail Validate are
// kept, with their errors in Static.Problems.
func ParseArgs(args []string) (*Static, []Warning, error) {
	s, warns, err := decodeArgs(args)
	if err != nil {
		return nil, warns, err
	}
	return finish(s, warns)
}

// decodeArgs is ParseArgs without defaults and validation.
func decodeArgs(args []string) (*Static, []Warning, error) {
	fs, warns, err := parseFlags(args)
	if err != nil {
		return nil, warns, fmt.Errorf("reading flags: %w", err)
	}
	d := newDecoder(srcFlags, fs.originOf)
	d.warns = warns
	return decodeFlat(d, fs, "flags")
}

// parseFlags splits args into flat keys like paerser's flagSet.parseOne.
func parseFlags(args []string) (*flatSet, []Warning, error) {
	fs := newFlatSet()
	var warns []Warning
	if len(args) > 0 && isTraefikProgram(args[0]) {
		args = args[1:]
	}
	// secretNext is set when the next argument is the value of a secret
	// option given without '=', which must not be shown in a warning.
	secretNext := false
	for len(args) > 0 {
		s := args[0]
		if len(s) < 2 || s[0] != '-' {
			shown := strconv.Quote(s)
			if secretNext {
				shown = "(redacted)"
			}
			warns = append(warns, Warning{Path: "flags", Message: fmt.Sprintf(
				"argument %s is not a flag: Traefik stops reading flags there, so it and the %d arguments after it are ignored", shown, len(args)-1)})
			break
		}
		secretNext = false
		dashes := 1
		if s[1] == '-' {
			dashes = 2
			if len(s) == 2 { // "--" ends the flags
				break
			}
		}
		name := s[dashes:]
		if name == "" || name[0] == '-' || name[0] == '=' {
			shown, _, _ := strings.Cut(s, "=")
			return nil, warns, fmt.Errorf("bad flag syntax: %s", shown)
		}
		args = args[1:]
		value, hasValue := "", false
		if i := strings.IndexByte(name[1:], '='); i >= 0 {
			name, value, hasValue = name[:i+1], name[i+2:], true
		}
		kind := kindOf(name)
		if !hasValue {
			switch {
			case kind == kindBool || kind == kindPtr:
				value, hasValue = "true", true
			case kind == kindValue && readAsSwitch(name):
				// paerser matches the flag against its type table with
				// an unanchored pattern, and every option below a
				// resolver's acme or an entry point matches the
				// pointer type of that block: it reads "true".
				value, hasValue = "true", true
				next := "nothing"
				if len(args) > 0 {
					next = fmt.Sprintf("the next argument, %q,", args[0])
					if isSecretOption(name) {
						next, secretNext = "the next argument", true
					}
				}
				warns = append(warns, Warning{Path: name, Message: fmt.Sprintf(
					"%s has no '=': Traefik reads it as %s=true, and %s is not its value; write %s=<value>", s, s, next, s)})
			case kind == kindSlice && readAsSwitch(name) && len(args) > 0 && !strings.HasPrefix(args[0], "-"):
				warns = append(warns, Warning{Path: name, Message: fmt.Sprintf(
					"%s has no '=': Traefik reads it either as %s=true (and stops reading flags at %q) or with %q as its value, depending on the order of a Go map; %q is taken as its value here; write %s=%s", s, s, args[0], args[0], args[0], s, args[0])})
				value, hasValue, args = args[0], true, args[1:]
			case kind == kindUnknown && (len(args) == 0 || strings.HasPrefix(args[0], "-")):
				// An option this package does not know (another Traefik
				// section, or a typo): Traefik knows its type, we do not.
				// Followed by another flag or nothing, it is a bool.
				value, hasValue = "true", true
			case len(args) > 0:
				value, hasValue, args = args[0], true, args[1:]
			}
		}
		if !hasValue {
			return nil, warns, fmt.Errorf("flag needs an argument: -%s", name)
		}
		if strings.EqualFold(name, "configFile") {
			warns = append(warns, Warning{Path: "configFile", Message: fmt.Sprintf(
				"--configFile=%s: Traefik reads its static configuration from that file and ignores the other flags; load the file instead", value)})
			continue
		}
		if inOurSections(name) && len(value) >= 2 && (value[0] == '"' && value[len(value)-1] == '"' || value[0] == '\'' && value[len(value)-1] == '\'') {
			warns = append(warns, Warning{Path: name, Message: "value is wrapped in quotes, which Traefik keeps as part of the value (no shell removed them); remove the quotes"})
		}
		fs.set(name, value, s[:dashes]+name, kind == kindSlice)
	}
	return fs, warns, nil
}

// isTraefikProgram reports whether arg is the traefik program itself (as in
// a compose command "traefik --entrypoints…").
func isTraefikProgram(arg string) bool {
	return arg == "traefik" || strings.HasSuffix(arg, "/traefik")
}

// internalEntryPointRoots are the sections that can make Traefik create
// its internal entry point (see needsInternalEntryPoint).
var internalEntryPointRoots = []string{"api", "ping", "metrics", "providers"}

// traefikRootFieldNames are the Go field names of Traefik's static
// Configuration, upper-cased, as paerser's env.FindPrefixedEnvVars builds
// its prefixes from them.
var traefikRootFieldNames = []string{
	"GLOBAL", "SERVERSTRANSPORT", "TCPSERVERSTRANSPORT", "ENTRYPOINTS", "PROVIDERS",
	"API", "METRICS", "PING", "LOG", "ACCESSLOG", "TRACING", "HOSTRESOLVER",
	"CERTIFICATESRESOLVERS", "EXPERIMENTAL", "CORE", "SPIFFE", "OCSP", "PILOT",
}

// envPrefix is Traefik's env var prefix.
const envPrefix = "TRAEFIK_"

// isTraefikEnv reports whether the environ entry is one Traefik reads:
// paerser first keeps entries that start, case-sensitively, with
// TRAEFIK_<SECTION> for a section of the static configuration.
func isTraefikEnv(entry string) bool {
	for _, r := range traefikRootFieldNames {
		if strings.HasPrefix(entry, envPrefix+r) {
			return true
		}
	}
	return false
}

// hasEnvConfig reports whether Traefik's env loader would find
// configuration in environ.
func hasEnvConfig(environ []string) bool {
	for _, e := range environ {
		if isTraefikEnv(e) {
			return true
		}
	}
	return false
}

// ParseEnv reads Traefik's static configuration from environment
// variables, given as KEY=VALUE strings (os.Environ), as Traefik's env
// loader does (traefik/paerser env package):
//
//   - only variables that start with TRAEFIK_ followed by the upper-case
//     name of a static configuration section are read (TRAEFIK_LOG_LEVEL,
//     TRAEFIK_CERTIFICATESRESOLVERS_…); a lower-case traefik_… variable is
//     ignored, with a warning;
//   - the name is lower-cased and every '_' becomes a '.', so
//     TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_EMAIL is
//     certificatesresolvers.le.acme.email. Resolver and entry point names
//     therefore come out lower-case and cannot contain '_': an underscore
//     starts a new level, and the error says so;
//   - slices are comma-separated; an allowEmpty option (tlsChallenge …) is
//     enabled by "true" or an empty value;
//   - variables of other sections (TRAEFIK_LOG_LEVEL, TRAEFIK_PROVIDERS_…)
//     are ignored; TRAEFIK_ACME_* (Traefik v1 style) produce a warning.
//
// It returns the configuration after SetDefaults and Validate, or an error
// for what Traefik refuses too; never both. Resolvers that fail Validate are
// kept, with their errors in Static.Problems.
func ParseEnv(environ []string) (*Static, []Warning, error) {
	s, warns, err := decodeEnv(environ)
	if err != nil {
		return nil, warns, err
	}
	return finish(s, warns)
}

// decodeEnv is ParseEnv without defaults and validation.
func decodeEnv(environ []string) (*Static, []Warning, error) {
	fs := newFlatSet()
	var warns []Warning
	for _, e := range environ {
		name, value, ok := strings.Cut(e, "=")
		if !ok {
			continue
		}
		upper := strings.ToUpper(name)
		if !strings.HasPrefix(upper, envPrefix) {
			continue
		}
		if !isTraefikEnv(e) {
			switch {
			case strings.HasPrefix(upper, envPrefix+"ACME_"):
				warns = append(warns, Warning{Path: name, Message: "Traefik v1-style variable; Traefik v2+ ignores it: use TRAEFIK_CERTIFICATESRESOLVERS_<NAME>_ACME_<OPTION>"})
			case isTraefikEnv(upper + "="):
				warns = append(warns, Warning{Path: name, Message: "ignored: Traefik only reads variables spelled TRAEFIK_<SECTION>… in upper case"})
			}
			continue
		}
		key := strings.ReplaceAll(strings.ToLower(name[len(envPrefix):]), "_", ".")
		fs.set(key, value, name, false)
	}
	d := newDecoder(srcEnv, fs.originOf)
	d.warns = warns
	return decodeFlat(d, fs, "environment variables")
}

// decodeFlat builds the tree of a flat source and decodes it.
func decodeFlat(d *decoder, fs *flatSet, what string) (*Static, []Warning, error) {
	tree := fs.toTree(d)
	s := d.decodeStatic(tree)
	if err := d.err(); err != nil {
		return nil, d.warns, fmt.Errorf("reading %s: %w", what, err)
	}
	return s, d.warns, nil
}
