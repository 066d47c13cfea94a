package routers

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxFileSize bounds one dynamic configuration file.
const maxFileSize = 16 << 20

// ErrTemplate is wrapped by the error for a file that uses Traefik's Go
// templating, which this package does not execute.
var ErrTemplate = fmt.Errorf("the file uses Traefik's Go templating ({{ … }}), which is not evaluated here; render it first (for example with the values Traefik would use) and point at the result")

// LoadFileProvider reads the routers and services of Traefik's file
// provider: the file filename, or every .yml, .yaml and .toml file under
// directory (recursively, in name order), as Traefik does. A router or
// service defined in two files keeps its first definition, with a warning,
// as in Traefik. A file that uses Go templating is an error naming it.
func LoadFileProvider(filename, directory string) (*Dynamic, error) {
	dyn := &Dynamic{Services: map[string]Service{}}
	var files []string
	switch {
	case filename != "":
		files = []string{filename}
	case directory != "":
		err := filepath.WalkDir(directory, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".yml", ".yaml", ".toml":
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("providers.file.directory: reading %s: %w", directory, err)
		}
		sort.Strings(files)
	default:
		return dyn, nil
	}
	for _, path := range files {
		data, err := readBounded(path)
		if err != nil {
			return nil, fmt.Errorf("providers.file: %w", err)
		}
		if err := dyn.addFile(path, data); err != nil {
			return nil, fmt.Errorf("providers.file: %w", err)
		}
	}
	return dyn, nil
}

// ParseFile reads the routers and services of one dynamic configuration
// file's content; path names it in messages and chooses the format by its
// extension (.toml is TOML, anything else YAML).
func ParseFile(path string, data []byte) (*Dynamic, error) {
	dyn := &Dynamic{Services: map[string]Service{}}
	if err := dyn.addFile(path, data); err != nil {
		return nil, err
	}
	return dyn, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("reading %s: not a regular file", path)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", path, maxFileSize)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return buf.Bytes(), nil
}

// addFile decodes one file and adds its routers and services.
func (dyn *Dynamic) addFile(path string, data []byte) error {
	if bytes.Contains(data, []byte("{{")) {
		return fmt.Errorf("reading %s: %w", path, ErrTemplate)
	}
	var tree map[string]any
	var err error
	if strings.EqualFold(filepath.Ext(path), ".toml") {
		tree, err = tomlTree(data)
	} else {
		tree, err = yamlTree(data)
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return dyn.addTree(tree, "file", "file "+path)
}

// addTree adds the routers and services of a dynamic configuration tree.
func (dyn *Dynamic) addTree(tree map[string]any, provider, source string) error {
	seen := map[string]bool{}
	for _, r := range dyn.Routers {
		seen[string(r.Protocol)+":"+r.Name] = true
	}
	for _, proto := range []Protocol{HTTP, TCP} {
		sec := table(tree, string(proto))
		if sec == nil {
			continue
		}
		rts := table(sec, "routers")
		for _, name := range sortedKeys(rts) {
			m, ok := rts[name].(map[string]any)
			if !ok {
				if rts[name] == nil {
					m = map[string]any{}
				} else {
					return fmt.Errorf("%s: %s.routers.%s: expected a table, found %s", source, proto, name, kindOf(rts[name]))
				}
			}
			r, err := decodeRouter(name, provider, source, proto, m)
			if err != nil {
				return fmt.Errorf("%s: %s.routers.%s.%w", source, proto, name, err)
			}
			key := string(proto) + ":" + r.Name
			if seen[key] {
				dyn.Warnings = append(dyn.Warnings, Warning{Where: source, Message: fmt.Sprintf("%s router %q is already defined in another file; this definition is skipped, as Traefik skips it", proto, name)})
				continue
			}
			seen[key] = true
			dyn.Routers = append(dyn.Routers, r)
		}
		svcs := map[string]Service{}
		decodeServices(sec, provider, proto, svcs)
		for k, s := range svcs {
			if _, dup := dyn.Services[k]; dup {
				dyn.Warnings = append(dyn.Warnings, Warning{Where: source, Message: fmt.Sprintf("%s service %q is already defined in another file; this definition is skipped", proto, s.Name)})
				continue
			}
			dyn.Services[k] = s
		}
	}
	sort.SliceStable(dyn.Routers, func(i, j int) bool {
		if dyn.Routers[i].Protocol != dyn.Routers[j].Protocol {
			return dyn.Routers[i].Protocol < dyn.Routers[j].Protocol
		}
		return dyn.Routers[i].Name < dyn.Routers[j].Name
	})
	return nil
}

// Merge adds the routers, services and warnings of other to dyn.
func (dyn *Dynamic) Merge(other *Dynamic) {
	if other == nil {
		return
	}
	if dyn.Services == nil {
		dyn.Services = map[string]Service{}
	}
	dyn.Routers = append(dyn.Routers, other.Routers...)
	for k, s := range other.Services {
		dyn.Services[k] = s
	}
	dyn.Warnings = append(dyn.Warnings, other.Warnings...)
	sort.SliceStable(dyn.Routers, func(i, j int) bool {
		if dyn.Routers[i].Protocol != dyn.Routers[j].Protocol {
			return dyn.Routers[i].Protocol < dyn.Routers[j].Protocol
		}
		return dyn.Routers[i].Name < dyn.Routers[j].Name
	})
}

// Service returns the service a router forwards to, if it is known.
func (dyn *Dynamic) Service(r *Router) (Service, bool) {
	s, ok := dyn.Services[string(r.Protocol)+":"+r.Service]
	return s, ok
}
