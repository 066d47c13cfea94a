package migrate

import (
	"context"
	"strings"
	"testing"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// TestOwners: each certificate goes to the resolver whose sites use it,
// else to the one that held it in the file; a wildcard only to a DNS-01
// resolver; anything else is reported, never guessed.
func TestOwners(t *testing.T) {
	// The file real Traefik v3 wrote for three resolvers of one CA:
	// le-http (HTTP-01), le-tls (TLS-ALPN-01), le-dns (DNS-01).
	file := loadFixture(t, "traefik-v3-acme.json")
	config := Owners{
		Sites: map[string][]string{
			"le-http": {"h2.example.test", "h3.example.test"},
			"le-tls":  {"t1.example.test", "T2.example.test."},
			"le-dns":  {"d1.example.test", "*.wild.example.test"},
		},
		DNS01: map[string]bool{"le-http": false, "le-tls": false, "le-dns": true},
	}
	withFile := config
	withFile.File = file
	moved := withFile // t1 moved from le-tls to le-dns's sites
	moved.Sites = map[string][]string{"le-dns": {"t1.example.test"}}
	catchAll := config
	catchAll.CatchAll = "le-http"
	tests := []struct {
		desc   string
		owners Owners
		names  []string
		want   string // "" = no owner
		why    string // part of the reason
	}{
		{"site of le-http", config, []string{"h2.example.test"}, "le-http", "sites"},
		{"site of le-tls, normalized", config, []string{"t2.example.test"}, "le-tls", "sites"},
		{"wildcard of the DNS-01 resolver", config, []string{"*.wild.example.test"}, "le-dns", "sites"},
		{"no site, empty file", config, []string{"x.example.test"}, "", "no resolver owns it"},
		{"no site, held in the file", withFile, []string{"x.example.test", "h1.example.test"}, "le-http", "file"},
		{"sites win over the file", moved, []string{"t1.example.test"}, "le-dns", "sites"},
		{"names of two resolvers' sites", config, []string{"h2.example.test", "t1.example.test"}, "", "several resolvers"},
		{"catch-all after the file", catchAll, []string{"new.example.test"}, "le-http", "default issuer"},
		{"wildcard for the HTTP-01 catch-all", catchAll, []string{"*.other.example.test"}, "", "DNS-01"},
		{"wildcard held by an HTTP-01 resolver in the file", Owners{
			File:  acmejson.File{"le-http": {Certificates: []*acmejson.Certificate{{Domain: acmejson.Domain{Main: "*.w.example.test"}}}}},
			DNS01: map[string]bool{"le-http": false},
		}, []string{"*.w.example.test"}, "", "DNS-01"},
		{"wildcard held in the file, challenge unknown", Owners{
			File: acmejson.File{"dns": {Certificates: []*acmejson.Certificate{{Domain: acmejson.Domain{Main: "*.w.example.test"}}}}},
		}, []string{"*.w.example.test"}, "dns", "file"},
		{"given with --domain, no config", Owners{Explicit: map[string]string{"a.example.test": "le"}}, []string{"a.example.test"}, "le", "--domain"},
		{"wildcard given with --domain, no config", Owners{Explicit: map[string]string{"*.example.test": "le"}}, []string{"*.example.test"}, "", "--config"},
		{"nothing known", Owners{}, []string{"a.example.test"}, "", "--config"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, why := tt.owners.Owner(tt.names)
			if got != tt.want || !strings.Contains(why, tt.why) {
				t.Errorf("Owner(%v) = %q, %q; want %q and a reason with %q", tt.names, got, why, tt.want, tt.why)
			}
		})
	}
}

// TestExportKeepsEachResolversAccount: the file real Traefik v3 wrote has
// three resolvers with three accounts under one email at one CA. Caddy
// keeps one account per CA and email, so after an import of the three only
// the first is Caddy's; an export must give every resolver back its own.
func TestExportKeepsEachResolversAccount(t *testing.T) {
	ctx := context.Background()
	const ca = "https://127.0.0.1:14000/dir"
	file := loadFixture(t, "traefik-v3-acme.json")
	storage := newStorage(t)
	for _, name := range file.ResolverNames() {
		if _, err := Import(ctx, storage, file[name], ImportOptions{CA: ca, Resolver: name, Now: fixedNow}); err != nil {
			t.Fatalf("import %s: %v", name, err)
		}
	}
	res, rep, err := Export(ctx, storage, IssuerKeyFromCA(ca), ExportOptions{Email: "bench@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Account == nil || res.Account.Registration.URI != file["le-dns"].Account.Registration.URI {
		t.Fatalf("Caddy's account is not the first resolver's (le-dns)")
	}
	for _, name := range file.ResolverNames() {
		used := false
		for _, c := range res.Certificates {
			if file[name].Find(c.Domain.Main) >= 0 && rep.IssuedBy[c.Domain.Main] == res.Account.Registration.URI {
				used = true
			}
		}
		write, why := ExportAccount(file[name].Account, res.Account, ca, used)
		if write {
			t.Errorf("resolver %s: export would replace its account: %s", name, why)
		}
	}

	// Into an empty file, each resolver gets the account Import recorded
	// for it; without a record, the account Caddy holds.
	for _, name := range file.ResolverNames() {
		own, err := LoadResolverAccount(ctx, storage, IssuerKeyFromCA(ca), name)
		if err != nil {
			t.Fatal(err)
		}
		if own == nil || own.Registration.URI != file[name].Account.Registration.URI || string(own.PrivateKey) != string(file[name].Account.PrivateKey) {
			t.Errorf("resolver %s: recorded account is not its own", name)
		}
	}
	if own, err := LoadResolverAccount(ctx, storage, IssuerKeyFromCA(ca), "other"); own != nil || err != nil {
		t.Errorf("resolver never imported: recorded account %v, %v; want none", own, err)
	}
	if write, why := ExportAccount(nil, res.Account, ca, false); !write {
		t.Errorf("into a resolver without an account: not written (%s)", why)
	}
}

// TestExportAccount covers the other cases of the account choice.
func TestExportAccount(t *testing.T) {
	file := loadFixture(t, "traefik-v3-acme.json")
	own := file["le-http"].Account
	other := file["le-tls"].Account
	const ca = "https://127.0.0.1:14000/dir"
	withEmail := func(a *acmejson.Account, email string) *acmejson.Account {
		c := *a
		c.Email = email
		return &c
	}
	withURI := func(a *acmejson.Account, uri string) *acmejson.Account {
		c := *a
		r := *a.Registration
		r.URI = uri
		c.Registration = &r
		return &c
	}
	tests := []struct {
		desc        string
		file, caddy *acmejson.Account
		used        bool
		write       bool
	}{
		{"nothing in Caddy", own, nil, false, false},
		{"same account", own, own, true, false},
		{"same email, not used", own, other, false, false},
		{"same email, used (shared by Caddy)", own, other, true, false},
		{"other email, used", own, withEmail(other, "new@example.org"), true, true},
		{"other email, not used", own, withEmail(other, "new@example.org"), false, false},
		{"file account at another CA", withURI(own, "https://acme-staging-v02.api.letsencrypt.org/acme/acct/1"), other, false, true},
		{"file account never registered", withURI(own, ""), other, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if write, why := ExportAccount(tt.file, tt.caddy, ca, tt.used); write != tt.write {
				t.Errorf("write = %v (%s), want %v", write, why, tt.write)
			}
		})
	}
}
