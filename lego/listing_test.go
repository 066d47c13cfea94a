package lego

import (
	"testing"

	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
)

// TestListingWithBridge: with the bridge linked (importing this package),
// `caddy traefik dns-providers` reports lego for lego-only codes, the lego
// fallback for codes a libdns provider serves, and lego's variables.
func TestListingWithBridge(t *testing.T) {
	p, ok := dnsbridge.ProviderByCode("infomaniak", nil)
	if !ok || p.ServedBy != dnsbridge.ServedByLego || p.Module != dnsbridge.BridgeModule || len(p.Env) == 0 {
		t.Errorf("infomaniak = %+v", p)
	}
	p, _ = dnsbridge.ProviderByCode("cloudflare", func(k string) (string, bool) { return "x", k == "CF_API_KEY" })
	if p.ServedBy != dnsbridge.ServedByLibdns || !p.LegoFallback {
		t.Errorf("cloudflare = %+v", p)
	}
	found := false
	for _, v := range p.Env {
		if v.Name == "CF_API_KEY" {
			found = v.Set == "env" && len(v.ReadBy) == 1 && v.ReadBy[0] == dnsbridge.ServedByLego
		}
	}
	if !found {
		t.Errorf("cloudflare env lacks CF_API_KEY read by lego and set: %+v", p.Env)
	}
	for _, lp := range dnsbridge.Providers(nil) {
		if lp.ServedBy == dnsbridge.ServedByMissing && lp.Reason == "" {
			t.Errorf("%s: not in this build without a reason", lp.Code)
		}
	}
}
