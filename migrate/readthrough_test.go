package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// TestReadThroughMatchesImport checks, for every resolver of the fixtures
// real Traefik wrote, that a ReadThrough over an empty storage answers
// every key exactly as the storage an Import wrote does, that certmagic
// loads the certificates and finds the account through it, and that it
// writes nothing to the storage it wraps.
func TestReadThroughMatchesImport(t *testing.T) {
	for _, fx := range fixtures {
		f := loadFixture(t, fx.file)
		for _, rn := range f.ResolverNames() {
			res := f[rn]
			t.Run(fx.file+"/"+rn, func(t *testing.T) {
				email := ""
				if res.Account != nil {
					email = res.Account.Email
				}
				opts := ImportOptions{CA: fx.ca, Email: email, Now: fixedNow, Resolver: rn}
				imported := newStorage(t)
				if _, err := Import(t.Context(), imported, res, opts); err != nil {
					t.Fatal(err)
				}
				base := newStorage(t)
				layer, err := NewLayer(res, pinnedNow, opts)
				if err != nil {
					t.Fatal(err)
				}
				rt := NewReadThrough(base, layer)
				keys := storedFiles(t, imported)
				for _, k := range keys {
					want := mustLoad(t, imported, k)
					got, err := rt.Load(t.Context(), k)
					if err != nil || !bytes.Equal(got, want) {
						t.Errorf("Load(%s) = %q, %v; import wrote %q", k, got, err, want)
					}
					if !rt.Exists(t.Context(), k) {
						t.Errorf("Exists(%s) = false", k)
					}
					if info, err := rt.Stat(t.Context(), k); err != nil || !info.IsTerminal || info.Size != int64(len(want)) {
						t.Errorf("Stat(%s) = %+v, %v", k, info, err)
					}
				}
				listed, err := rt.List(t.Context(), "", true)
				if err != nil {
					t.Fatal(err)
				}
				var files []string
				for _, k := range listed {
					if info, err := rt.Stat(t.Context(), k); err == nil && info.IsTerminal {
						files = append(files, k)
					}
				}
				slices.Sort(files)
				if !reflect.DeepEqual(files, keys) {
					t.Errorf("List:\n got %v\nwant %v", files, keys)
				}
				if res.Account != nil && len(res.Certificates) > 0 {
					var names []string
					for _, c := range res.Certificates {
						names = append(names, c.Names()...)
					}
					checkCertmagicLoads(t, rt, fx.ca, email, res, names)
				}
				if got := storedFiles(t, base); len(got) != 0 {
					t.Errorf("reading through wrote %v to the wrapped storage", got)
				}
			})
		}
	}
}

// TestReadThroughStorageWins checks which certificate is read when storage
// and acme.json both hold one for a name: storage's when it expires no
// earlier (a renewal Caddy or another instance stored is never shadowed
// by the file), the file's when storage's is older (Traefik renewed it in
// the file since) or does not parse.
func TestReadThroughStorageWins(t *testing.T) {
	const ca = "https://127.0.0.1:14000/dir"
	const name = "d1.example.test"
	issuer := IssuerKeyFromCA(ca)
	res := loadFixture(t, "traefik-v3-acme.json")["le-dns"] // d1.example.test, expires 2027-02-27
	tca := newTestCA(t)
	key, keyPEM := leafKey(t)
	tests := []struct {
		desc        string
		chain       []byte
		storageWins bool
	}{
		{"newer in storage", tca.issue(t, key, time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC), 10, name), true},
		{"same expiry in storage", tca.issue(t, key, mustParsed(t, res.Certificates[0]).Leaf.NotAfter, 11, name), true},
		{"older in storage", tca.issue(t, key, time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC), 12, name), false},
		{"garbage in storage", []byte("not a certificate"), false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			base := newStorage(t)
			meta := []byte(`{"sans":["d1.example.test"],"issuer_data":{"url":"https://ca/cert/1"}}`)
			stored := map[string][]byte{
				certmagic.StorageKeys.SiteCert(issuer, name):       tt.chain,
				certmagic.StorageKeys.SitePrivateKey(issuer, name): keyPEM,
				certmagic.StorageKeys.SiteMeta(issuer, name):       meta,
			}
			for k, v := range stored {
				if err := base.Store(t.Context(), k, v); err != nil {
					t.Fatal(err)
				}
			}
			layer, err := NewLayer(res, pinnedNow, ImportOptions{CA: ca})
			if err != nil {
				t.Fatal(err)
			}
			rt := NewReadThrough(base, layer)
			entry := res.Certificates[0]
			for k, v := range stored {
				got := mustLoad(t, rt, k)
				switch {
				case tt.storageWins && !bytes.Equal(got, v):
					t.Errorf("%s: got the file's, want storage's", k)
				case !tt.storageWins && bytes.Equal(got, v):
					t.Errorf("%s: got storage's, want the file's", k)
				}
			}
			if !tt.storageWins {
				if got := mustLoad(t, rt, certmagic.StorageKeys.SiteCert(issuer, name)); !bytes.Equal(got, entry.Certificate) {
					t.Error("certificate is not the file's")
				}
				if got := mustLoad(t, rt, certmagic.StorageKeys.SitePrivateKey(issuer, name)); !bytes.Equal(got, entry.Key) {
					t.Error("key is not the file's")
				}
			}
		})
	}
}

// TestReadThroughWritesGoToStorage checks that a renewal stored through the
// ReadThrough lands in the wrapped storage and is read from then on, that
// certmagic reloads it, and that Delete hides a key of the file.
func TestReadThroughWritesGoToStorage(t *testing.T) {
	const ca = "https://127.0.0.1:14000/dir"
	const name = "d1.example.test"
	issuer := IssuerKeyFromCA(ca)
	res := loadFixture(t, "traefik-v3-acme.json")["le-dns"]
	base := newStorage(t)
	layer, err := NewLayer(res, pinnedNow, ImportOptions{CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	rt := NewReadThrough(base, layer)
	cfg, _ := newCertmagic(t, rt, ca, "")
	first, err := cfg.CacheManagedCertificate(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Leaf.NotAfter.Equal(mustParsed(t, res.Certificates[0]).Leaf.NotAfter) {
		t.Fatalf("loaded %v, not the file's certificate", first.Leaf.NotAfter)
	}

	// A renewal, written as certmagic writes it (key, certificate, metadata).
	tca := newTestCA(t)
	key, keyPEM := leafKey(t)
	renewed := tca.issue(t, key, time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC), 20, name)
	for _, kv := range []struct {
		k string
		v []byte
	}{
		{certmagic.StorageKeys.SitePrivateKey(issuer, name), keyPEM},
		{certmagic.StorageKeys.SiteCert(issuer, name), renewed},
		{certmagic.StorageKeys.SiteMeta(issuer, name), []byte(`{"sans":["d1.example.test"]}`)},
	} {
		if err := rt.Store(t.Context(), kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
		if got := mustLoad(t, base, kv.k); !bytes.Equal(got, kv.v) {
			t.Fatalf("%s did not land in the wrapped storage", kv.k)
		}
	}
	second, err := cfg.CacheManagedCertificate(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Leaf.NotAfter.Equal(time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("after the renewal certmagic loaded %v", second.Leaf.NotAfter)
	}

	// Delete: gone from storage and no longer offered from the file.
	other := "d2.example.test"
	if layer.lookup(certmagic.StorageKeys.Safe(other)) == nil {
		other = ""
		for _, c := range loadFixture(t, "traefik-v3-acme.json")["le-dns"].Certificates {
			for _, n := range c.Names() {
				if n != name {
					other = n
				}
			}
		}
	}
	if other != "" {
		k := certmagic.StorageKeys.SiteCert(issuer, other)
		if err := rt.Delete(t.Context(), k); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.Load(t.Context(), k); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("deleted key still loads: %v", err)
		}
	}
}

// TestReadThroughAccount checks the account rules: the file's account when
// storage has none (certmagic then uses it without registering), and
// storage's when it holds one for the same CA and email.
func TestReadThroughAccount(t *testing.T) {
	const ca = "https://127.0.0.1:14000/dir"
	issuer := IssuerKeyFromCA(ca)
	res := loadFixture(t, "traefik-v3-acme.json")["le-tls"]
	email := res.Account.Email
	regKey, keyKey := AccountStorageKeys(issuer, email)
	layer, err := NewLayer(&acmejson.Resolver{Account: res.Account}, pinnedNow, ImportOptions{CA: ca, Email: email})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("from the file", func(t *testing.T) {
		rt := NewReadThrough(newStorage(t), layer)
		var acct acme.Account
		if err := json.Unmarshal(mustLoad(t, rt, regKey), &acct); err != nil {
			t.Fatal(err)
		}
		if acct.Status != "valid" || acct.Location != res.Account.Registration.URI {
			t.Errorf("account = %+v", acct)
		}
		users, err := rt.List(t.Context(), "acme/"+certmagic.StorageKeys.Safe(issuer)+"/users", false)
		if err != nil || len(users) != 1 {
			t.Errorf("List(users) = %v, %v", users, err)
		}
	})
	t.Run("storage wins", func(t *testing.T) {
		base := newStorage(t)
		mine := []byte(`{"status":"valid","location":"https://127.0.0.1:14000/my-account/9"}`)
		if err := base.Store(t.Context(), regKey, mine); err != nil {
			t.Fatal(err)
		}
		if err := base.Store(t.Context(), keyKey, []byte("my key")); err != nil {
			t.Fatal(err)
		}
		rt := NewReadThrough(base, layer)
		if got := mustLoad(t, rt, regKey); !bytes.Equal(got, mine) {
			t.Errorf("registration = %s, want storage's", got)
		}
		if got := mustLoad(t, rt, keyKey); string(got) != "my key" {
			t.Errorf("key = %s, want storage's", got)
		}
	})
}

// basicStorage has only certmagic.Storage's methods.
type basicStorage struct{ certmagic.Storage }

// lockRecorder is a storage with TryLock and RenewLockLease that records
// calls.
type lockRecorder struct {
	*certmagic.FileStorage
	calls []string
}

func (l *lockRecorder) TryLock(ctx context.Context, name string) (bool, error) {
	l.calls = append(l.calls, "try "+name)
	return true, nil
}

func (l *lockRecorder) RenewLockLease(ctx context.Context, name string, d time.Duration) error {
	l.calls = append(l.calls, "renew "+name)
	return nil
}

// TestReadThroughLockInterfaces checks that the optional lock interfaces
// are offered exactly when the wrapped storage has them, and forwarded.
func TestReadThroughLockInterfaces(t *testing.T) {
	layer, err := NewLayer(nil, pinnedNow, ImportOptions{CA: "https://ca.test/dir"})
	if err != nil {
		t.Fatal(err)
	}
	plain := NewReadThrough(basicStorage{newStorage(t)}, layer)
	if _, ok := plain.(certmagic.TryLocker); ok {
		t.Error("TryLocker offered over a storage without it")
	}
	if _, ok := plain.(certmagic.LockLeaseRenewer); ok {
		t.Error("LockLeaseRenewer offered over a storage without it")
	}
	fsys := NewReadThrough(newStorage(t), layer)
	if _, ok := fsys.(certmagic.TryLocker); !ok {
		t.Error("TryLocker not offered over a FileStorage, which has it")
	}
	rec := &lockRecorder{FileStorage: newStorage(t)}
	s := NewReadThrough(rec, layer)
	if ok, err := s.(certmagic.TryLocker).TryLock(t.Context(), "x"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := s.(certmagic.LockLeaseRenewer).RenewLockLease(t.Context(), "x", time.Second); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec.calls, []string{"try x", "renew x"}) {
		t.Errorf("calls = %v", rec.calls)
	}
	// Wrapping again adds layers instead of nesting.
	layer2, _ := NewLayer(nil, pinnedNow, ImportOptions{CA: "https://other.test/dir"})
	again := AsReadThrough(NewReadThrough(s, layer2))
	if again.Base() != certmagic.Storage(rec) || len(again.Layers()) != 2 {
		t.Errorf("rewrapped: base %T, %d layers", again.Base(), len(again.Layers()))
	}
}

// TestReadThroughMetadata checks which metadata goes with the file's
// certificate: what certmagic stored for the name (ARI) when storage has no
// certificate for it and the metadata is newer than the acme.json, else the
// metadata Import would write (the file changed since, so the stored
// metadata may describe another certificate).
func TestReadThroughMetadata(t *testing.T) {
	const ca = "https://127.0.0.1:14000/dir"
	const name = "d1.example.test"
	issuer := IssuerKeyFromCA(ca)
	res := loadFixture(t, "traefik-v3-acme.json")["le-dns"]
	metaKey := certmagic.StorageKeys.SiteMeta(issuer, name)
	withARI := []byte(`{"sans":["d1.example.test"],"issuer_data":{"renewal_info":{"suggestedWindow":{"start":"2027-01-01T00:00:00Z","end":"2027-01-02T00:00:00Z"}}}}`)
	imported := newStorage(t)
	if _, err := Import(t.Context(), imported, res, ImportOptions{CA: ca}); err != nil {
		t.Fatal(err)
	}
	importMeta := mustLoad(t, imported, metaKey)
	tests := []struct {
		desc     string
		modified time.Time // the acme.json's
		want     []byte
	}{
		{"acme.json older than the stored metadata", time.Now().Add(-time.Hour), withARI},
		{"acme.json changed since", time.Now().Add(time.Hour), importMeta},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			base := newStorage(t)
			if err := base.Store(t.Context(), metaKey, withARI); err != nil {
				t.Fatal(err)
			}
			layer, err := NewLayer(res, tt.modified, ImportOptions{CA: ca})
			if err != nil {
				t.Fatal(err)
			}
			if got := mustLoad(t, NewReadThrough(base, layer), metaKey); !bytes.Equal(got, tt.want) {
				t.Errorf("metadata = %s, want %s", got, tt.want)
			}
		})
	}
}
