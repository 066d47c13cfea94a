package traefikacme

import (
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

// orderRateLimitCaddyfile has two resolvers on one CA with different
// accounts; {{.Extra.Limit}} is the "le" resolver's order_rate_limit line.
const orderRateLimitCaddyfile = `{
{{template "preamble" .}}
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver le {
			email Ops@Example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			http_challenge web
			{{.Extra.Limit}}
		}
		resolver other {
			email other@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			http_challenge web
		}
	}
}
a.example.test {
	tls {
		issuer traefik le
	}
	respond "ok"
}
b.example.test {
	tls {
		issuer traefik other
	}
	respond "ok"
}
`

// TestOrderRateLimitReachesCertmagic checks that order_rate_limit sets the
// limiter certmagic really consults for the resolver's account, leaves
// other accounts at certmagic's default, and is undone by a reload without
// it. The "other" account's limiter is created by certmagic itself when it
// places its first order: finding it through the linked map proves that the
// map is certmagic's.
func TestOrderRateLimitReachesCertmagic(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	env.Extra["Limit"] = "order_rate_limit 50 1m"
	env.startCaddy(t, orderRateLimitCaddyfile)
	for _, name := range []string{"a.example.test", "b.example.test"} {
		env.waitCert(t, name, ca.RootPool(), obtainTimeout, nil)
		if got := ca.OrdersFor(name); got != 1 {
			t.Errorf("%s: %d orders at the CA, want 1", name, got)
		}
	}
	dir := ca.DirectoryURL()
	check := func(email string, wantEvents int, wantWindow time.Duration) {
		t.Helper()
		events, window, ok := orderRateLimit(dir, email)
		if !ok || events != wantEvents || window != wantWindow {
			t.Errorf("limiter of %s: %d per %s (exists %v), want %d per %s", email, events, window, ok, wantEvents, wantWindow)
		}
	}
	// TestMain raises certmagic's defaults for the whole package; they are
	// what certmagic gives an account nobody configured.
	defEvents, defWindow := certmagic.RateLimitEvents, certmagic.RateLimitEventsWindow
	check("ops@example.test", 50, time.Minute)
	check("other@example.test", defEvents, defWindow) // made by certmagic

	env.stopCaddy(t)
	env.Extra["Limit"] = ""
	env.startCaddy(t, orderRateLimitCaddyfile)
	check("ops@example.test", defEvents, defWindow)
}
