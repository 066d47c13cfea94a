package routers

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// goldenCase reads a static configuration and dynamic sources and records
// the routers and the certificates per resolver.
type goldenCase struct {
	name   string
	static string   // static configuration file (or compose file), under testdata
	paths  []string // extra dynamic sources, under testdata
	// noFileProvider drops providers.file: the fixtures name
	// /etc/traefik/dyn.yml, which the test passes in paths instead.
	noFileProvider bool
	// acmeJSON is the acme.json real Traefik wrote for this configuration.
	acmeJSON string
}

var goldenCases = []goldenCase{
	{name: "fixture-v2", static: "fixtures/traefik-v2.yml", paths: []string{"fixtures/traefik-v2-dynamic.yml"}, noFileProvider: true, acmeJSON: "fixtures/traefik-v2-acme.json"},
	{name: "fixture-v3", static: "fixtures/traefik-v3.yml", paths: []string{"fixtures/traefik-v3-dynamic.yml"}, noFileProvider: true, acmeJSON: "fixtures/traefik-v3-acme.json"},
	{name: "fixture-v3.6.21-rich", static: "fixtures/traefik-v3.6.21-rich-static.yml", paths: []string{"fixtures/traefik-v3.6.21-rich-dynamic.yml"}, noFileProvider: true, acmeJSON: "fixtures/traefik-v3.6.21-rich-acme.json"},
	{name: "compose-labels", static: "compose/labels.yml", paths: []string{"compose/labels.yml"}},
	{name: "compose-exposed", static: "compose/exposed.yml", paths: []string{"compose/exposed.yml"}},
	{name: "file-toml", static: "dynamic/static.yml", paths: []string{"dynamic/routers.toml"}, noFileProvider: true},
	{name: "file-directory", static: "dynamic/static.yml"},
	{name: "file-shared-host", static: "dynamic/static.yml", paths: []string{"dynamic/shared-host.yml"}, noFileProvider: true},
}

type goldenResult struct {
	Static   *Static             `json:"static"`
	Routers  []*Router           `json:"routers"`
	Services map[string]Service  `json:"services,omitempty"`
	Plan     *Plan               `json:"plan"`
	Names    map[string][]string `json:"names"`
	Warnings []Warning           `json:"warnings,omitempty"`
}

func runGolden(t *testing.T, c goldenCase) goldenResult {
	t.Helper()
	static, err := LoadStatic(filepath.Join("testdata", c.static), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.noFileProvider {
		static.File = nil
	} else if static.File != nil && static.File.Directory != "" {
		static.File.Directory = filepath.Join("testdata", filepath.Dir(c.static), static.File.Directory)
	}
	var paths []string
	for _, p := range c.paths {
		paths = append(paths, filepath.Join("testdata", p))
	}
	dyn, err := Load(Sources{Static: static, Paths: paths, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	plan := Certificates(static, dyn)
	return goldenResult{Static: static, Routers: dyn.Routers, Services: dyn.Services, Plan: plan, Names: plan.Names(), Warnings: dyn.Warnings}
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			res := runGolden(t, c)
			got, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", c.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("missing golden (run go test -update): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("result differs from %s (run go test -update and review the diff):\n%s", golden, got)
			}
		})
	}
}

// TestFixturesMatchTraefik checks the certificates per resolver against
// the acme.json real Traefik wrote for the same static and dynamic
// configuration.
func TestFixturesMatchTraefik(t *testing.T) {
	for _, c := range goldenCases {
		if c.acmeJSON == "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", c.acmeJSON))
			if err != nil {
				t.Fatal(err)
			}
			var file map[string]struct {
				Certificates []struct {
					Domain Domain `json:"domain"`
				} `json:"Certificates"`
			}
			if err := json.Unmarshal(data, &file); err != nil {
				t.Fatal(err)
			}
			want := map[string][]Domain{}
			for res, v := range file {
				for _, cert := range v.Certificates {
					want[res] = append(want[res], normalizeDomain(cert.Domain))
				}
			}
			got := map[string][]Domain{}
			for _, cert := range runGolden(t, c).Plan.Certificates {
				got[cert.Resolver] = append(got[cert.Resolver], normalizeDomain(cert.Domain))
			}
			for _, m := range []map[string][]Domain{want, got} {
				for _, ds := range m {
					sort.Slice(ds, func(i, j int) bool { return ds[i].Main < ds[j].Main })
				}
			}
			if len(want) == 0 {
				t.Fatal("the fixture holds no certificate")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("certificates per resolver:\n got %+v\nwant %+v (Traefik's acme.json)", got, want)
			}
		})
	}
}

func TestTemplatedFileIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dyn.yml")
	if err := os.WriteFile(path, []byte("http:\n  routers:\n{{ range $i := until 3 }}\n    r{{ $i }}:\n      rule: Host(`r{{ $i }}.test`)\n{{ end }}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFileProvider(path, "")
	if !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error = %v, want ErrTemplate naming %s", err, path)
	}
}

func TestMissingProviderFileIsAWarning(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "dyn.yml")
	dyn, err := Load(Sources{Static: &Static{File: &FileProvider{Filename: missing}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dyn.Routers) != 0 || len(dyn.Warnings) != 1 || !strings.Contains(dyn.Warnings[0].String(), missing) {
		t.Fatalf("dyn = %+v, want one warning naming %s", dyn, missing)
	}
	if _, err := Load(Sources{Paths: []string{missing}}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("an explicit path that does not exist: error = %v, want ErrNotExist", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{name: "router not a table", path: write("a.yml", "http:\n  routers:\n    r: 3\n"), wantErr: "http.routers.r: expected a table"},
		{name: "domains not a list", path: write("b.yml", "http:\n  routers:\n    r:\n      tls:\n        domains: x\n"), wantErr: "http.routers.r.tls.domains: expected a list"},
		{name: "bad yaml", path: write("c.yml", "http: [\n"), wantErr: "parsing YAML"},
		{name: "bad toml", path: write("d.toml", "[http\n"), wantErr: "parsing TOML"},
		{name: "compose labels not a list", path: write("compose.yml", "services:\n  a:\n    labels: 3\n"), wantErr: `service "a"`},
		{name: "missing", path: filepath.Join(dir, "nope.yml"), wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Sources{Paths: []string{tt.path}})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestStaticFromFlagsAndEnv(t *testing.T) {
	want := &Static{
		Docker: &DockerProvider{ExposedByDefault: false, DefaultRule: DefaultDockerRule},
		File:   &FileProvider{Directory: "/etc/traefik/dynamic"},
		EntryPoints: map[string]EntryPoint{
			"websecure": {AsDefault: true, TLS: &TLS{CertResolver: "le", Domains: []Domain{{Main: "example.com", SANs: []string{"*.example.com"}}}}},
		},
	}
	fromArgs, err := StaticFromArgs([]string{
		"traefik", "--providers.docker", "--providers.docker.exposedByDefault=false",
		"--providers.file.directory", "/etc/traefik/dynamic",
		"--entryPoints.websecure.asDefault",
		"--entryPoints.websecure.http.tls.certResolver=le",
		"--entryPoints.websecure.http.tls.domains[0].main=example.com",
		"--entryPoints.websecure.http.tls.domains[0].sans=*.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromArgs, want) {
		t.Errorf("from flags:\n got %+v\nwant %+v", fromArgs, want)
	}
	fromEnv, err := StaticFromEnv([]string{
		"TRAEFIK_PROVIDERS_DOCKER=true", "TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT=false",
		"TRAEFIK_PROVIDERS_FILE_DIRECTORY=/etc/traefik/dynamic",
		"TRAEFIK_ENTRYPOINTS_WEBSECURE_ASDEFAULT=true",
		"TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_CERTRESOLVER=le",
		"TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_MAIN=example.com",
		"TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_SANS=*.example.com",
		"HOME=/root",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromEnv, want) {
		t.Errorf("from env:\n got %+v\nwant %+v", fromEnv, want)
	}
	off, err := StaticFromArgs([]string{"--providers.docker=false"})
	if err != nil {
		t.Fatal(err)
	}
	if off.Docker != nil {
		t.Errorf("--providers.docker=false enabled the provider")
	}
}

// TestEntryPointDefaults checks how Traefik applies an entry point's
// http.tls to its routers: only to a router without a tls section, per
// entry point, and routers without entryPoints use the default ones.
func TestEntryPointDefaults(t *testing.T) {
	static := &Static{EntryPoints: map[string]EntryPoint{
		"web":       {},
		"websecure": {AsDefault: true, TLS: &TLS{CertResolver: "le"}},
		"internal":  {TLS: &TLS{CertResolver: "internal"}},
	}}
	dyn, err := ParseFile("dyn.yml", []byte(`
http:
  routers:
    implicit:
      rule: Host("implicit.test")
    both:
      rule: Host("both.test")
      entryPoints: [websecure, internal, web]
    own:
      rule: Host("own.test")
      entryPoints: [websecure]
      tls: {}
    plainweb:
      rule: Host("web.test")
      entryPoints: [web]
    ghost:
      rule: Host("ghost.test")
      entryPoints: [nope]
`))
	if err != nil {
		t.Fatal(err)
	}
	plan := Certificates(static, dyn)
	want := map[string][]string{
		"le":       {"both.test", "implicit.test"},
		"internal": {"both.test"},
	}
	if got := plan.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
	found := false
	for _, w := range plan.Warnings {
		if strings.Contains(w.String(), `"nope" is not defined`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning about the undefined entry point: %v", plan.Warnings)
	}
}
