package dnsbridge

import (
	"slices"
	"strings"
	"testing"
)

func TestProvidersListing(t *testing.T) {
	lookup := mapLookup(map[string]string{"CF_DNS_API_TOKEN_FILE": "/run/secrets/cf", "EXEC_PATH": "/bin/hook"})

	t.Run("without the bridge", func(t *testing.T) {
		unregisterBridgeForTest(t)
		p, ok := ProviderByCode("infomaniak", lookup)
		if !ok || p.ServedBy != ServedByMissing || !strings.Contains(p.Reason, BridgeBuildHint) {
			t.Errorf("infomaniak = %+v", p)
		}
		p, _ = ProviderByCode("cloudflare", lookup)
		if p.ServedBy != ServedByLibdns || p.LegoFallback {
			t.Errorf("cloudflare = %+v", p)
		}
		i := slices.IndexFunc(p.Env, func(v EnvVarInfo) bool { return v.Name == "CF_DNS_API_TOKEN" })
		if i < 0 || p.Env[i].Set != "file" || !p.Env[i].Required || !slices.Equal(p.Env[i].Alternatives, []string{"CLOUDFLARE_DNS_API_TOKEN"}) {
			t.Errorf("CF_DNS_API_TOKEN = %+v", p.Env)
		}
		if _, ok := ProviderByCode("nosuchdns", lookup); ok {
			t.Errorf("unknown code found")
		}
		all := Providers(lookup)
		if len(all) < len(LegoCodes()) {
			t.Errorf("%d providers listed, lego alone has %d codes", len(all), len(LegoCodes()))
		}
	})

	t.Run("with the bridge", func(t *testing.T) {
		registerFakeBridge(t)
		p, _ := ProviderByCode("infomaniak", lookup)
		if p.ServedBy != ServedByLego || p.Module != BridgeModule {
			t.Errorf("infomaniak = %+v", p)
		}
		p, _ = ProviderByCode("cloudflare", lookup)
		if p.ServedBy != ServedByLibdns || !p.LegoFallback {
			t.Errorf("cloudflare = %+v", p)
		}
		p, _ = ProviderByCode("exec", lookup)
		if p.ServedBy != ServedByNative || !p.Sequential {
			t.Errorf("exec = %+v", p)
		}
	})
}
