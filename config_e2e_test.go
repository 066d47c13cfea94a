package traefikacme

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

// TestConfigFromTraefikFiles starts Caddy from a Caddyfile whose only
// resolver comes from Traefik's own static configuration, once as a
// traefik.yml and once as the command-line flags and environment of the
// traefik service of a docker-compose file, and obtains a certificate from
// the test CA through it.
func TestConfigFromTraefikFiles(t *testing.T) {
	tests := []struct {
		desc string
		file string
		body string
	}{
		{
			desc: "traefik.yml",
			file: "traefik.yml",
			body: `entryPoints:
  web:
    address: "127.0.0.1:{{.HTTPPort}}"
  websecure:
    address: "127.0.0.1:{{.HTTPSPort}}"
providers:
  docker: {}
certificatesResolvers:
  le:
    acme:
      email: ops@example.test
      caServer: {{.Dir}}
      caCertificates: ["{{.CAPEM}}"]
      storage: {{index .Extra "acme"}}
      keyType: EC256
      certificatesDuration: 2160
      httpChallenge:
        entryPoint: web
`,
		},
		{
			desc: "compose flags",
			file: "docker-compose.yml",
			body: `services:
  whoami:
    image: traefik/whoami
  proxy:
    image: "traefik:v3.7"
    command:
      - "--providers.docker=true"
      - "--entryPoints.web.address=127.0.0.1:{{.HTTPPort}}"
      - "--certificatesresolvers.le.acme.email=${ACME_EMAIL}"
      - "--certificatesresolvers.le.acme.caserver={{.Dir}}"
      - "--certificatesresolvers.le.acme.cacertificates={{.CAPEM}}"
      - "--certificatesresolvers.le.acme.storage={{index .Extra "acme"}}"
      - "--certificatesresolvers.le.acme.keytype=${KEY_TYPE:-EC256}"
      - "--certificatesresolvers.le.acme.httpchallenge.entrypoint=web"
    environment:
      - CF_DNS_API_TOKEN=unused
`,
		},
		{
			desc: "compose env",
			file: "compose.yaml",
			body: `services:
  traefik:
    image: traefik:v3.7
    environment:
      TRAEFIK_ENTRYPOINTS_WEB_ADDRESS: "127.0.0.1:{{.HTTPPort}}"
      TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_EMAIL: ops@example.test
      TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_CASERVER: "{{.Dir}}"
      TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_CACERTIFICATES: "{{.CAPEM}}"
      TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_STORAGE: "{{index .Extra "acme"}}"
      TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_KEYTYPE: EC256
      TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE: "true"
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Setenv("ACME_EMAIL", "ops@example.test")
			ca := acmetest.Start(t)
			env := newCaddyEnv(t, ca)
			dir := t.TempDir()
			env.Extra["acme"] = filepath.Join(dir, "acme.json")
			path := filepath.Join(dir, tt.file)
			if err := os.WriteFile(path, []byte(env.render(t, tt.body)), 0o644); err != nil {
				t.Fatal(err)
			}
			env.Extra["config"] = path
			env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		config {{index .Extra "config"}}
	}
}
cfg.example.test {
	tls {
		issuer traefik le
	}
}
`)
			chain := env.waitCert(t, "cfg.example.test", ca.RootPool(), obtainTimeout, nil)
			if got := keyDesc(chain[0]); got != "EC P-256" {
				t.Errorf("leaf key %s, want EC P-256 from keyType", got)
			}
			if !env.logContains("traefik static configuration loaded") {
				t.Errorf("no log line says which configuration source was used")
			}
			// A resolver from a Traefik configuration keeps its acme.json.
			waitFor(t, "cfg.example.test in acme.json", 10*time.Second, func() bool {
				f, err := acmejson.Load(env.Extra["acme"])
				return err == nil && f["le"] != nil && f["le"].Find("cfg.example.test") >= 0
			})
		})
	}
}
