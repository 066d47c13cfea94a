package traefikacme

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestCaddyfileAdapt adapts each testdata/caddyfile/*.caddyfile and compares
// the JSON with the .json golden beside it.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "caddyfile", "*.caddyfile"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden Caddyfiles found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(in, map[string]any{"filename": f})
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "\t"); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden := strings.TrimSuffix(f, ".caddyfile") + ".json"
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden (run with -update): %v", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("adapted JSON differs from %s:\n%s", golden, pretty.String())
			}
		})
	}
}

// TestBadInput checks that configuration errors surface when the config is
// adapted or validated, name the resolver and the option at fault, and
// never panic. A problem of one resolver is an error only when a site uses
// the resolver (TestBrokenUnusedResolverIsAWarning covers the other case).
func TestBadInput(t *testing.T) {
	tests := []struct {
		desc      string
		caddyfile string
		want      []string // substrings of the error
		atAdapt   bool     // the Caddyfile adapter already refuses it
	}{
		{
			desc: "unknown key type",
			caddyfile: `{
	traefik_acme {
		entrypoint web :80
		resolver le {
			key_type EC521
			http_challenge web
		}
	}
}
a.example.com {
	tls {
		issuer traefik le
	}
}`,
			want:    []string{`resolver "le"`, "keyType", "EC521", "EC256, EC384, RSA2048, RSA4096, RSA8192"},
			atAdapt: true,
		},
		{
			desc: "order rate limit of zero orders",
			caddyfile: `{
	traefik_acme {
		entrypoint web :80
		resolver le {
			order_rate_limit 0 10s
			http_challenge web
		}
	}
}`,
			want:    []string{`resolver "le"`, "order_rate_limit", `"0"`},
			atAdapt: true,
		},
		{
			desc: "order rate limit differing on one account",
			caddyfile: `{
	traefik_acme {
		entrypoint web :80
		resolver fast {
			email ops@example.com
			order_rate_limit 100 10s
			http_challenge web
		}
		resolver slow {
			email ops@example.com
			tls_challenge
		}
	}
}
a.example.com {
	tls {
		issuer traefik fast
	}
}`,
			want: []string{`resolver "slow"`, "order_rate_limit", `resolver "fast"`, "same ACME account"},
		},
		{
			desc: "order rate limit without a window",
			caddyfile: `{
	traefik_acme {
		entrypoint web :80
		resolver le {
			order_rate_limit 100
			http_challenge web
		}
	}
}`,
			want:    []string{`resolver "le"`, "order_rate_limit", "<orders> <window>"},
			atAdapt: true,
		},
		{
			desc: "undefined entry point",
			caddyfile: `{
	traefik_acme {
		entrypoint websecure :443
		resolver le {
			http_challenge web
		}
	}
}
a.example.com {
	tls {
		issuer traefik le
	}
}`,
			want: []string{`resolver "le"`, "httpChallenge.entryPoint", `"web" is not defined`, "websecure"},
		},
		{
			desc: "no challenge",
			caddyfile: `{
	traefik_acme {
		resolver le {
			email a@example.com
		}
	}
}
a.example.com {
	tls {
		issuer traefik le
	}
}`,
			want: []string{`resolver "le"`, "httpChallenge", "tlsChallenge", "dnsChallenge"},
		},
		{
			desc: "eab with one field",
			caddyfile: `{
	traefik_acme {
		resolver le {
			eab onlykid
			tls_challenge
		}
	}
}`,
			want:    []string{`resolver "le"`, "eab", "<kid> <hmac_encoded>"},
			atAdapt: true,
		},
		{
			desc: "negative duration",
			caddyfile: `{
	traefik_acme {
		resolver le {
			client_timeout -5s
			tls_challenge
		}
	}
}`,
			want:    []string{`resolver "le"`, "client_timeout", "negative"},
			atAdapt: true,
		},
		{
			desc: "bad duration",
			caddyfile: `{
	traefik_acme {
		resolver le {
			certificate_timeout soon
			tls_challenge
		}
	}
}`,
			want:    []string{`resolver "le"`, "certificate_timeout", "soon"},
			atAdapt: true,
		},
		{
			desc: "unknown subdirective",
			caddyfile: `{
	traefik_acme {
		resolver le {
			ca_servr https://example.com/dir
			tls_challenge
		}
	}
}`,
			want:    []string{`resolver "le"`, "unrecognized subdirective 'ca_servr'"},
			atAdapt: true,
		},
		{
			desc: "undefined resolver",
			caddyfile: `{
	traefik_acme {
		resolver le {
			tls_challenge
		}
		resolver staging {
			tls_challenge
		}
	}
}
a.example.com {
	tls {
		issuer traefik prod
	}
}`,
			want: []string{`resolver "prod" is not defined`, "le, staging"},
		},
		{
			desc: "undefined resolver without the app",
			caddyfile: `a.example.com {
	tls {
		issuer traefik le
	}
}`,
			want: []string{`resolver "le" is not defined`, "(none)"},
		},
		{
			desc: "issuer without resolver name",
			caddyfile: `a.example.com {
	tls {
		issuer traefik
	}
}`,
			want:    []string{"missing resolver name"},
			atAdapt: true,
		},
		{
			desc: "certificates duration below one hour",
			caddyfile: `{
	traefik_acme {
		resolver le {
			certificates_duration -3
			tls_challenge
		}
	}
}
a.example.com {
	tls {
		issuer traefik le
	}
}`,
			want: []string{`resolver "le"`, "certificatesDuration", "at least 1 hour"},
		},
		{
			desc: "client timeout shorter than header timeout",
			caddyfile: `{
	traefik_acme {
		resolver le {
			client_timeout 10s
			client_response_header_timeout 20s
			tls_challenge
		}
	}
}
a.example.com {
	tls {
		issuer traefik le
	}
}`,
			want: []string{`resolver "le"`, "clientTimeout", "clientResponseHeaderTimeout"},
		},
		{
			desc: "dns challenge without provider",
			caddyfile: `{
	traefik_acme {
		resolver le {
			dns_challenge {
				resolvers 1.1.1.1:53
			}
		}
	}
}
a.example.com {
	tls {
		issuer traefik le
	}
}`,
			want: []string{`resolver "le"`, "dnsChallenge.provider", "required"},
		},
		{
			desc: "resolver defined twice",
			caddyfile: `{
	traefik_acme {
		resolver le {
			tls_challenge
		}
		resolver le {
			tls_challenge
		}
	}
}`,
			want:    []string{`resolver "le"`, "defined twice"},
			atAdapt: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(tt.caddyfile), map[string]any{"filename": "Caddyfile"})
			if tt.atAdapt {
				if err == nil {
					t.Fatalf("adapt succeeded, want an error")
				}
			} else {
				if err != nil {
					t.Fatalf("adapt: %v", err)
				}
				var cfg caddy.Config
				if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
					t.Fatal(err)
				}
				cfg.StorageRaw = json.RawMessage(`{"module":"file_system","root":` + jsonString(t.TempDir()) + `}`)
				cfg.Admin = &caddy.AdminConfig{Disabled: true}
				cfg.Logging = &caddy.Logging{Logs: map[string]*caddy.CustomLog{"default": {BaseLog: caddy.BaseLog{WriterRaw: json.RawMessage(`{"output":"discard"}`)}}}}
				err = caddy.Validate(&cfg)
				if err == nil {
					t.Fatalf("validate succeeded, want an error")
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestBrokenUnusedResolverIsAWarning: resolvers Traefik loads but cannot
// use, and that no site uses, do not stop Caddy; each gets a warning that
// names it and the Traefik key at fault. The site's own resolver works.
func TestBrokenUnusedResolverIsAWarning(t *testing.T) {
	traefikYML := filepath.Join(t.TempDir(), "traefik.yml")
	// Traefik's own ref-acme.yaml enables tlsChallenge with a null value,
	// which Traefik ignores: that resolver has no challenge.
	if err := os.WriteFile(traefikYML, []byte(`
entryPoints:
  web: {address: ":80"}
certificatesResolvers:
  le:
    acme:
      keyType: ec256
      httpChallenge: {entryPoint: web}
  myresolver:
    acme:
      email: test@example.com
      tlsChallenge:
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		desc      string
		caddyfile string
		want      map[string]string // resolver -> the one key its warning names
	}{
		{
			desc: "inline",
			caddyfile: `{
	traefik_acme {
		entrypoint web :80
		resolver le {
			http_challenge web
		}
		resolver nochallenge {
			email a@example.com
		}
		resolver noprovider {
			dns_challenge {
				resolvers 1.1.1.1:53
			}
		}
		resolver elsewhere {
			http_challenge websecure
		}
	}
}
a.example.com {
	tls {
		issuer traefik le
	}
}`,
			want: map[string]string{"nochallenge": "acme", "noprovider": "dnsChallenge.provider", "elsewhere": "httpChallenge.entryPoint"},
		},
		{
			desc: "traefik.yml",
			caddyfile: `{
	traefik_acme {
		config ` + traefikYML + `
	}
}
a.example.com {
	tls {
		issuer traefik le
	}
}`,
			want: map[string]string{"myresolver": "acme"},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(tc.caddyfile), map[string]any{"filename": "Caddyfile"})
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			var cfg caddy.Config
			if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
				t.Fatal(err)
			}
			logFile := filepath.Join(t.TempDir(), "log.json")
			cfg.StorageRaw = json.RawMessage(`{"module":"file_system","root":` + jsonString(t.TempDir()) + `}`)
			cfg.Admin = &caddy.AdminConfig{Disabled: true}
			cfg.Logging = &caddy.Logging{Logs: map[string]*caddy.CustomLog{"default": {BaseLog: caddy.BaseLog{
				WriterRaw:  json.RawMessage(`{"output":"file","filename":` + jsonString(logFile) + `}`),
				EncoderRaw: json.RawMessage(`{"format":"json"}`),
				Level:      "WARN",
			}}}}
			if err := caddy.Validate(&cfg); err != nil {
				t.Fatalf("validate: %v", err)
			}
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			found := map[string][]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				var entry struct {
					Msg      string   `json:"msg"`
					Resolver string   `json:"resolver"`
					Keys     []string `json:"keys"`
				}
				if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "resolver cannot obtain certificates; a site that uses it fails to start" {
					found[entry.Resolver] = entry.Keys
				}
			}
			for name, key := range tc.want {
				if keys := found[name]; len(keys) != 1 || keys[0] != key {
					t.Errorf("warning for resolver %s: keys %q, want [%s] (log:\n%s)", name, keys, key, data)
				}
			}
			if _, ok := found["le"]; ok || len(found) != len(tc.want) {
				t.Errorf("warnings for %v, want exactly %v", found, tc.want)
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
