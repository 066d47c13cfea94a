package routers

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"unicode"
)

// ComposeOptions tune how a compose file's labels are read.
type ComposeOptions struct {
	// Path is the compose file's path: it names the file in messages and,
	// when the file has no top-level name, its directory is the project
	// name, as docker compose does.
	Path string
	// Project is the compose project name. Default: the file's top-level
	// name, else the name of the directory holding Path.
	Project string
	// LookupEnv resolves ${VAR} in labels. Default: no variable is set.
	LookupEnv func(string) (string, bool)
}

// ParseCompose reads the routers and services that Traefik's Docker
// provider would build from the labels of a compose file's services
// (traefik.http.routers.<r>.rule, ….tls.certresolver, ….tls.domains[n].main
// and .sans, traefik.tcp.routers.…, traefik.http.services.<s>.loadbalancer
// .server.port …), with the provider's rules: docker is
// providers.docker, whose exposedByDefault decides whether a service
// without traefik.enable=true is read, and whose defaultRule (a Go
// template with normalize, .Name, .ContainerName and .Labels) is the rule
// of a router without one. A service that defines no router gets one named
// after it, as in Traefik.
func ParseCompose(data []byte, docker *DockerProvider, opts ComposeOptions) (*Dynamic, error) {
	if docker == nil {
		docker = &DockerProvider{ExposedByDefault: true, DefaultRule: DefaultDockerRule}
	}
	if docker.DefaultRule == "" {
		docker.DefaultRule = DefaultDockerRule
	}
	where := "compose file"
	if opts.Path != "" {
		where = "compose file " + opts.Path
	}
	tree, err := yamlTree(data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", where, err)
	}
	services, ok := tree["services"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("reading %s: no services section", where)
	}
	project := opts.Project
	if project == "" {
		project, _ = tree["name"].(string)
	}
	if project == "" && opts.Path != "" {
		abs, err := filepath.Abs(opts.Path)
		if err == nil {
			project = filepath.Base(filepath.Dir(abs))
		}
	}
	project = composeProjectName(project)
	tmpl, err := template.New("defaultRule").Funcs(template.FuncMap{"normalize": Normalize}).Parse(docker.DefaultRule)
	if err != nil {
		return nil, fmt.Errorf("providers.docker.defaultRule: %w", err)
	}
	dyn := &Dynamic{Services: map[string]Service{}}
	if docker.Constraints != "" {
		dyn.Warnings = append(dyn.Warnings, Warning{Where: "providers.docker.constraints", Message: "constraints are not evaluated: every service that passes exposedByDefault/traefik.enable is read"})
	}
	for _, svcName := range sortedKeys(services) {
		svc, _ := services[svcName].(map[string]any)
		src := fmt.Sprintf("service %q of %s", svcName, where)
		labels, err := composeLabels(svc["labels"], opts.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("%s: labels: %w", src, err)
		}
		enable, set := labelValue(labels, "traefik.enable")
		switch {
		case set && !isTrue(enable):
			continue
		case !set && !docker.ExposedByDefault:
			continue
		}
		if isTraefikImage(svc) {
			dyn.Warnings = append(dyn.Warnings, Warning{Where: src, Message: "the Traefik service itself is exposed too, so Traefik would build a router for it with the default rule; it is not read here"})
			continue
		}
		containerName, _ := svc["container_name"].(string)
		if containerName == "" {
			containerName = project + "-" + svcName + "-1"
		}
		d, err := containerConfig(svcName, project, containerName, svc, labels, tmpl, src)
		if err != nil {
			return nil, err
		}
		dyn.Merge(d)
	}
	return dyn, nil
}

// StaticFromCompose reads providers and entry points from the command
// flags, or else the TRAEFIK_* environment, of the compose service whose
// image is Traefik's (or the one named service, when not empty). It
// returns nil when no service runs Traefik.
func StaticFromCompose(data []byte, service string) (*Static, error) {
	tree, err := yamlTree(data)
	if err != nil {
		return nil, fmt.Errorf("reading compose file: %w", err)
	}
	services, _ := tree["services"].(map[string]any)
	for _, name := range sortedKeys(services) {
		svc, _ := services[name].(map[string]any)
		if service != "" && name != service || service == "" && !isTraefikImage(svc) {
			continue
		}
		var args []string
		for _, key := range []string{"entrypoint", "command"} {
			switch v := svc[key].(type) {
			case string:
				args = append(args, strings.Fields(v)...)
			case []any:
				for _, e := range v {
					s, _ := scalar(e)
					args = append(args, s)
				}
			}
		}
		if len(args) > 0 && (args[0] == "traefik" || strings.HasSuffix(args[0], "/traefik")) {
			args = args[1:]
		}
		if len(args) > 0 {
			return StaticFromArgs(args)
		}
		var environ []string
		switch v := svc["environment"].(type) {
		case []any:
			for _, e := range v {
				s, _ := scalar(e)
				environ = append(environ, s)
			}
		case map[string]any:
			for _, k := range sortedKeys(v) {
				s, _ := scalar(v[k])
				environ = append(environ, k+"="+s)
			}
		}
		return StaticFromEnv(environ)
	}
	return nil, nil
}

func isTraefikImage(svc map[string]any) bool {
	img, _ := svc["image"].(string)
	img, _, _ = strings.Cut(img, "@")
	if i := strings.LastIndexByte(img, ':'); i > strings.LastIndexByte(img, '/') {
		img = img[:i]
	}
	switch img {
	case "traefik", "library/traefik", "docker.io/traefik", "docker.io/library/traefik", "traefik/traefik":
		return true
	}
	return false
}

// Normalize is Traefik's provider.Normalize: every run of characters that
// are neither letters nor digits becomes one '-', and leading and trailing
// ones are dropped.
func Normalize(name string) string {
	return strings.Join(strings.FieldsFunc(name, func(c rune) bool {
		return !unicode.IsLetter(c) && !unicode.IsNumber(c)
	}), "-")
}

// composeProjectName lower-cases a project name and keeps the characters
// docker compose allows (a-z, 0-9, '_', '-').
func composeProjectName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// composeLabels reads a service's labels: a list of key=value or a table.
func composeLabels(v any, lookup func(string) (string, bool)) (map[string]string, error) {
	out := map[string]string{}
	switch x := v.(type) {
	case nil:
	case []any:
		for _, e := range x {
			s, ok := scalar(e)
			if !ok {
				return nil, fmt.Errorf("expected key=value strings, found %s", kindOf(e))
			}
			k, val, _ := strings.Cut(s, "=")
			out[strings.TrimSpace(k)] = val
		}
	case map[string]any:
		for k, e := range x {
			s, _ := scalar(e)
			out[k] = s
		}
	default:
		return nil, fmt.Errorf("expected a list or a table, found %s", kindOf(v))
	}
	for k, val := range out {
		s, err := interpolate(val, lookup)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// interpolate expands $VAR, ${VAR}, ${VAR:-default}, ${VAR-default} and
// $$ as docker compose does; an unset variable is empty.
func interpolate(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch n := s[i+1]; {
		case n == '$':
			b.WriteByte('$')
			i++
		case n == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ in %q", s)
			}
			expr := s[i+2 : i+end]
			name, def, mode := expr, "", ""
			for _, m := range []string{":-", "-"} {
				if j := strings.Index(expr, m); j > 0 {
					name, def, mode = expr[:j], expr[j+len(m):], m
					break
				}
			}
			v, ok := lookup(name)
			switch {
			case mode == ":-" && v == "", mode == "-" && !ok:
				v = def
			}
			b.WriteString(v)
			i += end
		case n == '_' || unicode.IsLetter(rune(n)):
			j := i + 1
			for j < len(s) && (s[j] == '_' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			v, _ := lookup(s[i+1 : j])
			b.WriteString(v)
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func labelValue(labels map[string]string, key string) (string, bool) {
	for k, v := range labels {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func isTrue(s string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	return err == nil && b
}

// labelTree turns traefik.* labels into a dynamic configuration tree:
// traefik.http.routers.r.tls.domains[0].main=x becomes
// http.routers.r.tls.domains[0].main.
func labelTree(labels map[string]string) map[string]any {
	var pairs [][2]string
	for _, k := range sortedKeys(labels) {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "traefik.") {
			continue
		}
		rest := k[len("traefik."):]
		sec, _, _ := strings.Cut(strings.ToLower(rest), ".")
		if sec != "http" && sec != "tcp" && sec != "udp" && sec != "tls" {
			continue
		}
		pairs = append(pairs, [2]string{strings.NewReplacer("[", ".", "]", "").Replace(rest), labels[k]})
	}
	return flatTree(pairs)
}

// containerConfig builds one service's routers and services as Traefik's
// Docker provider does.
func containerConfig(svcName, project, containerName string, svc map[string]any, labels map[string]string, tmpl *template.Template, src string) (*Dynamic, error) {
	name := Normalize(svcName + "_" + project)
	tree := labelTree(labels)
	dyn := &Dynamic{Services: map[string]Service{}}
	if err := dyn.addTree(tree, "docker", src); err != nil {
		return nil, err
	}
	tcpRouters, httpRouters := 0, 0
	for _, r := range dyn.Routers {
		if r.Protocol == TCP {
			tcpRouters++
		} else {
			httpRouters++
		}
	}
	httpSvcs := table(table(tree, "http"), "services")
	tcpOrUDP := tcpRouters > 0 || table(table(tree, "tcp"), "services") != nil || table(tree, "udp") != nil
	buildHTTP := !tcpOrUDP || httpRouters > 0 || httpSvcs != nil || table(table(tree, "http"), "middlewares") != nil
	for _, s := range sortedKeys(table(table(tree, "tcp"), "services")) {
		m, _ := table(table(tree, "tcp"), "services")[s].(map[string]any)
		port, _ := str(table(m, "loadBalancer", "server"), "port")
		if port == "" {
			port = "80"
		}
		dyn.Services["tcp:"+s+"@docker"] = Service{Name: s + "@docker", URLs: []string{svcName + ":" + port}, Kind: "loadBalancer"}
	}
	tcpSvcs := sortedKeys(table(table(tree, "tcp"), "services"))
	for _, r := range dyn.Routers {
		if r.Protocol == TCP && r.Service == "" && len(tcpSvcs) == 1 {
			r.Service = tcpSvcs[0] + "@docker"
		}
	}
	if !buildHTTP {
		return dyn, nil
	}
	// The default service, named after the container, when labels define
	// none; its server is the container at its port.
	if len(httpSvcs) == 0 {
		url, note := containerURL(svcName, svc, "", "")
		dyn.Services["http:"+name+"@docker"] = Service{Name: name + "@docker", URLs: []string{url}, Kind: "loadBalancer"}
		if note != "" {
			dyn.Warnings = append(dyn.Warnings, Warning{Where: src, Message: note})
		}
	} else {
		for _, s := range sortedKeys(httpSvcs) {
			m, _ := httpSvcs[s].(map[string]any)
			server := table(m, "loadBalancer", "server")
			port, _ := str(server, "port")
			scheme, _ := str(server, "scheme")
			url, note := containerURL(svcName, svc, port, scheme)
			key := "http:" + s + "@docker"
			dyn.Services[key] = Service{Name: s + "@docker", URLs: []string{url}, Kind: "loadBalancer"}
			if note != "" {
				dyn.Warnings = append(dyn.Warnings, Warning{Where: src, Message: note})
			}
		}
	}
	if httpRouters == 0 {
		if len(httpSvcs) > 1 {
			dyn.Warnings = append(dyn.Warnings, Warning{Where: src, Message: "no router and several services: Traefik cannot create the default router (too many services), so none is read"})
			return dyn, nil
		}
		dyn.Routers = append(dyn.Routers, &Router{Name: name + "@docker", Protocol: HTTP, Source: src})
	}
	model := struct {
		Name          string
		ContainerName string
		Labels        map[string]string
	}{Name: name, ContainerName: containerName, Labels: labels}
	for _, r := range dyn.Routers {
		if r.Protocol != HTTP {
			continue
		}
		if r.Rule == "" {
			var b bytes.Buffer
			if err := tmpl.Execute(&b, model); err != nil {
				return nil, fmt.Errorf("%s: router %q: providers.docker.defaultRule: %w", src, r.Name, err)
			}
			r.Rule = b.String()
			if r.Rule == "" {
				return nil, fmt.Errorf("%s: router %q: providers.docker.defaultRule gives an empty rule", src, r.Name)
			}
		}
		if r.Service == "" {
			svcs := make([]string, 0)
			for k := range dyn.Services {
				if strings.HasPrefix(k, "http:") {
					svcs = append(svcs, strings.TrimPrefix(k, "http:"))
				}
			}
			sort.Strings(svcs)
			if len(svcs) == 1 {
				r.Service = svcs[0]
			}
		}
	}
	return dyn, nil
}

// containerURL is the URL Traefik would send requests to: the container
// (reachable by its service name on the compose network) at the port of
// the label, else the one port the service exposes or publishes.
func containerURL(svcName string, svc map[string]any, port, scheme string) (string, string) {
	note := ""
	if port == "" {
		var ports []string
		for _, key := range []string{"expose", "ports"} {
			l, _ := svc[key].([]any)
			for _, e := range l {
				s, _ := scalar(e)
				s, _, _ = strings.Cut(s, "/")
				if i := strings.LastIndexByte(s, ':'); i >= 0 {
					s = s[i+1:]
				}
				if s != "" && !contains(ports, s) {
					ports = append(ports, s)
				}
			}
		}
		sort.Strings(ports)
		switch len(ports) {
		case 0:
			port = "80"
			note = "no loadbalancer.server.port label and no port in expose/ports; Traefik would use the port the image exposes, assumed 80 here"
		default:
			port = ports[0]
		}
	}
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + svcName + ":" + port, note
}
