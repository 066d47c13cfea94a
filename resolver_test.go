package traefikacme

import (
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
