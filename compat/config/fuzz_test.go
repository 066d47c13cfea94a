package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// seedFiles adds the contents of the testdata inputs with the given
// extensions to a fuzz corpus.
func seedFiles(f *testing.F, conv func(string) string, exts ...string) {
	f.Helper()
	for _, dir := range []string{"seed", "examples", "fixtures"} {
		entries, err := os.ReadDir(filepath.Join("testdata", dir))
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			for _, ext := range exts {
				if filepath.Ext(e.Name()) == ext {
					data, err := os.ReadFile(filepath.Join("testdata", dir, e.Name()))
					if err != nil {
						f.Fatal(err)
					}
					f.Add(conv(string(data)))
				}
			}
		}
	}
}

func same(s string) string { return s }

// checkResult asserts the parser contract on any input: a value or an
// error, never both and never neither; every resolver has acme options;
// problems are recorded only for loaded resolvers;
// the value marshals; a second run gives the same result.
func checkResult(t *testing.T, parse func() (*Static, []Warning, error)) {
	t.Helper()
	s, w, err := parse()
	if (s == nil) == (err == nil) {
		t.Fatalf("got value %v and error %v: want exactly one", s != nil, err)
	}
	for _, x := range w {
		_ = x.String()
	}
	if s != nil {
		for name, r := range s.CertificatesResolvers {
			if r == nil || r.ACME == nil {
				t.Fatalf("resolver %q has no acme options", name)
			}
		}
		for name, perr := range s.Problems {
			if _, ok := s.CertificatesResolvers[name]; !ok || perr == nil {
				t.Fatalf("problem %v recorded for resolver %q, which is not loaded", perr, name)
			}
		}
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("marshaling the result: %v", err)
		}
	}
	s2, w2, err2 := parse()
	if !reflect.DeepEqual(s, s2) || !reflect.DeepEqual(w, w2) || (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
		t.Fatalf("two runs differ:\n%v %v %v\n%v %v %v", s, w, err, s2, w2, err2)
	}
}

func FuzzParseYAML(f *testing.F) {
	seedFiles(f, same, ".yaml", ".yml")
	f.Add("certificatesResolvers: {le: {acme: {tlsChallenge:, emial: x}}}")
	f.Add("a: &a [*a, *a]\ncertificatesResolvers: *a")
	f.Fuzz(func(t *testing.T, data string) {
		checkResult(t, func() (*Static, []Warning, error) { return ParseYAML([]byte(data)) })
	})
}

func FuzzParseTOML(f *testing.F) {
	seedFiles(f, same, ".toml")
	f.Add("[acme]\nentryPoint = \"https\"\n[[acme.domains]]\nmain = \"x\"")
	f.Add("[certificatesResolvers.le.acme]\ncertificatesDuration = 1979-05-27T07:32:00Z")
	f.Fuzz(func(t *testing.T, data string) {
		checkResult(t, func() (*Static, []Warning, error) { return ParseTOML([]byte(data)) })
	})
}

// FuzzParseArgs takes one argument per line.
func FuzzParseArgs(f *testing.F) {
	seedFiles(f, func(s string) string { return strings.Join(shellArgs(s), "\n") }, ".sh")
	f.Add("--certificatesresolvers.le.acme.tlschallenge=false\n--certificatesresolvers.le.acme.tlschallenge.delay=3s")
	f.Add("--certificatesresolvers.le.acme.email\n--\n-x")
	f.Fuzz(func(t *testing.T, data string) {
		args := strings.Split(data, "\n")
		checkResult(t, func() (*Static, []Warning, error) { return ParseArgs(args) })
	})
}

// FuzzParseEnv takes one environ entry per line.
func FuzzParseEnv(f *testing.F) {
	seedFiles(f, func(s string) string { return strings.Join(envLines(s), "\n") }, ".env")
	f.Add("TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE=\nTRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE_DELAY=x")
	f.Add("TRAEFIK_CERTIFICATESRESOLVERS=1\nTRAEFIK_CERTIFICATESRESOLVERS__=2")
	f.Fuzz(func(t *testing.T, data string) {
		environ := strings.Split(data, "\n")
		checkResult(t, func() (*Static, []Warning, error) { return ParseEnv(environ) })
	})
}

// FuzzParseCompose fuzzes compose files with a fixed variable lookup.
func FuzzParseCompose(f *testing.F) {
	f.Add("services:\n  traefik:\n    image: traefik\n    command: --certificatesresolvers.le.acme.email=${A:-x} --certificatesresolvers.le.acme.tlschallenge\n")
	f.Add("services:\n  t:\n    image: traefik\n    environment: {TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE: '$$${B?no}'}\n")
	lookup := lookupMap(map[string]string{"A": "a@example.com", "B": ""})
	f.Fuzz(func(t *testing.T, data string) {
		checkResult(t, func() (*Static, []Warning, error) { return ParseCompose([]byte(data), "", lookup) })
	})
}

func FuzzParseJSON(f *testing.F) {
	f.Add(`{"entryPoints": {"web": {"address": ":80"}}, "certificatesResolvers": {"le": {"acme": {"email": "a@example.com", "httpChallenge": {"entryPoint": "web"}}}}}`)
	f.Add(`{"certificatesResolvers": {"le": {"acme": {"certificatesDuration": 1e400, "dnsChallenge": {"resolvers": [1, true, null]}}}}}`)
	f.Add(`{"api": {"insecure": true}, "ping": null, "certificatesResolvers": {"le": {"acme": {"tlsChallenge": "false"}}}}`)
	f.Fuzz(func(t *testing.T, data string) {
		checkResult(t, func() (*Static, []Warning, error) { return ParseJSON([]byte(data)) })
	})
}
