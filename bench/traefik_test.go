package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestWriteTraefikConfig checks the configuration the Traefik scenario
// gives Traefik: the static file names the entry point, the file provider
// and the resolver with its acme.json copy (mode 0600, same bytes), and
// the dynamic file has one TLS router per name through that resolver.
// Traefik itself is not run here (no binary can be fetched in this
// environment); see cmd/traefik-acme-bench -traefik.
func TestWriteTraefikConfig(t *testing.T) {
	src := t.TempDir()
	acmeFile := filepath.Join(src, "acme.json")
	if err := os.WriteFile(acmeFile, []byte(`{"le":{"Account":null,"Certificates":null}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "traefik")
	names := StartNames(3)
	static, err := WriteTraefikConfig(dir, acmeFile, 12345, names)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Global      map[string]bool `yaml:"global"`
		EntryPoints map[string]struct {
			Address string `yaml:"address"`
		} `yaml:"entryPoints"`
		Providers struct {
			File struct {
				Filename string `yaml:"filename"`
			} `yaml:"file"`
		} `yaml:"providers"`
		Resolvers map[string]struct {
			ACME struct {
				Storage      string         `yaml:"storage"`
				CAServer     string         `yaml:"caServer"`
				TLSChallenge map[string]any `yaml:"tlsChallenge"`
			} `yaml:"acme"`
		} `yaml:"certificatesResolvers"`
	}
	readYAML(t, static, &st)
	if st.Global["checkNewVersion"] || st.Global["sendAnonymousUsage"] {
		t.Error("traefik would reach the internet")
	}
	if got := st.EntryPoints["websecure"].Address; got != "127.0.0.1:12345" {
		t.Errorf("entry point address %q", got)
	}
	le, ok := st.Resolvers[StartResolver]
	if !ok || le.ACME.CAServer != deadCA || le.ACME.TLSChallenge == nil {
		t.Fatalf("resolver: %+v", st.Resolvers)
	}
	if le.ACME.Storage != filepath.Join(dir, "acme.json") {
		t.Errorf("storage %q", le.ACME.Storage)
	}
	fi, err := os.Stat(le.ACME.Storage)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("acme.json copy: %v, %v", fi, err)
	}
	if a, b := mustRead(t, acmeFile), mustRead(t, le.ACME.Storage); a != b {
		t.Error("acme.json copy differs")
	}

	var dyn struct {
		HTTP struct {
			Routers map[string]struct {
				Rule        string   `yaml:"rule"`
				EntryPoints []string `yaml:"entryPoints"`
				Service     string   `yaml:"service"`
				TLS         struct {
					CertResolver string `yaml:"certResolver"`
				} `yaml:"tls"`
			} `yaml:"routers"`
		} `yaml:"http"`
	}
	readYAML(t, st.Providers.File.Filename, &dyn)
	if len(dyn.HTTP.Routers) != len(names) {
		t.Fatalf("%d routers, want %d", len(dyn.HTTP.Routers), len(names))
	}
	rules := map[string]bool{}
	for id, r := range dyn.HTTP.Routers {
		if r.TLS.CertResolver != StartResolver || r.Service != "noop@internal" || len(r.EntryPoints) != 1 || r.EntryPoints[0] != "websecure" {
			t.Errorf("router %s: %+v", id, r)
		}
		rules[r.Rule] = true
	}
	for _, n := range names {
		if !rules["Host(`"+n+"`)"] {
			t.Errorf("no router for %s", n)
		}
	}
}

// TestTraefikNeedsBinary checks the scenario's error without a binary.
func TestTraefikNeedsBinary(t *testing.T) {
	for _, bin := range []string{"", filepath.Join(t.TempDir(), "missing")} {
		_, err := Traefik(t.Context(), TraefikOptions{Binary: bin, Dir: t.TempDir(), Certificates: 1})
		if err == nil || !strings.Contains(err.Error(), "traefik") {
			t.Errorf("binary %q: error %v", bin, err)
		}
	}
}

func TestParseStatus(t *testing.T) {
	m := parseStatus([]byte("Name:\ttraefik\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"))
	if m.PeakRSS != 2048*1024 || m.RSS != 1024*1024 {
		t.Errorf("parseStatus = %+v", m)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(mustRead(t, path)), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
