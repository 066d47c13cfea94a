package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "traefik.yml")
	if err := os.WriteFile(file, []byte("certificatesResolvers: {fromfile: {acme: {tlsChallenge: {}}}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.toml")
	if err := os.WriteFile(other, []byte("[certificatesResolvers.fromflagfile.acme.tlsChallenge]"), 0o600); err != nil {
		t.Fatal(err)
	}
	compose := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(compose, []byte("services:\n  traefik:\n    image: traefik\n    environment:\n      - TRAEFIK_CERTIFICATESRESOLVERS_${NAME}_ACME_TLSCHALLENGE=true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--certificatesresolvers.fromflags.acme.tlschallenge"}
	env := []string{"TRAEFIK_CERTIFICATESRESOLVERS_FROMENV_ACME_TLSCHALLENGE=true", "NAME=FROMCOMPOSE"}
	for _, tc := range []struct {
		desc   string
		src    Sources
		names  []string
		origin string
		warns  []string
		err    error
	}{
		{desc: "file wins over flags and env", src: Sources{File: file, Args: flags, Environ: env},
			names: []string{"fromfile"}, origin: "file " + file,
			warns: []string{"flags: certificatesResolvers/entryPoints flags are ignored", "env: TRAEFIK_CERTIFICATESRESOLVERS_*/TRAEFIK_ENTRYPOINTS_* variables are ignored"}},
		{desc: "configFile flag names the file", src: Sources{Args: []string{"--configfile", other, "--certificatesresolvers.x.acme.tlschallenge"}},
			names: []string{"fromflagfile"}, origin: "file " + other, warns: []string{"flags: certificatesResolvers/entryPoints flags are ignored"}},
		{desc: "flags win over env", src: Sources{Args: flags, Environ: env},
			names: []string{"fromflags"}, origin: "flags", warns: []string{"env: TRAEFIK_* variables are ignored because there are command-line arguments"}},
		{desc: "any argument makes flags the source", src: Sources{Args: []string{"--log.level=DEBUG"}, Environ: env},
			names: nil, origin: "flags", warns: []string{"env: TRAEFIK_* variables are ignored"}},
		{desc: "env last", src: Sources{Environ: env},
			names: []string{"fromenv"}, origin: "TRAEFIK_* environment variables"},
		{desc: "env of other sections counts", src: Sources{Environ: []string{"TRAEFIK_LOG_LEVEL=DEBUG"}},
			names: nil, origin: "TRAEFIK_* environment variables"},
		{desc: "compose interpolates from Environ", src: Sources{File: compose, Environ: env},
			names: []string{"fromcompose"}, origin: `TRAEFIK_* environment variables of service "traefik" in compose file ` + compose,
			warns: []string{"env: TRAEFIK_CERTIFICATESRESOLVERS_*"}},
		{desc: "compose interpolates from LookupEnv", src: Sources{File: compose, LookupEnv: lookupMap(map[string]string{"NAME": "LOOKED"})},
			names: []string{"looked"}, origin: `TRAEFIK_* environment variables of service "traefik" in compose file ` + compose},
		{desc: "nothing", src: Sources{Environ: []string{"PATH=/bin"}}, err: ErrNoConfiguration},
		{desc: "missing file", src: Sources{File: filepath.Join(dir, "nope.yml")}, err: os.ErrNotExist},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := Load(tc.src)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || got != nil {
					t.Fatalf("got %v, %v; want %v", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if names := keys(got.Static.CertificatesResolvers); !reflect.DeepEqual(names, tc.names) && (len(names) > 0 || len(tc.names) > 0) {
				t.Errorf("resolvers %v, want %v", names, tc.names)
			}
			if got.Origin.String() != tc.origin {
				t.Errorf("origin %q, want %q", got.Origin, tc.origin)
			}
			if len(got.Warnings) != len(tc.warns) {
				t.Errorf("warnings %v, want %d", got.Warnings, len(tc.warns))
			}
			for _, w := range tc.warns {
				if !hasWarning(got.Warnings, w) {
					t.Errorf("warnings %v, want one containing %q", got.Warnings, w)
				}
			}
		})
	}
}

func TestLoadReturnsValueOrError(t *testing.T) {
	got, err := Load(Sources{Args: []string{"--certificatesresolvers.le.acme.emial=x"}})
	if got != nil || err == nil || !strings.Contains(err.Error(), `did you mean "email"`) {
		t.Errorf("got %v, %v", got, err)
	}
	// A resolver Traefik loads but cannot use is kept, with its problem.
	got, err = Load(Sources{Environ: []string{"TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_DNSCHALLENGE=true", "TRAEFIK_CERTIFICATESRESOLVERS_OK_ACME_TLSCHALLENGE="}})
	if err != nil {
		t.Fatal(err)
	}
	if perr := got.Static.ResolverProblem("le"); perr == nil || !strings.Contains(perr.Error(), `resolver "le": dnsChallenge.provider: required`) {
		t.Errorf("problem of le: %v", perr)
	}
	if perr := got.Static.ResolverProblem("ok"); perr != nil {
		t.Errorf("problem of ok: %v", perr)
	}
}

func TestOriginString(t *testing.T) {
	for o, want := range map[Origin]string{
		{Source: SourceFile, Path: "/etc/traefik/traefik.toml"}: "file /etc/traefik/traefik.toml",
		{Source: SourceFlags}: "flags",
		{Source: SourceEnv}:   "TRAEFIK_* environment variables",
		{Source: SourceFlags, Path: "docker-compose.yml", Service: "proxy"}: `flags of service "proxy" in compose file docker-compose.yml`,
		{}: "nothing",
	} {
		if got := o.String(); got != want {
			t.Errorf("%#v: %q, want %q", o, got, want)
		}
	}
}
