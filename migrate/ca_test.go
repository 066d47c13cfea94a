package migrate

import (
	"errors"
	"strings"
	"testing"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// TestCAFromAccount: the CA comes from the account's registration URI, as
// Traefik decides which CA an account belongs to; a CA that cannot be told
// is an error, never Let's Encrypt production.
func TestCAFromAccount(t *testing.T) {
	acct := func(uri string) *acmejson.Account {
		return &acmejson.Account{Email: "ops@example.org", Registration: &acmejson.Registration{URI: uri}}
	}
	tests := []struct {
		desc string
		acct *acmejson.Account
		want string // "" = ErrUnknownCA
	}{
		{"production", acct("https://acme-v02.api.letsencrypt.org/acme/acct/123"), "https://acme-v02.api.letsencrypt.org/directory"},
		{"staging", acct("https://acme-staging-v02.api.letsencrypt.org/acme/acct/42"), "https://acme-staging-v02.api.letsencrypt.org/directory"},
		{"ACMEv1 production (traefik v1)", acct("https://acme-v01.api.letsencrypt.org/acme/reg/7"), "https://acme-v02.api.letsencrypt.org/directory"},
		{"ACMEv1 staging (traefik v1)", acct("https://acme-staging.api.letsencrypt.org/acme/reg/7"), "https://acme-staging-v02.api.letsencrypt.org/directory"},
		{"zerossl", acct("https://acme.zerossl.com/v2/DV90/account/abc"), "https://acme.zerossl.com/v2/DV90"},
		{"upper-case host", acct("https://ACME-V02.api.letsencrypt.org/acme/acct/1"), "https://acme-v02.api.letsencrypt.org/directory"},
		{"private CA (pebble)", acct("https://127.0.0.1:14000/my-account/1"), ""},
		{"known host, other port", acct("https://acme-v02.api.letsencrypt.org:8443/acme/acct/1"), ""},
		{"no registration uri", &acmejson.Account{Email: "ops@example.org", Registration: &acmejson.Registration{}}, ""},
		{"never registered", &acmejson.Account{Email: "ops@example.org"}, ""},
		{"no account", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := CAFromAccount(tt.acct)
			if tt.want == "" {
				if !errors.Is(err, ErrUnknownCA) {
					t.Fatalf("CAFromAccount = %q, %v; want ErrUnknownCA", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CAFromAccount = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestReportString: counts agree with their nouns.
func TestReportString(t *testing.T) {
	tests := []struct {
		rep     Report
		want    string
		changed bool
	}{
		{Report{IssuerKey: "k", Imported: []string{"a"}, Account: AccountNone}, "issuer k: 1 name imported (0 expired)", true},
		{Report{IssuerKey: "k", Imported: []string{"a", "b"}, Account: AccountNone}, "issuer k: 2 names imported (0 expired)", true},
		{Report{IssuerKey: "k", Unchanged: []string{"a"}, Account: AccountUnchanged}, "issuer k: 0 names imported (0 expired), 1 unchanged", false},
		{Report{IssuerKey: "k", Account: AccountImported}, "issuer k: 0 names imported", true},
	}
	for _, tt := range tests {
		if got := tt.rep.String(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("String() = %q, want prefix %q", got, tt.want)
		}
		if tt.rep.Changed() != tt.changed {
			t.Errorf("%q: Changed() = %v, want %v", tt.rep.String(), tt.rep.Changed(), tt.changed)
		}
	}
}
