package migrate

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

func TestIssuerKeyFromCAMatchesCertmagic(t *testing.T) {
	storage := newStorage(t)
	for _, ca := range []string{
		"",
		certmagic.LetsEncryptProductionCA,
		certmagic.LetsEncryptStagingCA,
		certmagic.ZeroSSLProductionCA,
		"https://127.0.0.1:14000/dir",
		"https://127.0.0.1:14300/dir/",
		"https://acme.example.com",
		"https://acme.example.com/",
		"https://acme.example.com//a\\b//",
		"https://ACME.Example.com:8443/Dir?x=1#f",
		"acme.example.com/directory",
		"https://[::1]:14000/dir",
		"%zz-not-a-url",
		"https://user:pw@acme.example/x",
	} {
		t.Run(ca, func(t *testing.T) {
			_, iss := newCertmagic(t, storage, ca, "")
			if got, want := IssuerKeyFromCA(ca), iss.IssuerKey(); got != want {
				t.Errorf("IssuerKeyFromCA(%q) = %q, certmagic says %q", ca, got, want)
			}
		})
	}
}

func TestAccountStorageKeys(t *testing.T) {
	tests := []struct{ email, reg, key string }{
		{"You@Example.com", "acme/k/users/you@example.com/you.json", "acme/k/users/you@example.com/you.key"},
		{"", "acme/k/users/default/default.json", "acme/k/users/default/default.key"},
		{"@x.org", "acme/k/users/@x.org/x.org.json", "acme/k/users/@x.org/x.org.key"},
		{"@", "acme/k/users/@/registration.json", "acme/k/users/@/private.key"},
		{"noat", "acme/k/users/noat/noat.json", "acme/k/users/noat/noat.key"},
		{"a+b c@x.org", "acme/k/users/a_plus_b_c@x.org/a_plus_b_c.json", "acme/k/users/a_plus_b_c@x.org/a_plus_b_c.key"},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			reg, key := AccountStorageKeys("K", tt.email)
			if reg != tt.reg || key != tt.key {
				t.Errorf("got %s %s", reg, key)
			}
		})
	}
	if reg, _ := AccountStorageKeys("127.0.0.1:14000-dir", "a@b"); reg != "acme/127.0.0.1-14000-dir/users/a@b/a.json" {
		t.Errorf("issuer key not made safe: %s", reg)
	}
}

// TestImportFixtures imports every resolver of the real Traefik files and
// checks the exact storage keys and contents, then that certmagic itself
// loads the certificates as managed certificates and finds the account
// without contacting the CA.
func TestImportFixtures(t *testing.T) {
	for _, fx := range fixtures {
		f := loadFixture(t, fx.file)
		for _, rn := range f.ResolverNames() {
			res := f[rn]
			t.Run(fx.file+"/"+rn, func(t *testing.T) {
				storage := newStorage(t)
				email := ""
				if res.Account != nil {
					email = res.Account.Email
				}
				rep, err := Import(t.Context(), storage, res, ImportOptions{CA: fx.ca, Email: email, Now: fixedNow})
				if err != nil {
					t.Fatal(err)
				}
				issuer := IssuerKeyFromCA(fx.ca)
				safeIssuer := certmagic.StorageKeys.Safe(issuer)
				var want []string
				var names []string
				for _, c := range res.Certificates {
					for _, n := range c.Names() {
						names = append(names, n)
						dir := certmagic.StorageKeys.Safe(n)
						for _, ext := range []string{".crt", ".key", ".json"} {
							want = append(want, "certificates/"+safeIssuer+"/"+dir+"/"+dir+ext)
						}
					}
				}
				if res.Account != nil {
					user, _, _ := strings.Cut(email, "@")
					want = append(want, "acme/"+safeIssuer+"/users/"+email+"/"+user+".json", "acme/"+safeIssuer+"/users/"+email+"/"+user+".key")
				}
				slices.Sort(want)
				if got := storedFiles(t, storage); !reflect.DeepEqual(got, want) {
					t.Fatalf("stored keys:\n got %v\nwant %v", got, want)
				}
				if !reflect.DeepEqual(rep.Imported, names) || len(rep.SkippedInvalid)+len(rep.SkippedNewer)+len(rep.Unchanged)+len(rep.Expired) != 0 {
					t.Fatalf("report: %+v", rep)
				}
				if res.Account == nil {
					if rep.Account != AccountNone {
						t.Errorf("account = %s", rep.Account)
					}
					return
				}
				if rep.Account != AccountImported {
					t.Fatalf("account = %s (%s)", rep.Account, rep.AccountDetail)
				}
				checkStoredCerts(t, storage, issuer, fx.ca, res)
				checkStoredAccount(t, storage, issuer, email, res.Account)
				checkCertmagicLoads(t, storage, fx.ca, email, res, names)
			})
		}
	}
}

func checkStoredCerts(t *testing.T, storage certmagic.Storage, issuer, ca string, res *acmejson.Resolver) {
	t.Helper()
	for _, c := range res.Certificates {
		for _, n := range c.Names() {
			if got := mustLoad(t, storage, certmagic.StorageKeys.SiteCert(issuer, n)); !bytes.Equal(got, c.Certificate) {
				t.Errorf("%s: .crt differs from acme.json", n)
			}
			if got := mustLoad(t, storage, certmagic.StorageKeys.SitePrivateKey(issuer, n)); !bytes.Equal(got, c.Key) {
				t.Errorf("%s: .key differs from acme.json", n)
			}
			var meta certmagic.CertificateResource
			if err := json.Unmarshal(mustLoad(t, storage, certmagic.StorageKeys.SiteMeta(issuer, n)), &meta); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(meta.SANs, c.Names()) {
				t.Errorf("%s: sans = %v, want %v", n, meta.SANs, c.Names())
			}
			var data acme.Certificate
			if err := json.Unmarshal(meta.IssuerData, &data); err != nil {
				t.Fatal(err)
			}
			if data.CA != ca || data.Account != res.Account.Registration.URI {
				t.Errorf("%s: issuer_data = %+v", n, data)
			}
		}
	}
}

func checkStoredAccount(t *testing.T, storage certmagic.Storage, issuer, email string, a *acmejson.Account) {
	t.Helper()
	regKey, keyKey := AccountStorageKeys(issuer, email)
	var reg acme.Account
	if err := json.Unmarshal(mustLoad(t, storage, regKey), &reg); err != nil {
		t.Fatal(err)
	}
	if reg.Status != "valid" || reg.Location != a.Registration.URI || !reflect.DeepEqual(reg.Contact, []string{"mailto:" + email}) || !strings.HasPrefix(reg.Orders, "https://127.0.0.1:") {
		t.Errorf("registration = %+v", reg)
	}
	block, _ := pem.Decode(mustLoad(t, storage, keyKey))
	if block == nil || block.Type != "RSA PRIVATE KEY" || !bytes.Equal(block.Bytes, a.PrivateKey) {
		t.Errorf("account key is not the PKCS#1 key from acme.json")
	}
}

func checkCertmagicLoads(t *testing.T, storage certmagic.Storage, ca, email string, res *acmejson.Resolver, names []string) {
	t.Helper()
	cfg, iss := newCertmagic(t, storage, ca, email)
	for i, c := range res.Certificates {
		p, err := c.Parse()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range c.Names() {
			cert, err := cfg.CacheManagedCertificate(t.Context(), n)
			if err != nil {
				t.Fatalf("certmagic cannot load %s: %v", n, err)
			}
			if !slices.Contains(cert.Names, n) || !cert.Leaf.NotAfter.Equal(p.Leaf.NotAfter) {
				t.Errorf("entry %d, %s: certmagic loaded names %v", i, n, cert.Names)
			}
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := iss.PreCheck(ctx, names, false); err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: res.Account.PrivateKey})
	acct, err := iss.GetAccount(ctx, keyPEM)
	if err != nil {
		t.Fatalf("certmagic does not find the account in storage: %v", err)
	}
	if acct.Status != "valid" || acct.Location != res.Account.Registration.URI {
		t.Errorf("certmagic account = %+v", acct)
	}
}

// TestImportAccountEmailsCertmagicFinds checks AccountStorageKeys against
// certmagic's own lookup for awkward emails.
func TestImportAccountEmailsCertmagicFinds(t *testing.T) {
	const ca = "https://127.0.0.1:14000/dir"
	res := loadFixture(t, "traefik-v3-acme.json")["le-tls"]
	for _, email := range []string{"Bench@Example.org", "a+b@x.test", "noat"} {
		t.Run(email, func(t *testing.T) {
			storage := newStorage(t)
			rep, err := Import(t.Context(), storage, &acmejson.Resolver{Account: res.Account}, ImportOptions{CA: ca, Email: email})
			if err != nil || rep.Account != AccountImported {
				t.Fatalf("%v %+v", err, rep)
			}
			_, iss := newCertmagic(t, storage, ca, email)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if err := iss.PreCheck(ctx, []string{"t1.example.test"}, false); err != nil {
				t.Fatal(err)
			}
			acct, err := iss.GetAccount(ctx, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: res.Account.PrivateKey}))
			if err != nil || acct.Location != res.Account.Registration.URI {
				t.Fatalf("certmagic: %v %+v", err, acct)
			}
		})
	}
}

func TestImportIdempotent(t *testing.T) {
	const ca = "https://127.0.0.1:14300/dir"
	res := loadFixture(t, "traefik-v3.6.21-rich-acme.json")["http-ec"]
	storage := newStorage(t)
	opts := ImportOptions{CA: ca, Now: fixedNow}
	first, err := Import(t.Context(), storage, res, opts)
	if err != nil {
		t.Fatal(err)
	}
	files := storedFiles(t, storage)
	before := map[string]os.FileInfo{}
	for _, k := range files {
		fi, err := os.Stat(filepath.Join(storage.Path, k))
		if err != nil {
			t.Fatal(err)
		}
		before[k] = fi
	}
	second, err := Import(t.Context(), storage, res, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Imported) != 0 || !reflect.DeepEqual(second.Unchanged, first.Imported) || second.Account != AccountUnchanged {
		t.Fatalf("second import: %s", second)
	}
	for _, k := range storedFiles(t, storage) {
		fi, err := os.Stat(filepath.Join(storage.Path, k))
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(fi, before[k]) || !fi.ModTime().Equal(before[k].ModTime()) {
			t.Errorf("%s rewritten", k)
		}
	}
	// A missing metadata file (interrupted import) is repaired.
	metaKey := certmagic.StorageKeys.SiteMeta(IssuerKeyFromCA(ca), "b.example.test")
	if err := storage.Delete(t.Context(), metaKey); err != nil {
		t.Fatal(err)
	}
	third, err := Import(t.Context(), storage, res, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(third.Imported, []string{"b.example.test"}) || !storage.Exists(t.Context(), metaKey) {
		t.Fatalf("repair: %s", third)
	}
	if got := first.String(); !strings.HasPrefix(got, "issuer 127.0.0.1:14300-dir: 4 names imported (0 expired), 0 unchanged, 0 skipped (newer in storage), 0 skipped (invalid); account imported") {
		t.Errorf("String() = %q", got)
	}
}

// TestImportSkipsNewer: a certificate Caddy renewed meanwhile is never
// replaced by the older one from acme.json; an older one in storage is.
func TestImportSkipsNewer(t *testing.T) {
	const ca = "https://127.0.0.1:14000/dir"
	issuer := IssuerKeyFromCA(ca)
	res := loadFixture(t, "traefik-v3-acme.json")["le-dns"] // d1.example.test, expires 2027-02-27
	tca := newTestCA(t)
	key, keyPEM := leafKey(t)
	tests := []struct {
		desc     string
		notAfter time.Time
		replaced bool
	}{
		{"newer in storage", time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC), false},
		{"same expiry in storage", mustParsed(t, res.Certificates[0]).Leaf.NotAfter, false},
		{"older in storage", time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC), true},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			storage := newStorage(t)
			chain := tca.issue(t, key, tt.notAfter, int64(i+10), "d1.example.test")
			for k, v := range map[string][]byte{
				certmagic.StorageKeys.SiteCert(issuer, "d1.example.test"):       chain,
				certmagic.StorageKeys.SitePrivateKey(issuer, "d1.example.test"): keyPEM,
				certmagic.StorageKeys.SiteMeta(issuer, "d1.example.test"):       []byte(`{"sans":["d1.example.test"]}`),
			} {
				if err := storage.Store(t.Context(), k, v); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := Import(t.Context(), storage, res, ImportOptions{CA: ca, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			got := mustLoad(t, storage, certmagic.StorageKeys.SiteCert(issuer, "d1.example.test"))
			if tt.replaced {
				if !reflect.DeepEqual(rep.Imported, []string{"d1.example.test"}) || !bytes.Equal(got, res.Certificates[0].Certificate) {
					t.Fatalf("not replaced: %s", rep)
				}
				return
			}
			if !reflect.DeepEqual(rep.SkippedNewer, []string{"d1.example.test"}) || len(rep.Imported) != 0 || !bytes.Equal(got, chain) {
				t.Fatalf("replaced: %s", rep)
			}
		})
	}
}

func mustParsed(t testing.TB, c *acmejson.Certificate) *acmejson.Parsed {
	t.Helper()
	p, err := c.Parse()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportInvalidEntries: broken entries are skipped with a reason, the
// rest is imported, expired certificates are imported and flagged, and of
// two entries for one name the one that expires last wins.
func TestImportInvalidEntries(t *testing.T) {
	const ca = "https://127.0.0.1:14300/dir"
	issuer := IssuerKeyFromCA(ca)
	rich := loadFixture(t, "traefik-v3.6.21-rich-acme.json")
	ec := rich["http-ec"].Certificates
	rsaEntry := rich["tls-rsa"].Certificates[0]
	tca := newTestCA(t)
	key, keyPEM := leafKey(t)
	early := tca.issue(t, key, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 2, "dup.example.test", "old.example.test")
	late := tca.issue(t, key, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 3, "dup.example.test")
	res := &acmejson.Resolver{
		Account: rich["http-ec"].Account,
		Certificates: []*acmejson.Certificate{
			nil,
			{Domain: acmejson.Domain{Main: "nocert.example.test"}, Key: ec[1].Key, Store: "default"},
			{Domain: acmejson.Domain{Main: "mismatch.example.test"}, Certificate: ec[1].Certificate, Key: rsaEntry.Key, Store: "default"},
			{Domain: acmejson.Domain{Main: "garbage.example.test"}, Certificate: []byte("not pem"), Key: ec[1].Key, Store: "default"},
			{Domain: acmejson.Domain{Main: "plain.example.test", SANs: []string{"uncovered.example.test"}}, Certificate: ec[1].Certificate, Key: ec[1].Key, Store: "default"},
			{Domain: acmejson.Domain{Main: "DUP.example.test.", SANs: []string{"old.example.test"}}, Certificate: early, Key: keyPEM, Store: "default"},
			{Domain: acmejson.Domain{Main: "dup.example.test"}, Certificate: late, Key: keyPEM, Store: "default"},
			{Certificate: ec[0].Certificate, Key: ec[0].Key, Store: "default"}, // no domain: names from the leaf
		},
	}
	storage := newStorage(t)
	rep, err := Import(t.Context(), storage, res, ImportOptions{CA: ca, Now: func() time.Time { return time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	wantImported := []string{"plain.example.test", "dup.example.test", "old.example.test", "a.example.test", "b.example.test", "c.example.test"}
	if !reflect.DeepEqual(rep.Imported, wantImported) {
		t.Errorf("imported = %v", rep.Imported)
	}
	if !reflect.DeepEqual(rep.Expired, []string{"old.example.test"}) {
		t.Errorf("expired = %v", rep.Expired)
	}
	if !reflect.DeepEqual(rep.SkippedNewer, []string{"dup.example.test"}) {
		t.Errorf("skipped newer = %v", rep.SkippedNewer)
	}
	wantInvalid := []struct{ name, reason string }{
		{"", "entry 0: certificate entry is null"},
		{"nocert.example.test", "entry 1: certificate entry has an empty certificate"},
		{"mismatch.example.test", "entry 2: checking key pair"},
		{"garbage.example.test", "entry 3: parsing certificate bundle"},
		{"uncovered.example.test", "entry 4: name is not in the certificate"},
	}
	if len(rep.SkippedInvalid) != len(wantInvalid) {
		t.Fatalf("skipped invalid = %+v", rep.SkippedInvalid)
	}
	for i, w := range wantInvalid {
		s := rep.SkippedInvalid[i]
		if strings.Join(s.Names, ",") != w.name || !strings.HasPrefix(s.Reason, w.reason) {
			t.Errorf("skipped %d = %+v, want %s: %s", i, s, w.name, w.reason)
		}
	}
	if got := mustLoad(t, storage, certmagic.StorageKeys.SiteCert(issuer, "dup.example.test")); !bytes.Equal(got, late) {
		t.Error("dup.example.test: the later certificate did not win")
	}
	for _, n := range []string{"nocert.example.test", "mismatch.example.test", "garbage.example.test", "uncovered.example.test"} {
		if storage.Exists(t.Context(), certmagic.StorageKeys.SiteCert(issuer, n)) {
			t.Errorf("%s written", n)
		}
	}
}

func TestImportAccountCases(t *testing.T) {
	const ca = "https://127.0.0.1:14000/dir"
	v3 := loadFixture(t, "traefik-v3-acme.json")
	tlsAcct, httpAcct := v3["le-tls"].Account, v3["le-http"].Account
	withBody := func(body string) *acmejson.Account {
		a := *tlsAcct
		a.Registration = &acmejson.Registration{Body: json.RawMessage(body), URI: tlsAcct.Registration.URI}
		return &a
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc   string
		acct   *acmejson.Account
		opts   ImportOptions
		want   string
		detail string
	}{
		{"no account", nil, ImportOptions{CA: ca}, AccountNone, ""},
		{"no registration", &acmejson.Account{Email: "x@y", PrivateKey: tlsAcct.PrivateKey}, ImportOptions{CA: ca}, AccountSkipped, "account has no registration uri"},
		{"ec key", &acmejson.Account{Email: "x@y", PrivateKey: ecDER, Registration: tlsAcct.Registration}, ImportOptions{CA: ca}, AccountSkipped, "decoding account key: found an EC key"},
		{"deactivated", withBody(`{"status":"deactivated"}`), ImportOptions{CA: ca}, AccountSkipped, `account status is "deactivated"`},
		{"other CA host", tlsAcct, ImportOptions{CA: "https://acme-v02.api.letsencrypt.org/directory"}, AccountSkipped, "registration uri host differs"},
		{"no status in body", withBody(`{"contact":["mailto:bench@example.org"],"x":1}`), ImportOptions{CA: ca}, AccountImported, ""},
		{"issuer key without CA", tlsAcct, ImportOptions{IssuerKey: "custom-key"}, AccountImported, "acme/custom-key/users/bench@example.org/bench.json"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			storage := newStorage(t)
			rep, err := Import(t.Context(), storage, &acmejson.Resolver{Account: tt.acct}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Account != tt.want || !strings.HasPrefix(rep.AccountDetail, tt.detail) {
				t.Fatalf("account = %s (%s)", rep.Account, rep.AccountDetail)
			}
			if tt.want != AccountImported && len(storedFiles(t, storage)) != 0 {
				t.Errorf("files written: %v", storedFiles(t, storage))
			}
			if tt.want == AccountImported {
				var reg acme.Account
				regKey, _ := AccountStorageKeys(rep.IssuerKey, tt.acct.Email)
				if err := json.Unmarshal(mustLoad(t, storage, regKey), &reg); err != nil || reg.Status != "valid" {
					t.Errorf("stored registration: %v %+v", err, reg)
				}
			}
		})
	}

	t.Run("existing different account", func(t *testing.T) {
		storage := newStorage(t)
		if _, err := Import(t.Context(), storage, &acmejson.Resolver{Account: tlsAcct}, ImportOptions{CA: ca}); err != nil {
			t.Fatal(err)
		}
		regKey, keyKey := AccountStorageKeys(IssuerKeyFromCA(ca), "bench@example.org")
		before := mustLoad(t, storage, keyKey)
		rep, err := Import(t.Context(), storage, &acmejson.Resolver{Account: httpAcct}, ImportOptions{CA: ca})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Account != AccountKept || !bytes.Equal(mustLoad(t, storage, keyKey), before) {
			t.Fatalf("existing account not kept: %s", rep)
		}
		rep, err = Import(t.Context(), storage, &acmejson.Resolver{Account: httpAcct}, ImportOptions{CA: ca, OverwriteAccount: true})
		if err != nil {
			t.Fatal(err)
		}
		var reg acme.Account
		if err := json.Unmarshal(mustLoad(t, storage, regKey), &reg); err != nil {
			t.Fatal(err)
		}
		if rep.Account != AccountImported || reg.Location != httpAcct.Registration.URI {
			t.Fatalf("not overwritten: %s", rep)
		}
	})
}

func TestImportArguments(t *testing.T) {
	storage := newStorage(t)
	if _, err := Import(t.Context(), storage, &acmejson.Resolver{}, ImportOptions{}); err == nil {
		t.Error("no error without issuer key or CA")
	}
	if _, err := Import(t.Context(), nil, &acmejson.Resolver{}, ImportOptions{CA: "https://x/dir"}); err == nil {
		t.Error("no error for nil storage")
	}
	rep, err := Import(t.Context(), storage, nil, ImportOptions{CA: "https://x/dir"})
	if err != nil || rep.Account != AccountNone || len(rep.Imported) != 0 {
		t.Errorf("nil resolver: %v %s", err, rep)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := loadFixture(t, "traefik-v3-acme.json")["le-tls"]
	if _, err := Import(ctx, storage, &acmejson.Resolver{Certificates: res.Certificates}, ImportOptions{CA: "https://127.0.0.1:14000/dir"}); err == nil {
		t.Error("no error for a cancelled context")
	}
}
