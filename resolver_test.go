package traefikacme

import (
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
)

// TestCertificateTimeoutFloor checks that certificateTimeout never makes
// certmagic give up on an order sooner than plain Caddy would.
func TestCertificateTimeoutFloor(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	tests := []struct {
		desc string
		set  time.Duration
		want time.Duration
	}{
		{"traefik default", 30 * time.Second, 5 * time.Minute},
		{"longer than the floor", 10 * time.Minute, 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			res := &config.ACME{TLSChallenge: &config.TLSChallenge{}}
			res.SetDefaults("test")
			res.CertificateTimeout = config.Duration(tt.set)
			iss, err := buildACMEIssuer(ctx, "le", res, nil, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(iss.ACMETimeout); got != tt.want {
				t.Errorf("ACME timeout %s, want %s", got, tt.want)
			}
		})
	}
}

// TestDNSChallengeConfigFromTraefikValues checks what reaches certmagic
// from values Traefik copies or normalises: the deprecated delayBeforeCheck
// wins over propagation.delayBeforeChecks, and resolvers go through as
// written (certmagic adds port 53, as lego does) without empty entries.
func TestDNSChallengeConfigFromTraefikValues(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	res := &config.ACME{DNSChallenge: &config.DNSChallenge{
		Provider:         "exec",
		Env:              map[string]string{"EXEC_PATH": "/bin/true"},
		Resolvers:        []string{"1.1.1.1", "", "8.8.8.8:5353"},
		DelayBeforeCheck: config.Duration(10 * time.Second),
		Propagation:      &config.Propagation{DelayBeforeChecks: config.Duration(20 * time.Second)},
	}}
	res.SetDefaults("certificatesResolvers.le.acme")
	cfg, err := dnsChallengeConfig(ctx, "le", res.DNSChallenge)
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(cfg.PropagationDelay); got != 10*time.Second {
		t.Errorf("propagation delay %s, want 10s (the deprecated delayBeforeCheck wins, as in Traefik)", got)
	}
	if want := []string{"1.1.1.1", "8.8.8.8:5353"}; !slices.Equal(cfg.Resolvers, want) {
		t.Errorf("resolvers %q, want %q", cfg.Resolvers, want)
	}
}
