package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
)

// ParseCompose reads Traefik's static configuration from the Traefik
// service of a docker-compose file.
//
// The service is the one named by service, or else the one whose image is
// Traefik (traefik, traefik:v3.1, docker.io/library/traefik…; helper images
// such as traefik/whoami are not), or else the one named "traefik"; the
// error lists the services seen when none or several match.
//
// Values are interpolated as docker compose does, from lookupEnv (nil means
// no variable is set): $$ is a literal $, $VAR and ${VAR} are the value
// (empty, with a warning, when unset), ${VAR:-default} uses default when
// VAR is unset or empty, ${VAR-default} when unset, ${VAR:?message} and
// ${VAR?message} fail, ${VAR:+alt} and ${VAR+alt} give alt when set.
//
// entrypoint and command (a list, or a string split like a shell splits
// it: whitespace, quotes, backslashes) are Traefik's arguments, a leading
// "traefik" skipped; environment (a list of K=V, or a map) is its
// environment. As in Traefik, when there are arguments the flags are the
// configuration and TRAEFIK_* variables are ignored (with a warning);
// otherwise the TRAEFIK_* variables are. A service with neither is an
// error that points at the configuration file it mounts, if any.
//
// It returns the configuration after SetDefaults and Validate, or an error;
// never both.
func ParseCompose(data []byte, service string, lookupEnv func(string) (string, bool)) (*Static, []Warning, error) {
	tree, err := yamlTree(data)
	if err != nil {
		return nil, nil, fmt.Errorf("reading compose file: %w", err)
	}
	s, warns, _, _, err := composeFromTree(tree, service, lookupEnv)
	if err != nil {
		return nil, warns, fmt.Errorf("reading compose file: %w", err)
	}
	return s, warns, nil
}

// isCompose reports whether a YAML tree looks like a compose file: a
// top-level services table.
func isCompose(tree map[string]any) bool {
	_, ok := entries(tree["services"])
	return ok
}

// composeFromTree implements ParseCompose on a parsed tree; it also
// returns which source (flags or env) was used and the service's name.
func composeFromTree(tree map[string]any, service string, lookupEnv func(string) (string, bool)) (*Static, []Warning, Source, string, error) {
	services, ok := entries(tree["services"])
	if !ok {
		return nil, nil, "", "", errors.New("no services section")
	}
	name, err := pickService(services, service, lookupEnv)
	if err != nil {
		return nil, nil, "", "", err
	}
	svcPath := keyPath{disp: []string{"services", name}}
	ip := &interpolator{lookup: lookupEnv, warned: map[string]bool{}}
	raw, _ := entries(services[name])
	svc, err := ip.tree(raw)
	if err != nil {
		return nil, nil, "", name, fmt.Errorf("service %q: %w", name, err)
	}
	warns := ip.warns
	sm, _ := svc.(map[string]any)

	args, err := composeArgs(sm)
	if err != nil {
		return nil, warns, "", name, fmt.Errorf("service %q: %w", name, err)
	}
	environ, err := composeEnviron(sm["environment"], lookupEnv)
	if err != nil {
		return nil, warns, "", name, fmt.Errorf("service %q: environment: %w", name, err)
	}
	if _, ok := sm["env_file"]; ok {
		warns = append(warns, Warning{Path: svcPath.String() + ".env_file", Message: "env_file is not read; TRAEFIK_* variables set there are not seen (move them to environment, or pass them with the flags)"})
	}
	mounted := configMounts(sm["volumes"])

	if len(args) > 0 {
		if len(mounted) > 0 {
			warns = append(warns, Warning{Path: svcPath.String() + ".volumes", Message: fmt.Sprintf(
				"the service mounts %s; when that file exists Traefik reads it and ignores the command flags: if it does, load that file instead", strings.Join(mounted, ", "))})
		}
		if hasEnvConfig(environ) {
			warns = append(warns, Warning{Path: svcPath.String() + ".environment", Message: "TRAEFIK_* variables are ignored because the command has flags, as in Traefik (flags win over env)"})
		}
		s, w, err := decodeArgs(args)
		warns = append(warns, w...)
		if err == nil {
			s, w, err = finish(s, nil)
			warns = append(warns, w...)
		}
		if err != nil {
			return nil, warns, SourceFlags, name, fmt.Errorf("service %q command: %w", name, err)
		}
		return s, warns, SourceFlags, name, nil
	}
	if hasEnvConfig(environ) {
		s, w, err := decodeEnv(environ)
		warns = append(warns, w...)
		if err == nil {
			s, w, err = finish(s, nil)
			warns = append(warns, w...)
		}
		if err != nil {
			return nil, warns, SourceEnv, name, fmt.Errorf("service %q environment: %w", name, err)
		}
		return s, warns, SourceEnv, name, nil
	}
	hint := ""
	if len(mounted) > 0 {
		hint = fmt.Sprintf(" (it mounts %s)", strings.Join(mounted, ", "))
	}
	return nil, warns, "", name, fmt.Errorf("service %q has no Traefik flags in command and no TRAEFIK_* environment variables; its static configuration is probably in a mounted file%s: load that file instead: %w", name, hint, ErrNoConfiguration)
}

// pickService finds the Traefik service.
func pickService(services map[string]any, want string, lookupEnv func(string) (string, bool)) (string, error) {
	names := sortedKeys(services)
	if want != "" {
		if _, ok := services[want]; ok {
			return want, nil
		}
		return "", fmt.Errorf("no service %q; services: %s", want, listOrNone(names))
	}
	ip := &interpolator{lookup: lookupEnv, warned: map[string]bool{}}
	var byImage, byName, byLooseImage []string
	for _, n := range names {
		svc, _ := entries(services[n])
		img, _ := scalarString(svc["image"])
		img, _ = ip.string(img)
		repo := imageRepo(img)
		switch {
		case repo == "traefik":
			byImage = append(byImage, n)
		case n == "traefik":
			byName = append(byName, n)
		case strings.Contains(strings.ToLower(img), "traefik") && !isTraefikHelperImage(img):
			byLooseImage = append(byLooseImage, n)
		}
	}
	for _, c := range [][]string{byImage, byName, byLooseImage} {
		switch len(c) {
		case 0:
			continue
		case 1:
			return c[0], nil
		default:
			return "", fmt.Errorf("several services look like Traefik (%s); name the one to read", strings.Join(c, ", "))
		}
	}
	return "", fmt.Errorf("no Traefik service (none has a traefik image); services: %s; name the one to read", listOrNone(names))
}

// imageRepo returns the last path segment of an image reference, without
// tag or digest: "traefik" for docker.io/library/traefik:v3.1@sha256:….
func imageRepo(img string) string {
	img, _, _ = strings.Cut(img, "@")
	if i := strings.LastIndexByte(img, ':'); i > strings.LastIndexByte(img, '/') {
		img = img[:i]
	}
	return strings.ToLower(path.Base(img))
}

// isTraefikHelperImage reports images of the traefik organisation that are
// not Traefik itself, such as traefik/whoami.
func isTraefikHelperImage(img string) bool {
	repo := imageRepo(img)
	return repo == "whoami" || repo == "mesh" || repo == "traefikee" || strings.HasPrefix(repo, "whoami")
}

// composeArgs builds Traefik's arguments from entrypoint and command.
func composeArgs(svc map[string]any) ([]string, error) {
	entry, err := words(svc["entrypoint"])
	if err != nil {
		return nil, fmt.Errorf("entrypoint: %w", err)
	}
	cmd, err := words(svc["command"])
	if err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	args := append(entry, cmd...)
	if len(args) > 0 && (isTraefikProgram(args[0]) || path.Base(args[0]) == "entrypoint.sh") {
		args = args[1:]
	}
	if len(args) > 0 && isTraefikProgram(args[0]) {
		args = args[1:]
	}
	return args, nil
}

// words turns a compose command or entrypoint into arguments: a list is
// taken as is, a string is split like a shell would.
func words(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := scalarString(e)
			if !ok {
				return nil, fmt.Errorf("item %d is not a string", i)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		s, ok := scalarString(x)
		if !ok {
			return nil, errors.New("expected a string or a list of strings")
		}
		return splitShellWords(s)
	}
}

// composeEnviron turns a compose environment (a list of K=V or K, or a map
// of K: V) into environ entries. A K without a value takes the value of K
// from lookupEnv, as compose does, and is left out when unset.
func composeEnviron(v any, lookupEnv func(string) (string, bool)) ([]string, error) {
	var out []string
	passthrough := func(k string) {
		if lookupEnv == nil {
			return
		}
		if val, ok := lookupEnv(k); ok {
			out = append(out, k+"="+val)
		}
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		for i, e := range x {
			s, ok := scalarString(e)
			if !ok {
				return nil, fmt.Errorf("item %d is not a string", i)
			}
			if _, _, ok := strings.Cut(s, "="); ok {
				out = append(out, s)
			} else {
				passthrough(s)
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if x[k] == nil {
				passthrough(k)
				continue
			}
			s, ok := scalarString(x[k])
			if !ok {
				return nil, fmt.Errorf("%s: expected a string value", k)
			}
			out = append(out, k+"="+s)
		}
	default:
		return nil, errors.New("expected a list of K=V or a map")
	}
	return out, nil
}

// configMounts lists the volumes of a service that put a Traefik static
// configuration file where Traefik looks for one by default.
func configMounts(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		var src, dst string
		switch x := e.(type) {
		case string:
			parts := strings.Split(x, ":")
			if len(parts) < 2 {
				continue
			}
			src, dst = parts[0], parts[1]
		case map[string]any:
			src, _ = scalarString(x["source"])
			dst, _ = scalarString(x["target"])
		}
		dst = path.Clean(dst)
		base := path.Base(dst)
		dir := path.Dir(dst)
		isFile := strings.HasPrefix(base, "traefik.") && (strings.HasSuffix(base, ".yml") || strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".toml"))
		if (isFile && (dir == "/etc/traefik" || dir == "/")) || dst == "/etc/traefik" {
			out = append(out, fmt.Sprintf("%s at %s", src, dst))
		}
	}
	sort.Strings(out)
	return out
}

// interpolator resolves compose ${VAR} expressions.
type interpolator struct {
	lookup func(string) (string, bool)
	warned map[string]bool
	warns  []Warning
}

func (ip *interpolator) get(name string) (string, bool) {
	if ip.lookup == nil {
		return "", false
	}
	return ip.lookup(name)
}

// tree interpolates every string value (not the keys) of a tree.
func (ip *interpolator) tree(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return ip.string(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := ip.tree(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := ip.tree(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	return v, nil
}

// string interpolates one value. Errors name the variable, never the
// value, which may hold a secret.
func (ip *interpolator) string(s string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch n := s[i+1]; {
		case n == '$':
			b.WriteByte('$')
			i += 2
		case n == '{':
			end := matchBrace(s, i+2)
			if end < 0 {
				return "", errors.New("unterminated ${ in a value")
			}
			val, err := ip.expr(s[i+2 : end])
			if err != nil {
				return "", err
			}
			b.WriteString(val)
			i = end + 1
		case isNameByte(n, true):
			j := i + 1
			for j < len(s) && isNameByte(s[j], false) {
				j++
			}
			b.WriteString(ip.variable(s[i+1 : j]))
			i = j
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), nil
}

// variable returns the value of name, warning once when it is unset.
func (ip *interpolator) variable(name string) string {
	v, ok := ip.get(name)
	if !ok && !ip.warned[name] {
		ip.warned[name] = true
		ip.warns = append(ip.warns, Warning{Path: "${" + name + "}", Message: "variable is not set; using an empty string, as docker compose does"})
	}
	return v
}

// expr evaluates the inside of ${…}.
func (ip *interpolator) expr(e string) (string, error) {
	j := 0
	for j < len(e) && isNameByte(e[j], j == 0) {
		j++
	}
	name, rest := e[:j], e[j:]
	if name == "" {
		return "", errors.New("invalid interpolation: ${ must start with a variable name")
	}
	if rest == "" {
		return ip.variable(name), nil
	}
	val, set := ip.get(name)
	for _, op := range []string{":-", ":?", ":+", "-", "?", "+"} {
		if !strings.HasPrefix(rest, op) {
			continue
		}
		arg := rest[len(op):]
		useEmpty := strings.HasPrefix(op, ":") // ':' also treats empty as unset
		present := set && (!useEmpty || val != "")
		switch op[len(op)-1] {
		case '-':
			if present {
				return val, nil
			}
			return ip.string(arg)
		case '?':
			if present {
				return val, nil
			}
			msg, err := ip.string(arg)
			if err != nil {
				return "", err
			}
			return "", fmt.Errorf("required variable %s is missing a value: %s", name, msg)
		case '+':
			if present {
				return ip.string(arg)
			}
			return "", nil
		}
	}
	return "", fmt.Errorf("invalid interpolation format for ${%s…}", name)
}

// matchBrace returns the index of the '}' closing a ${ whose body starts at
// i, allowing nested ${…} in defaults, or -1.
func matchBrace(s string, i int) int {
	depth := 1
	for j := i; j < len(s); j++ {
		switch {
		case s[j] == '$' && j+1 < len(s) && s[j+1] == '{':
			depth++
			j++
		case s[j] == '}':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// splitShellWords splits s into words as a POSIX shell does, without
// expansions: words are separated by blanks; '…' quotes everything; "…"
// quotes everything but \" \\ \$ \` and backslash-newline; a backslash
// outside quotes quotes the next character (backslash-newline joins
// lines). Quotes are removed, so --email="a@b" gives --email=a@b.
func splitShellWords(s string) ([]string, error) {
	var (
		out    []string
		cur    strings.Builder
		inWord bool
	)
	emit := func() {
		if inWord {
			out = append(out, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			emit()
		case '\\':
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					cur.WriteByte(s[i])
					inWord = true
				}
			}
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			inWord = true
			i += end + 1
		case '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
					if s[i] != '\n' {
						cur.WriteByte(s[i])
					}
					continue
				}
				cur.WriteByte(s[i])
			}
			if !closed {
				return nil, errors.New("unterminated double quote")
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	emit()
	return out, nil
}

// withDotEnv returns a lookup that asks lookup first and then the
// variables of the .env file at path (docker compose's project .env), if
// it exists and parses.
func withDotEnv(lookup func(string) (string, bool), path string) func(string) (string, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return lookup
	}
	vars := parseDotEnv(data)
	return func(k string) (string, bool) {
		if v, ok := lookup(k); ok {
			return v, true
		}
		v, ok := vars[k]
		return v, ok
	}
}

// parseDotEnv reads KEY=VALUE lines: blank lines and # comments are
// skipped, an optional "export " prefix is allowed, values may be quoted
// ('…' literal, "…" with \n \" \\ escapes); an unquoted value ends at " #".
func parseDotEnv(data []byte) map[string]string {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
			v = v[1 : len(v)-1]
		case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
			v = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(v[1 : len(v)-1])
		default:
			if i := strings.Index(v, " #"); i >= 0 {
				v = strings.TrimSpace(v[:i])
			}
		}
		vars[k] = v
	}
	return vars
}
