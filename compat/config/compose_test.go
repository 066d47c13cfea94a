package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestParseCompose(t *testing.T) {
	env := lookupMap(map[string]string{"ACME_EMAIL": "ops@example.com", "EMPTY": "", "CF_TOKEN": "tok"})
	for _, tc := range []struct {
		desc    string
		yaml    string
		service string
		email   string
		names   []string
		warn    string
		err     string
	}{
		{desc: "command list", yaml: `
services:
  whoami:
    image: traefik/whoami
  proxy:
    image: traefik:v3.1
    command:
      - --entrypoints.web.address=:80
      - "--certificatesresolvers.le.acme.email=${ACME_EMAIL}"
      - --certificatesresolvers.le.acme.httpchallenge.entrypoint=web
      - --providers.docker=true
`, email: "ops@example.com", names: []string{"le"}},
		{desc: "command string split like a shell", yaml: `
services:
  traefik:
    image: docker.io/library/traefik:v3.1@sha256:0123
    command: traefik --certificatesresolvers.le.acme.email="a b@example.com" --certificatesresolvers.le.acme.tlschallenge 'x'
`, email: "a b@example.com", names: []string{"le"}, warn: `argument "x" is not a flag`},
		{desc: "entrypoint and command", yaml: `
services:
  traefik:
    image: traefik
    entrypoint: ["traefik", "--certificatesresolvers.le.acme.tlschallenge"]
    command: ["--certificatesresolvers.le.acme.email=e@example.com"]
`, email: "e@example.com", names: []string{"le"}},
		{desc: "environment list", yaml: `
services:
  traefik:
    image: traefik:v2.11
    environment:
      - TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_EMAIL=${ACME_EMAIL}
      - TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE=true
      - CF_DNS_API_TOKEN
`, email: "ops@example.com", names: []string{"le"}},
		{desc: "environment map", yaml: `
services:
  traefik:
    image: traefik:v2.11
    environment:
      TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_EMAIL: $ACME_EMAIL
      TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE: true
      TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_CERTIFICATESDURATION: 720
`, email: "ops@example.com", names: []string{"le"}},
		{desc: "environment passthrough", yaml: `
services:
  traefik:
    image: traefik
    environment:
      TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE: "true"
      ACME_EMAIL:
`, names: []string{"le"}},
		{desc: "flags win over env", yaml: `
services:
  traefik:
    image: traefik
    command: --certificatesresolvers.flags.acme.tlschallenge
    environment:
      TRAEFIK_CERTIFICATESRESOLVERS_ENV_ACME_TLSCHALLENGE: "true"
`, names: []string{"flags"}, warn: "TRAEFIK_* variables are ignored because the command has flags"},
		{desc: "service by name", service: "edge", yaml: `
services:
  edge:
    build: .
    command: ["--certificatesresolvers.le.acme.tlschallenge"]
  traefik:
    image: traefik
`, names: []string{"le"}},
		{desc: "service named traefik without image", yaml: `
services:
  traefik:
    build: ./traefik
    command: ["--certificatesresolvers.le.acme.tlschallenge"]
  app:
    image: nginx
`, names: []string{"le"}},
		{desc: "image from a variable", yaml: `
services:
  rp:
    image: ${TRAEFIK_IMAGE:-traefik:v3}
    command: ["--certificatesresolvers.le.acme.tlschallenge"]
`, names: []string{"le"}},
		{desc: "mounted config with flags warns", yaml: `
services:
  traefik:
    image: traefik
    command: ["--certificatesresolvers.le.acme.tlschallenge"]
    volumes:
      - ./traefik.yml:/etc/traefik/traefik.yml:ro
`, names: []string{"le"}, warn: "mounts ./traefik.yml at /etc/traefik/traefik.yml"},
		{desc: "env_file warns", yaml: `
services:
  traefik:
    image: traefik
    env_file: .env.traefik
    command: ["--certificatesresolvers.le.acme.tlschallenge"]
`, names: []string{"le"}, warn: "env_file is not read"},
		{desc: "unset variable warns", yaml: `
services:
  traefik:
    image: traefik
    command: ["--certificatesresolvers.le.acme.tlschallenge", "--certificatesresolvers.le.acme.email=${NOPE}"]
`, names: []string{"le"}, warn: "${NOPE}: variable is not set"},
		{desc: "no service", yaml: `
services:
  app:
    image: nginx
  db:
    image: postgres
`, err: "no Traefik service (none has a traefik image); services: app, db"},
		{desc: "helper images are not Traefik", yaml: `
services:
  whoami:
    image: traefik/whoami:v1.10
`, err: "services: whoami"},
		{desc: "several services", yaml: `
services:
  a:
    image: traefik:v2
  b:
    image: traefik:v3
`, err: "several services look like Traefik (a, b)"},
		{desc: "named service missing", service: "edge", yaml: `
services:
  traefik:
    image: traefik
`, err: `no service "edge"; services: traefik`},
		{desc: "service without configuration", yaml: `
services:
  traefik:
    image: traefik
    volumes:
      - type: bind
        source: ./conf
        target: /etc/traefik
`, err: "static configuration is probably in a mounted file (it mounts ./conf at /etc/traefik)"},
		{desc: "required variable", yaml: `
services:
  traefik:
    image: traefik
    command: ["--certificatesresolvers.le.acme.email=${MISSING:?set MISSING}"]
`, err: "required variable MISSING is missing a value: set MISSING"},
		{desc: "errors name the service", yaml: `
services:
  traefik:
    image: traefik
    command: ["--certificatesresolvers.le.acme.emial=x"]
`, err: `service "traefik" command: reading flags: certificatesResolvers.le.acme.emial (from --certificatesresolvers.le.acme.emial): unknown option (did you mean "email"?)`},
		{desc: "not compose", yaml: "foo: bar", err: "no services section"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s, w, err := ParseCompose([]byte(tc.yaml), tc.service, env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || s != nil {
					t.Fatalf("got %v; want error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(s.CertificatesResolvers); !reflect.DeepEqual(got, tc.names) {
				t.Fatalf("resolvers %v, want %v", got, tc.names)
			}
			if got := acmeOf(t, s, tc.names[0]).Email; got != tc.email {
				t.Errorf("email %q, want %q", got, tc.email)
			}
			if tc.warn != "" && !hasWarning(w, tc.warn) {
				t.Errorf("warnings %v, want one containing %q", w, tc.warn)
			}
			if tc.warn == "" && len(w) > 0 {
				t.Errorf("unexpected warnings %v", w)
			}
		})
	}
}

func TestComposeEnvironmentPassthrough(t *testing.T) {
	got, err := composeEnviron([]any{"A=1", "B", "C"}, lookupMap(map[string]string{"B": "2"}))
	if err != nil || !reflect.DeepEqual(got, []string{"A=1", "B=2"}) {
		t.Errorf("list: %q %v", got, err)
	}
	got, err = composeEnviron(map[string]any{"A": 1, "B": nil, "C": true}, lookupMap(map[string]string{"B": "2"}))
	if err != nil || !reflect.DeepEqual(got, []string{"A=1", "B=2", "C=true"}) {
		t.Errorf("map: %q %v", got, err)
	}
}

func TestInterpolation(t *testing.T) {
	env := lookupMap(map[string]string{"SET": "v", "EMPTY": "", "NAME": "SET"})
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "$SET", want: "v"},
		{in: "${SET}", want: "v"},
		{in: "a${SET}b$SET-c", want: "avbv-c"},
		{in: "$$SET", want: "$SET"},
		{in: "$$", want: "$"},
		{in: "cost: 5$", want: "cost: 5$"},
		{in: "$1", want: "$1"},
		{in: "${UNSET}", want: ""},
		{in: "${UNSET:-d}", want: "d"},
		{in: "${EMPTY:-d}", want: "d"},
		{in: "${EMPTY-d}", want: ""},
		{in: "${UNSET-d}", want: "d"},
		{in: "${SET:-d}", want: "v"},
		{in: "${UNSET:-${SET}}", want: "v"},
		{in: "${UNSET:-a ${UNSET2:-b}}", want: "a b"},
		{in: "${SET:+alt}", want: "alt"},
		{in: "${EMPTY:+alt}", want: ""},
		{in: "${EMPTY+alt}", want: "alt"},
		{in: "${UNSET+alt}", want: ""},
		{in: "${SET:?boom}", want: "v"},
		{in: "${EMPTY?boom}", want: ""},
		{in: "${EMPTY:?must be set}", err: "required variable EMPTY is missing a value: must be set"},
		{in: "${UNSET?boom}", err: "required variable UNSET is missing a value: boom"},
		{in: "${SET", err: "unterminated ${"},
		{in: "${}", err: "must start with a variable name"},
		{in: "${SET!x}", err: "invalid interpolation format for ${SET…}"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			ip := &interpolator{lookup: env, warned: map[string]bool{}}
			got, err := ip.string(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q %v, want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
}

func TestSplitShellWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "a b\tc\nd", want: []string{"a", "b", "c", "d"}},
		{in: `--email="a b@example.com"`, want: []string{"--email=a b@example.com"}},
		{in: `--x='a "b" $c'`, want: []string{`--x=a "b" $c`}},
		{in: `--x="a \"b\" \$c \\ \n"`, want: []string{`--x=a "b" $c \ \n`}},
		{in: `a\ b c\\d`, want: []string{"a b", `c\d`}},
		{in: "a \\\nb", want: []string{"a", "b"}},
		{in: `"" ''`, want: []string{"", ""}},
		{in: "   ", want: nil},
		{in: `"open`, err: "unterminated double quote"},
		{in: `'open`, err: "unterminated single quote"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := splitShellWords(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q %v, want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
}

func TestLoadFileCompose(t *testing.T) {
	dir := t.TempDir()
	compose := `
services:
  traefik:
    image: traefik:v3.7
    command:
      - --certificatesresolvers.le.acme.email=${ACME_EMAIL}
      - --certificatesresolvers.le.acme.storage=${ACME_STORAGE:-/letsencrypt/acme.json}
      - --certificatesresolvers.le.acme.tlschallenge=true
`
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(compose), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("# compose project env\nexport ACME_EMAIL=\"dotenv@example.com\" \nACME_STORAGE=/data/acme.json # comment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ACME_STORAGE", "/from/process.json")
	s, _, err := LoadFile(filepath.Join(dir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	a := acmeOf(t, s, "le")
	// The process environment wins over .env, as in docker compose.
	if a.Email != "dotenv@example.com" || a.Storage != "/from/process.json" {
		t.Errorf("email %q storage %q", a.Email, a.Storage)
	}
}

func TestLoadFileByExtension(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	yml := write("traefik.yml", "certificatesResolvers: {le: {acme: {tlsChallenge: {}}}}")
	json := write("traefik.json", `{"certificatesResolvers": {"le": {"acme": {"tlsChallenge": {}, "certificatesDuration": 72}}}}`)
	yaml := write("traefik.YAML", "certificatesResolvers: {le: {acme: {tlsChallenge: {}}}}")
	toml := write("traefik.toml", "[certificatesResolvers.le.acme.tlsChallenge]")
	for _, p := range []string{yml, yaml, toml, json} {
		s, _, err := LoadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		acmeOf(t, s, "le")
	}
	for name, want := range map[string]string{
		"traefik.json": "parsing JSON: no configuration found",
		"traefik.ini":  `unsupported extension ".ini"`,
		"empty.yml":    "no configuration found",
		"bad.toml":     "parsing TOML",
		"invalid.yml":  "acme.emial: unknown option",
	} {
		body := map[string]string{"traefik.json": "{}", "traefik.ini": "x", "empty.yml": "", "bad.toml": "[[[", "invalid.yml": "certificatesResolvers: {le: {acme: {emial: x}}}"}[name]
		p := write(name, body)
		s, _, err := LoadFile(p)
		if err == nil || s != nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: got %v, want an error naming the file and containing %q", name, err, want)
		}
	}
	_, _, err := LoadFile(filepath.Join(dir, "missing.yml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}
