package migrate

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// recordingStorage wraps a Storage, recording lock, unlock, store and
// delete calls, and failing Store for keys with a given suffix.
type recordingStorage struct {
	certmagic.Storage
	failSuffix string

	mu     sync.Mutex
	events []string
	held   map[string]bool
	errs   []string
}

func (r *recordingStorage) record(ev string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recordingStorage) Lock(ctx context.Context, name string) error {
	if err := r.Storage.Lock(ctx, name); err != nil {
		return err
	}
	r.mu.Lock()
	r.held[name] = true
	r.mu.Unlock()
	r.record("lock " + name)
	return nil
}

func (r *recordingStorage) Unlock(ctx context.Context, name string) error {
	r.mu.Lock()
	if !r.held[name] {
		r.errs = append(r.errs, "unlock without lock: "+name)
	}
	delete(r.held, name)
	r.mu.Unlock()
	r.record("unlock " + name)
	return r.Storage.Unlock(ctx, name)
}

func (r *recordingStorage) Store(ctx context.Context, key string, value []byte) error {
	r.mu.Lock()
	if strings.HasPrefix(key, "certificates/") {
		// certificates/<issuer>/<name>/<file>: the name's lock must be held.
		parts := strings.Split(key, "/")
		locked := false
		for l := range r.held {
			if certmagic.StorageKeys.Safe(strings.TrimPrefix(l, "issue_cert_")) == parts[2] {
				locked = true
			}
		}
		if !locked {
			r.errs = append(r.errs, "store without lock: "+key)
		}
	}
	r.mu.Unlock()
	if r.failSuffix != "" && strings.HasSuffix(key, r.failSuffix) {
		r.record("store-fail " + key)
		return errors.New("injected failure")
	}
	r.record("store " + key)
	return r.Storage.Store(ctx, key, value)
}

func (r *recordingStorage) Delete(ctx context.Context, key string) error {
	r.record("delete " + key)
	return r.Storage.Delete(ctx, key)
}

func TestImportLocksEachName(t *testing.T) {
	const ca = "https://127.0.0.1:14300/dir"
	res := loadFixture(t, "traefik-v3.6.21-rich-acme.json")["dns-wild"]
	rs := &recordingStorage{Storage: newStorage(t), held: map[string]bool{}}
	if _, err := Import(t.Context(), rs, res, ImportOptions{CA: ca, Concurrency: 1}); err != nil {
		t.Fatal(err)
	}
	if len(rs.errs) != 0 || len(rs.held) != 0 {
		t.Fatalf("lock errors %v, still held %v", rs.errs, rs.held)
	}
	const p = "certificates/127.0.0.1-14300-dir/"
	want := []string{
		"lock register_acme_account_dns-wild@example.org",
		"store acme/127.0.0.1-14300-dir/users/dns-wild@example.org/dns-wild.json",
		"store acme/127.0.0.1-14300-dir/users/dns-wild@example.org/dns-wild.key",
		"unlock register_acme_account_dns-wild@example.org",
		"lock issue_cert_wild.example.test",
		"store " + p + "wild.example.test/wild.example.test.key",
		"store " + p + "wild.example.test/wild.example.test.crt",
		"store " + p + "wild.example.test/wild.example.test.json",
		"unlock issue_cert_wild.example.test",
		"lock issue_cert_*.wild.example.test",
		"store " + p + "wildcard_.wild.example.test/wildcard_.wild.example.test.key",
		"store " + p + "wildcard_.wild.example.test/wildcard_.wild.example.test.crt",
		"store " + p + "wildcard_.wild.example.test/wildcard_.wild.example.test.json",
		"unlock issue_cert_*.wild.example.test",
	}
	if !reflect.DeepEqual(rs.events, want) {
		t.Fatalf("events:\n%s", strings.Join(rs.events, "\n"))
	}

	// A second import finds every certificate in place: it neither locks
	// a name nor writes anything.
	rs.events = nil
	rep, err := Import(t.Context(), rs, res, ImportOptions{CA: ca, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range rs.events {
		if strings.Contains(ev, "issue_cert_") || strings.HasPrefix(ev, "store ") {
			t.Errorf("second import: %s", ev)
		}
	}
	if len(rep.Unchanged) != 2 || len(rep.Imported) != 0 {
		t.Errorf("second import: unchanged %v, imported %v; want 2 unchanged", rep.Unchanged, rep.Imported)
	}
}

func TestImportStorageFailureRollsBack(t *testing.T) {
	const ca = "https://127.0.0.1:14300/dir"
	res := loadFixture(t, "traefik-v3.6.21-rich-acme.json")["tls-rsa"]
	rs := &recordingStorage{Storage: newStorage(t), held: map[string]bool{}, failSuffix: "tls1.example.test.json"}
	rep, err := Import(t.Context(), rs, &acmejson.Resolver{Certificates: res.Certificates}, ImportOptions{CA: ca})
	if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "tls1.example.test") {
		t.Fatalf("err = %v", err)
	}
	if len(rep.Imported) != 0 {
		t.Errorf("report: %s", rep)
	}
	issuer := IssuerKeyFromCA(ca)
	for _, k := range []string{
		certmagic.StorageKeys.SiteCert(issuer, "tls1.example.test"),
		certmagic.StorageKeys.SitePrivateKey(issuer, "tls1.example.test"),
	} {
		if rs.Exists(t.Context(), k) {
			t.Errorf("%s not rolled back", k)
		}
	}
	if len(rs.held) != 0 {
		t.Errorf("locks still held: %v", rs.held)
	}
}
