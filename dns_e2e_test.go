package traefikacme

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
	"github.com/ac075510/caddy-traefik-acme/internal/dnsfakes"
)

// TestDNS01Providers obtains certificates over DNS-01 through five lego
// provider codes at once, each writing the real TXT record that Pebble's VA
// then queries: rfc2136 (TSIG-signed dynamic updates, with a wildcard and
// the propagation check through the resolver), exec and httpreq (lego's
// protocols, implemented natively), and cloudflare and route53 (the real
// libdns providers against faithful fakes of their APIs on loopback).
// Credentials come from the Caddyfile's env overrides, the process env and
// a _FILE secret; none may appear in Caddy's log.
func TestDNS01Providers(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	sink := ca.DNS()

	const cfToken = "cf-token-0123456789abcdefghijklmnopqrstu"
	cf := dnsfakes.NewCloudflare(t, sink, cfToken)
	cf.AddZone("example.test")
	tokenFile := filepath.Join(t.TempDir(), "cf_token")
	if err := os.WriteFile(tokenFile, []byte(cfToken+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CF_DNS_API_TOKEN_FILE", tokenFile)

	const awsSecret = "aws-secret-key-do-not-log-0123456789"
	r53 := dnsfakes.NewRoute53(t, sink, "AKIDTESTKEY")
	r53.AddZone("example.test", false)
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_ROUTE_53", r53.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", awsSecret)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)

	const httpreqPass = "httpreq-password-do-not-log"
	hr := dnsfakes.NewHTTPReq(t, sink, "acme", httpreqPass)
	ex := dnsfakes.NewExecForwarder(t, sink)

	env.Extra["tsig_key"] = ca.TSIGKeyName()
	env.Extra["tsig_secret"] = ca.TSIGSecret()
	env.Extra["dns"] = ca.DNSAddr()
	env.Extra["cf_url"] = cf.URL
	env.Extra["hr_url"] = hr.URL
	env.Extra["hr_pass"] = httpreqPass
	env.Extra["exec"] = ex.Path
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		resolver rfc {
			email rfc@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge rfc2136 {
				resolvers {{index .Extra "dns"}}
				env RFC2136_NAMESERVER {{index .Extra "dns"}}
				env RFC2136_TSIG_KEY {{index .Extra "tsig_key"}}
				env RFC2136_TSIG_SECRET {{index .Extra "tsig_secret"}}
				env RFC2136_TSIG_ALGORITHM hmac-sha256.
			}
		}
		resolver exec {
			email exec@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge exec {
				resolvers {{index .Extra "dns"}}
				disable_propagation_check
				env EXEC_PATH {{index .Extra "exec"}}
			}
		}
		resolver httpreq {
			email httpreq@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge httpreq {
				resolvers {{index .Extra "dns"}}
				propagation {
					disable_checks
				}
				env HTTPREQ_ENDPOINT {{index .Extra "hr_url"}}
				env HTTPREQ_USERNAME acme
				env HTTPREQ_PASSWORD {{index .Extra "hr_pass"}}
			}
		}
		resolver cf {
			email cf@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge cloudflare {
				resolvers {{index .Extra "dns"}}
				propagation {
					disable_checks
				}
				env CLOUDFLARE_BASE_URL {{index .Extra "cf_url"}}
			}
		}
		resolver r53 {
			email r53@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge route53 {
				resolvers {{index .Extra "dns"}}
				propagation {
					disable_checks
				}
				env AWS_WAIT_FOR_RECORD_SETS_CHANGED false
			}
		}
	}
}
*.wild.test, wild.test {
	tls {
		issuer traefik rfc
	}
}
exec.dns.test {
	tls {
		issuer traefik exec
	}
}
httpreq.dns.test {
	tls {
		issuer traefik httpreq
	}
}
cf.example.test {
	tls {
		issuer traefik cf
	}
}
r53.example.test {
	tls {
		issuer traefik r53
	}
}
`)
	names := []string{"wild.test", "any.wild.test", "exec.dns.test", "httpreq.dns.test", "cf.example.test", "r53.example.test"}
	for _, name := range names {
		chain := env.waitCert(t, name, ca.RootPool(), obtainTimeout, nil)
		if err := chain[0].VerifyHostname(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	wild := env.waitCert(t, "other.wild.test", ca.RootPool(), 5*time.Second, nil)[0]
	if !containsString(wild.DNSNames, "*.wild.test") {
		t.Errorf("other.wild.test served by a certificate for %v, want the wildcard", wild.DNSNames)
	}
	if len(ex.Calls()) == 0 {
		t.Errorf("the exec program was never called")
	}
	if len(hr.Requests()) == 0 {
		t.Errorf("the httpreq endpoint was never called")
	}
	if len(cf.Requests()) == 0 {
		t.Errorf("the Cloudflare API was never called")
	}
	if len(r53.Calls()) == 0 {
		t.Errorf("the Route 53 API was never called")
	}
	// Every challenge record is cleaned up.
	waitFor(t, "challenge records to be deleted", 10*time.Second, func() bool {
		for _, n := range []string{"wild.test", "exec.dns.test", "httpreq.dns.test", "cf.example.test", "r53.example.test"} {
			if len(ca.TXT("_acme-challenge."+n+".")) > 0 {
				return false
			}
		}
		return true
	})
	env.stopCaddy(t)
	assertNoSecrets(t, env.Log, ca.TSIGSecret(), cfToken, awsSecret, httpreqPass)
}

// TestDNS01WrongTSIGKey gives rfc2136 a wrong secret: the order fails with
// an error naming the resolver and NOTAUTH, and no record is left behind.
func TestDNS01WrongTSIGKey(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	const wrong = "d3JvbmctdHNpZy1zZWNyZXQtZG8tbm90LWxvZw=="
	env.Extra["tsig_key"] = ca.TSIGKeyName()
	env.Extra["dns"] = ca.DNSAddr()
	env.Extra["wrong"] = wrong
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		resolver rfc {
			email rfc@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge rfc2136 {
				resolvers {{index .Extra "dns"}}
				env RFC2136_NAMESERVER {{index .Extra "dns"}}
				env RFC2136_TSIG_KEY {{index .Extra "tsig_key"}}
				env RFC2136_TSIG_SECRET {{index .Extra "wrong"}}
				env RFC2136_TSIG_ALGORITHM hmac-sha256.
			}
		}
	}
}
bad.example.test {
	tls {
		issuer traefik rfc
	}
}
`)
	waitFor(t, "the rfc2136 failure in Caddy's log", obtainTimeout, func() bool {
		return env.logContains(`resolver \"rfc\"`, "bad.example.test", "NOTAUTH")
	})
	if got := ca.TXT("_acme-challenge.bad.example.test."); len(got) != 0 {
		t.Errorf("TXT records left behind: %v", got)
	}
	if _, err := env.handshake("bad.example.test", ca.RootPool()); err == nil {
		t.Errorf("bad.example.test got a certificate with a wrong TSIG key")
	}
	env.stopCaddy(t)
	assertNoSecrets(t, env.Log, wrong)
}

// TestDNS01MissingCredentials checks that a resolver whose provider lacks
// credentials fails when the config is loaded, naming the resolver, the
// provider and every missing variable, without echoing any secret.
func TestDNS01MissingCredentials(t *testing.T) {
	tests := []struct {
		desc      string
		provider  string
		envBlock  string
		want      []string
		notWanted []string
	}{
		{
			desc:     "cloudflare without token",
			provider: "cloudflare",
			want:     []string{`resolver "le"`, "cloudflare", "CF_DNS_API_TOKEN"},
		},
		{
			desc:      "cloudflare with global key",
			provider:  "cloudflare",
			envBlock:  "env CF_API_EMAIL ops@example.com\n\t\t\t\tenv CF_API_KEY global-key-secret-value",
			want:      []string{`resolver "le"`, "cloudflare", "global API key", "api-tokens"},
			notWanted: []string{"global-key-secret-value"},
		},
		{
			desc:     "digitalocean without token",
			provider: "digitalocean",
			want:     []string{`resolver "le"`, "digitalocean", "DO_AUTH_TOKEN"},
		},
		{
			desc:     "unknown provider",
			provider: "nosuchdns",
			want:     []string{`resolver "le"`, "nosuchdns", "cloudflare", "route53"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			for _, v := range []string{"CF_DNS_API_TOKEN", "CLOUDFLARE_DNS_API_TOKEN", "CF_DNS_API_TOKEN_FILE", "CLOUDFLARE_DNS_API_TOKEN_FILE", "DO_AUTH_TOKEN", "DO_AUTH_TOKEN_FILE", "CF_API_EMAIL", "CF_API_KEY", "CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY"} {
				t.Setenv(v, "")
				os.Unsetenv(v)
			}
			cf := `{
	traefik_acme {
		resolver le {
			dns_challenge ` + tt.provider + ` {
				` + tt.envBlock + `
			}
		}
	}
}
a.example.com {
	tls {
		issuer traefik le
	}
}`
			cfgJSON := adapt(t, cf)
			var cfg caddy.Config
			if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
				t.Fatal(err)
			}
			cfg.StorageRaw = json.RawMessage(`{"module":"file_system","root":` + jsonString(t.TempDir()) + `}`)
			cfg.Admin = &caddy.AdminConfig{Disabled: true}
			cfg.Logging = &caddy.Logging{Logs: map[string]*caddy.CustomLog{"default": {BaseLog: caddy.BaseLog{WriterRaw: json.RawMessage(`{"output":"discard"}`)}}}}
			err := caddy.Validate(&cfg)
			if err == nil {
				t.Fatal("validate succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, w := range tt.notWanted {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q contains the secret %q", err, w)
				}
			}
		})
	}
}

func assertNoSecrets(t *testing.T, logPath string, secrets ...string) {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("reading Caddy's log: %v", err)
	}
	if len(b) == 0 {
		t.Fatalf("Caddy's log is empty; nothing was checked")
	}
	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			t.Errorf("secret %q appears in Caddy's log", s)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
