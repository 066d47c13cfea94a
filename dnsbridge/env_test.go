package dnsbridge

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libdns/cloudflare"
	"github.com/libdns/digitalocean"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestFileVariables(t *testing.T) {
	secretFile := writeFile(t, "do-token", "do-secret-from-file\r\n")
	lfFile := writeFile(t, "do-token-lf", "line-feed-only\n")
	missing := filepath.Join(t.TempDir(), "nope")

	for _, tc := range []struct {
		desc      string
		env       map[string]string
		wantToken string
		wantErr   []string
	}{
		{
			desc:      "file read, trailing CRLF trimmed",
			env:       map[string]string{"DO_AUTH_TOKEN_FILE": secretFile},
			wantToken: "do-secret-from-file",
		},
		{
			desc:      "file read, trailing LF trimmed",
			env:       map[string]string{"DO_AUTH_TOKEN_FILE": lfFile},
			wantToken: "line-feed-only",
		},
		{
			desc:      "variable wins over its file",
			env:       map[string]string{"DO_AUTH_TOKEN": "direct", "DO_AUTH_TOKEN_FILE": secretFile},
			wantToken: "direct",
		},
		{
			desc:      "empty variable falls back to its file",
			env:       map[string]string{"DO_AUTH_TOKEN": "", "DO_AUTH_TOKEN_FILE": secretFile},
			wantToken: "do-secret-from-file",
		},
		{
			desc: "unreadable file is missing, the error says why without content",
			env:  map[string]string{"DO_AUTH_TOKEN_FILE": missing},
			wantErr: []string{
				"digitalocean: some credentials information are missing: DO_AUTH_TOKEN",
				"DO_AUTH_TOKEN_FILE could not be read", missing, "no such file or directory",
			},
		},
		{
			desc:    "file variables work for tuning variables too",
			env:     map[string]string{"DO_AUTH_TOKEN": "x", "DO_TTL_FILE": writeFile(t, "ttl", "2m\n")},
			wantErr: []string{"digitalocean: parsing DO_TTL"},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			prov, _, err := New("digitalocean", Options{Lookup: mapLookup(tc.env)})
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("New succeeded, want error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := prov.(*digitalocean.Provider).APIToken; got != tc.wantToken {
				t.Errorf("APIToken = %q, want %q", got, tc.wantToken)
			}
		})
	}
}

func TestOverridePrecedence(t *testing.T) {
	fileB := writeFile(t, "token", "from-override-file\n")
	for _, tc := range []struct {
		desc      string
		lookup    map[string]string
		overrides map[string]string
		want      string
	}{
		{
			desc:      "override beats environment for the same name",
			lookup:    map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "env"},
			overrides: map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "override"},
			want:      "override",
		},
		{
			desc:      "override _FILE beats environment value",
			lookup:    map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "env"},
			overrides: map[string]string{"CLOUDFLARE_DNS_API_TOKEN_FILE": fileB},
			want:      "from-override-file",
		},
		{
			desc:      "override of the legacy name beats environment primary name",
			lookup:    map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "env"},
			overrides: map[string]string{"CF_DNS_API_TOKEN": "override"},
			want:      "override",
		},
		{
			desc:      "override of the primary name beats environment legacy name",
			lookup:    map[string]string{"CF_DNS_API_TOKEN": "env"},
			overrides: map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "override"},
			want:      "override",
		},
		{
			desc:      "empty override falls through to the environment",
			lookup:    map[string]string{"CF_DNS_API_TOKEN": "env"},
			overrides: map[string]string{"CLOUDFLARE_DNS_API_TOKEN": ""},
			want:      "env",
		},
		{
			desc:   "primary name beats legacy name within one layer",
			lookup: map[string]string{"CF_DNS_API_TOKEN": "legacy", "CLOUDFLARE_DNS_API_TOKEN": "primary"},
			want:   "primary",
		},
		{
			desc:      "overrides alone, no lookup",
			overrides: map[string]string{"CF_DNS_API_TOKEN": "only-override"},
			want:      "only-override",
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			opts := Options{Overrides: tc.overrides}
			if tc.lookup != nil {
				opts.Lookup = mapLookup(tc.lookup)
			}
			prov, _, err := New("cloudflare", opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := prov.(*cloudflare.Provider).APIToken; got != tc.want {
				t.Errorf("APIToken = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMissingVariablesError(t *testing.T) {
	for _, tc := range []struct {
		desc, code string
		env        map[string]string
		want       string
	}{
		{
			desc: "cloudflare names the alternative",
			code: "cloudflare",
			want: "cloudflare: some credentials information are missing: CLOUDFLARE_DNS_API_TOKEN (or CF_DNS_API_TOKEN)",
		},
		{
			desc: "all missing variables in one error",
			code: "netcup",
			env:  map[string]string{"NETCUP_API_KEY": "k"},
			want: "netcup: some credentials information are missing: NETCUP_CUSTOMER_NUMBER, NETCUP_API_PASSWORD",
		},
		{
			desc: "three alternatives",
			code: "rfc2136",
			env:  map[string]string{"RFC2136_NAMESERVER": "127.0.0.1", "RFC2136_TSIG_KEY": "k"},
			want: "rfc2136: some credentials information are missing: DNSUPDATE_TSIG_SECRET (or RFC2136_TSIG_SECRET)",
		},
		{
			desc: "hetzner token or legacy key",
			code: "hetzner",
			want: "hetzner: some credentials information are missing: HETZNER_API_TOKEN (or HETZNER_API_KEY)",
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, _, err := New(tc.code, Options{Lookup: mapLookup(tc.env)})
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v\nwant    %s", err, tc.want)
			}
			if !errors.Is(err, ErrMissingCredentials) {
				t.Errorf("error does not wrap ErrMissingCredentials")
			}
		})
	}
}

func TestDisagreeingAlternativesWarn(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	env := map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "primary-secret", "CF_DNS_API_TOKEN": "legacy-secret"}
	if _, _, err := New("cloudflare", Options{Lookup: mapLookup(env), Logger: zap.New(core)}); err != nil {
		t.Fatalf("New: %v", err)
	}
	entries := logs.FilterMessage("environment variables disagree; using the first").All()
	if len(entries) != 1 {
		t.Fatalf("got %d disagreement warnings, want 1: %v", len(entries), logs.All())
	}
	fields := entries[0].ContextMap()
	if fields["env"] != "CLOUDFLARE_DNS_API_TOKEN" || fields["ignored_env"] != "CF_DNS_API_TOKEN" {
		t.Errorf("warning fields = %v", fields)
	}
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, "secret") {
				t.Errorf("log entry %q field %s leaks a secret: %q", e.Message, k, s)
			}
		}
	}
}
