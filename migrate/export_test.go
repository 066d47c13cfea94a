package migrate

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// TestExportRoundTrip: import a real resolver, export it back, and get the
// same certificates, names and account.
func TestExportRoundTrip(t *testing.T) {
	for _, fx := range fixtures {
		f := loadFixture(t, fx.file)
		for _, rn := range f.ResolverNames() {
			res := f[rn]
			if res == nil || res.Account == nil {
				continue
			}
			t.Run(fx.file+"/"+rn, func(t *testing.T) {
				storage := newStorage(t)
				issuer := IssuerKeyFromCA(fx.ca)
				if _, err := Import(t.Context(), storage, res, ImportOptions{CA: fx.ca, Now: fixedNow}); err != nil {
					t.Fatal(err)
				}
				out, rep, err := Export(t.Context(), storage, issuer, ExportOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Account != AccountExported || len(rep.Skipped) != 0 {
					t.Fatalf("report: %+v", rep)
				}
				if len(out.Certificates) != len(res.Certificates) {
					t.Fatalf("%d certificates exported, want %d", len(out.Certificates), len(res.Certificates))
				}
				for _, want := range res.Certificates {
					got := out.Certificates[out.Find(want.Domain.Main)]
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s: exported entry differs:\n got %+v\nwant %+v", want.Domain.Main, got.Domain, want.Domain)
					}
				}
				a, want := out.Account, res.Account
				if a.Email != want.Email || a.Registration.URI != want.Registration.URI || !bytes.Equal(a.PrivateKey, want.PrivateKey) {
					t.Errorf("account differs: %s %s", a.Email, a.Registration.URI)
				}
				var gotBody, wantBody map[string]any
				if err := json.Unmarshal(a.Registration.Body, &gotBody); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(want.Registration.Body, &wantBody); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(gotBody, wantBody) {
					t.Errorf("body = %v, want %v", gotBody, wantBody)
				}
				// The result is a valid acme.json that reads back the same.
				p := filepath.Join(t.TempDir(), "acme.json")
				if err := acmejson.Save(p, acmejson.File{rn: out}); err != nil {
					t.Fatal(err)
				}
				back, err := acmejson.Load(p)
				if err != nil {
					t.Fatal(err)
				}
				if probs := back.Problems(pinnedNow); len(probs) != 0 {
					t.Errorf("problems: %v", probs)
				}
				if !reflect.DeepEqual(back[rn].Certificates, out.Certificates) {
					t.Error("saved file reads back differently")
				}
			})
		}
	}
}

// TestExportCaddyObtained exports what Caddy writes itself: one
// certificate per name, SEC1 keys, and a P-256 account key that Traefik
// cannot read.
func TestExportCaddyObtained(t *testing.T) {
	const issuer = "acme-v02.api.letsencrypt.org-directory"
	storage := newStorage(t)
	tca := newTestCA(t)
	store := func(k string, v []byte) {
		t.Helper()
		if err := storage.Store(t.Context(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	chains := map[string][]byte{}
	for i, n := range []string{"b.example.test", "*.a.example.test", "a.example.test"} {
		key, keyPEM := leafKey(t)
		chain := tca.issue(t, key, pinnedNow.AddDate(0, 2, 0), int64(100+i), n)
		chains[n] = chain
		meta, err := json.Marshal(certmagic.CertificateResource{SANs: []string{n}})
		if err != nil {
			t.Fatal(err)
		}
		store(certmagic.StorageKeys.SiteCert(issuer, n), chain)
		store(certmagic.StorageKeys.SitePrivateKey(issuer, n), keyPEM)
		store(certmagic.StorageKeys.SiteMeta(issuer, n), meta)
	}
	// A folder with a certificate but no key, and one for another issuer.
	store(certmagic.StorageKeys.SiteCert(issuer, "broken.example.test"), chains["a.example.test"])
	store(certmagic.StorageKeys.SiteCert("other-issuer", "c.example.test"), chains["a.example.test"])
	// A P-256 account, as certmagic creates by default.
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := certmagic.PEMEncodePrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	regKey, keyKey := AccountStorageKeys(issuer, "ops@example.test")
	reg, err := json.Marshal(acme.Account{Status: "valid", Contact: []string{"mailto:ops@example.test"}, Location: "https://acme-v02.api.letsencrypt.org/acme/acct/1"})
	if err != nil {
		t.Fatal(err)
	}
	store(regKey, reg)
	store(keyKey, keyPEM)

	out, rep, err := Export(t.Context(), storage, issuer, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Account != nil || rep.Account != AccountSkipped || !strings.Contains(rep.AccountDetail, "account key is EC256; traefik can only read RSA account keys") {
		t.Errorf("account: %v %s (%s)", out.Account, rep.Account, rep.AccountDetail)
	}
	var mains []string
	for _, c := range out.Certificates {
		mains = append(mains, c.Domain.Main)
		if c.Domain.SANs != nil || c.Store != "default" || !bytes.Equal(c.Certificate, chains[c.Domain.Main]) {
			t.Errorf("entry %s: %+v", c.Domain.Main, c.Domain)
		}
	}
	if want := []string{"*.a.example.test", "a.example.test", "b.example.test"}; !reflect.DeepEqual(mains, want) {
		t.Errorf("mains = %v, want %v", mains, want)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Names[0] != "broken.example.test" {
		t.Errorf("skipped = %+v", rep.Skipped)
	}

	filtered, _, err := Export(t.Context(), storage, issuer, ExportOptions{Names: []string{"B.example.test"}, Email: "ops@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(filtered.Certificates) != 1 || filtered.Certificates[0].Domain.Main != "b.example.test" {
		t.Errorf("filtered: %v", filtered.Certificates)
	}

	empty, rep, err := Export(t.Context(), newStorage(t), issuer, ExportOptions{})
	if err != nil || empty.Account != nil || empty.Certificates == nil || len(empty.Certificates) != 0 || rep.Account != AccountNone {
		t.Errorf("empty storage: %v %+v %+v", err, empty, rep)
	}
}

// TestExportMultiNameCertificateRenewedPerName: after Caddy renews one name
// of an imported multi-name certificate, the old certificate is exported
// for the names it still serves and the new one for the renewed name.
func TestExportMultiNameCertificateRenewedPerName(t *testing.T) {
	const ca = "https://127.0.0.1:14300/dir"
	issuer := IssuerKeyFromCA(ca)
	res := loadFixture(t, "traefik-v3.6.21-rich-acme.json")["http-ec"]
	storage := newStorage(t)
	if _, err := Import(t.Context(), storage, res, ImportOptions{CA: ca}); err != nil {
		t.Fatal(err)
	}
	tca := newTestCA(t)
	key, keyPEM := leafKey(t)
	renewed := tca.issue(t, key, pinnedNow.AddDate(0, 3, 0), 7, "b.example.test")
	for k, v := range map[string][]byte{
		certmagic.StorageKeys.SiteCert(issuer, "b.example.test"):       renewed,
		certmagic.StorageKeys.SitePrivateKey(issuer, "b.example.test"): keyPEM,
		certmagic.StorageKeys.SiteMeta(issuer, "b.example.test"):       []byte(`{"sans":["b.example.test"]}`),
	} {
		if err := storage.Store(t.Context(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err := Export(t.Context(), storage, issuer, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range out.Certificates {
		got = append(got, fmt.Sprintf("%s%v", c.Domain.Main, c.Domain.SANs))
	}
	if want := []string{"a.example.test[c.example.test]", "b.example.test[]", "plain.example.test[]"}; !reflect.DeepEqual(got, want) {
		t.Errorf("entries = %v, want %v", got, want)
	}
}

func TestExportArguments(t *testing.T) {
	if _, _, err := Export(t.Context(), nil, "k", ExportOptions{}); err == nil {
		t.Error("nil storage")
	}
	if _, _, err := Export(t.Context(), newStorage(t), "", ExportOptions{}); err == nil {
		t.Error("empty issuer key")
	}
}

// BenchmarkImport5000 imports 5,000 certificates (5,000 names) into a
// fresh FileStorage per iteration.
func BenchmarkImport5000(b *testing.B) {
	tca := newTestCA(b)
	key, keyPEM := leafKey(b)
	res := &acmejson.Resolver{Account: loadFixture(b, "traefik-v3-acme.json")["le-tls"].Account}
	for i := range 5000 {
		name := fmt.Sprintf("site%05d.example.test", i)
		res.Certificates = append(res.Certificates, &acmejson.Certificate{
			Domain:      acmejson.Domain{Main: name},
			Certificate: tca.issue(b, key, pinnedNow.AddDate(0, 2, 0), int64(1000+i), name),
			Key:         keyPEM,
			Store:       acmejson.DefaultStore,
		})
	}
	root := b.TempDir()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		n++
		storage := &certmagic.FileStorage{Path: filepath.Join(root, fmt.Sprint(n))}
		rep, err := Import(b.Context(), storage, res, ImportOptions{CA: "https://127.0.0.1:14000/dir", Now: func() time.Time { return pinnedNow }})
		if err != nil || len(rep.Imported) != 5000 {
			b.Fatalf("%v %s", err, rep)
		}
	}
}

// BenchmarkFileStorageFloor5000 performs only the storage operations
// Import needs for 5,000 names (lock, three stores, unlock) with
// precomputed contents: the floor BenchmarkImport5000 is measured against.
func BenchmarkFileStorageFloor5000(b *testing.B) {
	tca := newTestCA(b)
	key, keyPEM := leafKey(b)
	chain := tca.issue(b, key, pinnedNow.AddDate(0, 2, 0), 1, "floor.example.test")
	meta := []byte(`{"sans":["floor.example.test"]}`)
	root := b.TempDir()
	n := 0
	for b.Loop() {
		n++
		storage := &certmagic.FileStorage{Path: filepath.Join(root, fmt.Sprint(n))}
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range defaultConcurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					name := fmt.Sprintf("site%05d.example.test", i)
					ctx := b.Context()
					if err := storage.Lock(ctx, certLockKey(name)); err != nil {
						b.Error(err)
						return
					}
					for k, v := range map[string][]byte{
						certmagic.StorageKeys.SitePrivateKey("k", name): keyPEM,
						certmagic.StorageKeys.SiteCert("k", name):       chain,
						certmagic.StorageKeys.SiteMeta("k", name):       meta,
					} {
						if err := storage.Store(ctx, k, v); err != nil {
							b.Error(err)
						}
					}
					_ = storage.Unlock(ctx, certLockKey(name))
				}
			}()
		}
		for i := range 5000 {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
	}
}
