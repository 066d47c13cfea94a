package lego

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/ac075510/caddy-traefik-acme" // the traefik_acme app and issuer
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
	"github.com/ac075510/caddy-traefik-acme/internal/dnsfakes"
)

// obtainTimeout bounds how long one certificate may take under heavy CPU
// contention; it is a bound for a broken run, never a speed assertion.
const obtainTimeout = 3 * time.Minute

// TestBridgeDNS01 obtains certificates from the test CA (Pebble) through a
// real Caddy started from a Caddyfile, each resolver served by lego's own
// provider code through this bridge, talking to servers on loopback:
//
//   - dnsupdate/rfc2136: TSIG-signed updates into the DNS server the CA's
//     validation queries (forced to lego: the core has a libdns rfc2136);
//   - httpreq with HTTPREQ_MODE=RAW (forced to lego);
//   - exec with EXEC_MODE=RAW for a wildcard and its apex, against a
//     script that keeps ONE TXT value per name (forced to lego): lego's
//     exec is Sequential, so the two certificates' challenges for the
//     shared TXT name never overlap;
//   - acme-dns against the acme-dns API fake, with lego's storage file;
//   - pdns against the PowerDNS API fake;
//   - cloudflare with the global API key (CF_API_EMAIL + CF_API_KEY), a
//     form the libdns provider refuses, so the selection rule picks lego
//     without being forced; lego's CLOUDFLARE_BASE_URL points it at the
//     Cloudflare fake.
//
// Secrets must not appear in Caddy's log.
func TestBridgeDNS01(t *testing.T) {
	ca := acmetest.Start(t)
	sink := ca.DNS()
	dir := t.TempDir()

	hr := dnsfakes.NewHTTPReq(t, sink, "", "")
	execSink := dnsfakes.NewReplaceSink(sink)
	ex := dnsfakes.NewExecForwarder(t, execSink)

	acmeDNS := dnsfakes.NewACMEDNS(t, sink)
	acct := acmeDNS.AddAccount("acmedns.lego.test")
	storage, err := json.Marshal(map[string]any{"acmedns.lego.test": map[string]any{
		"fulldomain": acct.FullDomain, "subdomain": acct.SubDomain, "username": acct.Username,
		"password": acct.Password, "server_url": acmeDNS.URL,
	}})
	if err != nil {
		t.Fatal(err)
	}
	acmeDNSStorage := filepath.Join(dir, "acme-dns.json")
	if err := os.WriteFile(acmeDNSStorage, storage, 0o600); err != nil {
		t.Fatal(err)
	}

	const pdnsKey = "pdns-api-key-do-not-log"
	pdns := dnsfakes.NewPowerDNS(t, sink, pdnsKey)
	pdns.AddZone("lego.test")

	const cfKey = "cf-global-api-key-do-not-log"
	cf := dnsfakes.NewCloudflare(t, sink, "unused-token-0123456789abcdefghijklmn")
	cf.SetGlobalKey("ops@lego.test", cfKey)
	cf.AddZone("lego.test")

	data := map[string]string{
		"Dir": ca.DirectoryURL(), "CAPEM": ca.ServerCertPEMFile(),
		"HTTPPort": strconv.Itoa(ca.HTTPPort()), "HTTPSPort": strconv.Itoa(ca.TLSALPNPort()),
		"Storage": filepath.Join(dir, "storage"), "Log": filepath.Join(dir, "caddy.log"),
		"DNS": ca.DNSAddr(), "TSIGKey": ca.TSIGKeyName(), "TSIGSecret": ca.TSIGSecret(),
		"HTTPReq": hr.URL, "Exec": ex.Path, "ACMEDNS": acmeDNS.URL, "ACMEDNSStorage": acmeDNSStorage,
		"PDNS": pdns.URL, "PDNSKey": pdnsKey, "CF": cf.URL, "CFKey": cfKey,
	}
	startCaddy(t, data, `{
	admin off
	skip_install_trust
	storage file_system {{.Storage}}
	http_port {{.HTTPPort}}
	https_port {{.HTTPSPort}}
	default_bind 127.0.0.1
	log {
		output file {{.Log}}
		format json
		level DEBUG
	}
	traefik_acme {
		resolver rfc {
			email rfc@lego.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge rfc2136 {
				resolvers {{.DNS}}
				propagation {
					disable_ans_checks
					require_all_rns
				}
				env TRAEFIK_ACME_DNS_BACKEND lego
				env RFC2136_NAMESERVER {{.DNS}}
				env RFC2136_TSIG_KEY {{.TSIGKey}}
				env RFC2136_TSIG_SECRET {{.TSIGSecret}}
				env RFC2136_TSIG_ALGORITHM hmac-sha256.
				env RFC2136_SEQUENCE_INTERVAL 1
				env RFC2136_POLLING_INTERVAL 1
			}
		}
		resolver httpreq {
			email httpreq@lego.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge httpreq {
				resolvers {{.DNS}}
				propagation {
					disable_ans_checks
					require_all_rns
				}
				env TRAEFIK_ACME_DNS_BACKEND lego
				env HTTPREQ_ENDPOINT {{.HTTPReq}}
				env HTTPREQ_MODE RAW
				env HTTPREQ_POLLING_INTERVAL 1
			}
		}
		resolver exec {
			email exec@lego.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge exec {
				resolvers {{.DNS}}
				propagation {
					disable_ans_checks
					require_all_rns
				}
				env TRAEFIK_ACME_DNS_BACKEND lego
				env EXEC_PATH {{.Exec}}
				env EXEC_MODE RAW
				env EXEC_SEQUENCE_INTERVAL 1
				env EXEC_POLLING_INTERVAL 1
			}
		}
		resolver acmedns {
			email acmedns@lego.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge acme-dns {
				resolvers {{.DNS}}
				propagation {
					disable_ans_checks
					require_all_rns
				}
				env TRAEFIK_ACME_DNS_BACKEND lego
				env ACME_DNS_API_BASE {{.ACMEDNS}}
				env ACME_DNS_STORAGE_PATH {{.ACMEDNSStorage}}
			}
		}
		resolver pdns {
			email pdns@lego.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge pdns {
				resolvers {{.DNS}}
				propagation {
					disable_ans_checks
					require_all_rns
				}
				env TRAEFIK_ACME_DNS_BACKEND lego
				env PDNS_API_URL {{.PDNS}}
				env PDNS_API_KEY {{.PDNSKey}}
				env PDNS_POLLING_INTERVAL 1
			}
		}
		resolver cf {
			email cf@lego.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge cloudflare {
				resolvers {{.DNS}}
				propagation {
					disable_ans_checks
					require_all_rns
				}
				env CF_API_EMAIL ops@lego.test
				env CF_API_KEY {{.CFKey}}
				env CLOUDFLARE_BASE_URL {{.CF}}
				env CLOUDFLARE_POLLING_INTERVAL 1
			}
		}
	}
}
rfc.lego.test {
	tls {
		issuer traefik rfc
	}
}
httpreq.lego.test {
	tls {
		issuer traefik httpreq
	}
}
*.exec.lego.test, exec.lego.test {
	tls {
		issuer traefik exec
	}
}
acmedns.lego.test {
	tls {
		issuer traefik acmedns
	}
}
pdns.lego.test {
	tls {
		issuer traefik pdns
	}
}
cf.lego.test {
	tls {
		issuer traefik cf
	}
}
`)
	addr := net.JoinHostPort("127.0.0.1", data["HTTPSPort"])
	for _, name := range []string{"rfc.lego.test", "httpreq.lego.test", "exec.lego.test", "any.exec.lego.test",
		"acmedns.lego.test", "pdns.lego.test", "cf.lego.test"} {
		leaf := waitCert(t, addr, name, ca.RootPool())
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// lego's own providers did the work, in lego's forms.
	logText := readFile(t, data["Log"])
	for _, code := range []string{"rfc2136", "httpreq", "exec", "acme-dns", "pdns", "cloudflare"} {
		found := false
		for _, line := range strings.Split(logText, "\n") {
			if strings.Contains(line, "dns provider served by lego's own provider code") && strings.Contains(line, `"provider":"`+code+`"`) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("Caddy's log does not say lego serves %s", code)
		}
	}
	for _, r := range hr.Requests() {
		if !r.Raw || r.Domain != "httpreq.lego.test" || r.Token == "" {
			t.Errorf("httpreq request %+v: want RAW with domain httpreq.lego.test", r)
		}
	}
	if len(hr.Requests()) < 2 {
		t.Errorf("httpreq requests = %+v", hr.Requests())
	}
	presented := 0
	for _, c := range ex.Calls() {
		if len(c) != 5 || c[1] != "--" || c[2] != "exec.lego.test" {
			t.Errorf("exec call %q: want present|cleanup -- exec.lego.test <token> <keyAuth>", c)
			continue
		}
		if c[0] == "present" {
			presented++
		} else {
			presented--
		}
		if presented > 1 {
			t.Errorf("exec: two challenges presented at once: %q", ex.Calls())
			break
		}
	}
	if got := execSink.Clobbers(); len(got) > 0 {
		t.Errorf("exec: a present replaced a value still in use: %v", got)
	}
	if len(acmeDNS.TXT(acct.SubDomain)) == 0 {
		t.Errorf("acme-dns was never updated: %v", acmeDNS.Requests())
	}
	if !containsPrefix(pdns.Requests(), "PATCH /api/v1/servers/localhost/zones/lego.test. 204") {
		t.Errorf("PowerDNS was never patched: %v", pdns.Requests())
	}
	if len(cf.Requests()) == 0 {
		t.Errorf("the Cloudflare API was never called")
	}

	stopCaddy(t)
	logText = readFile(t, data["Log"])
	for _, secret := range []string{ca.TSIGSecret(), pdnsKey, cfKey, acct.Password} {
		if strings.Contains(logText, secret) {
			t.Errorf("a secret appears in Caddy's log")
		}
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startCaddy renders the Caddyfile template with data, adapts it and runs
// Caddy in this process until the test ends.
func startCaddy(t *testing.T, data map[string]string, tmpl string) {
	t.Helper()
	var buf bytes.Buffer
	if err := template.Must(template.New("Caddyfile").Parse(tmpl)).Execute(&buf, data); err != nil {
		t.Fatal(err)
	}
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(buf.Bytes(), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting the Caddyfile: %v", err)
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		t.Fatalf("starting Caddy: %v", err)
	}
	t.Cleanup(func() { stopCaddy(t) })
}

func stopCaddy(t *testing.T) {
	t.Helper()
	if err := caddy.Stop(); err != nil {
		t.Errorf("stopping Caddy: %v", err)
	}
}

// waitCert waits until Caddy at addr serves name a certificate that
// verifies against roots, and returns its leaf.
func waitCert(t *testing.T, addr, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), obtainTimeout)
	defer cancel()
	var last error
	for {
		d := tls.Dialer{Config: &tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12}}
		hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := d.DialContext(hctx, "tcp", addr)
		hcancel()
		if err == nil {
			leaf := conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
			_ = conn.Close()
			return leaf
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("no certificate for %s: %v", name, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
