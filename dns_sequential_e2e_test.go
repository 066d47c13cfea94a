package traefikacme

import (
	"testing"

	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
	"github.com/ac075510/caddy-traefik-acme/internal/dnsfakes"
)

// TestDNS01RawWildcardAndApex obtains "*.exec.test" + "exec.test" through
// native exec with EXEC_MODE=RAW, and "*.http.test" + "http.test" through
// native httpreq with HTTPREQ_MODE=RAW, against a script and an endpoint
// that keep ONE TXT value per name (as most DNS APIs' update calls do).
// Caddy orders the wildcard and the apex as two certificates whose
// challenges share one TXT name; both must be issued, the CA validating
// each against the real DNS record after certmagic's propagation check,
// with no present ever replacing a value still in use: the providers
// present one challenge at a time per name, like lego's Sequential(). RAW
// mode gets the ACME domain, token and key authorization from the traefik
// issuer's DNS-01 wiring.
func TestDNS01RawWildcardAndApex(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	execSink := dnsfakes.NewReplaceSink(ca.DNS())
	httpSink := dnsfakes.NewReplaceSink(ca.DNS())
	ex := dnsfakes.NewExecForwarder(t, execSink)
	hr := dnsfakes.NewHTTPReq(t, httpSink, "", "")

	env.Extra["dns"] = ca.DNSAddr()
	env.Extra["exec"] = ex.Path
	env.Extra["hr_url"] = hr.URL
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		resolver exec {
			email exec@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge exec {
				resolvers {{index .Extra "dns"}}
				env EXEC_PATH {{index .Extra "exec"}}
				env EXEC_MODE RAW
				env EXEC_SEQUENCE_INTERVAL 1
			}
		}
		resolver httpreq {
			email httpreq@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			dns_challenge httpreq {
				resolvers {{index .Extra "dns"}}
				env HTTPREQ_ENDPOINT {{index .Extra "hr_url"}}
				env HTTPREQ_MODE RAW
			}
		}
	}
}
*.exec.test, exec.test {
	tls {
		issuer traefik exec
	}
}
*.http.test, http.test {
	tls {
		issuer traefik httpreq
	}
}
`)
	for _, name := range []string{"exec.test", "any.exec.test", "http.test", "any.http.test"} {
		chain := env.waitCert(t, name, ca.RootPool(), 2*obtainTimeout, nil)
		if err := chain[0].VerifyHostname(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := execSink.Clobbers(); len(got) > 0 {
		t.Errorf("exec: a present replaced a value still in use: %v", got)
	}
	if got := httpSink.Clobbers(); len(got) > 0 {
		t.Errorf("httpreq: a present replaced a value still in use: %v", got)
	}

	// The script saw lego's RAW arguments, the domain without "*.", and
	// never two presents for the name without a cleanup between them.
	calls := ex.Calls()
	presented := 0
	for _, c := range calls {
		if len(c) != 5 || c[1] != "--" || c[2] != "exec.test" || c[3] == "" || c[4] == "" {
			t.Errorf("exec call %q: want present|cleanup -- exec.test <token> <keyAuth>", c)
			continue
		}
		switch c[0] {
		case "present":
			presented++
		case "cleanup":
			presented--
		}
		if presented > 1 {
			t.Errorf("exec: two challenges presented at once: %q", calls)
			break
		}
	}
	if len(calls) < 4 {
		t.Errorf("exec calls = %q, want present and cleanup for the apex and the wildcard", calls)
	}
	reqs := hr.Requests()
	for _, r := range reqs {
		if !r.Raw || r.Domain != "http.test" || r.Token == "" {
			t.Errorf("httpreq request %+v: want RAW with domain http.test", r)
		}
	}
	if len(reqs) < 4 {
		t.Errorf("httpreq requests = %+v, want present and cleanup for the apex and the wildcard", reqs)
	}
	env.stopCaddy(t)
}
