package traefikacme

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// pinnedTime is when served chains are verified: the fixtures' leaves
// expire on 2027-02-27, and the tests must keep passing after that.
var pinnedTime = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func pinnedClock() time.Time { return pinnedTime }

// visibleWithin is how soon a change to acme.json must reach new handshakes.
const visibleWithin = 2 * time.Second

// testCA issues leaf certificates quickly: ECDSA P-256, with a few leaf keys
// shared by all leaves.
type testCA struct {
	key      *ecdsa.PrivateKey
	cert     *x509.Certificate
	pem      []byte
	pool     *x509.CertPool
	leafKeys []crypto.Signer
	keyPEMs  [][]byte
	serial   atomic.Int64
}

func newTestCA(tb testing.TB, leafKeys int) *testCA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "traefik_acme_json test root"},
		NotBefore:             pinnedTime.AddDate(-1, 0, 0),
		NotAfter:              pinnedTime.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &testCA{key: key, cert: cert, pool: x509.NewCertPool(),
		pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	ca.pool.AddCert(cert)
	ca.serial.Store(1)
	for range leafKeys {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			tb.Fatal(err)
		}
		ca.leafKeys = append(ca.leafKeys, k)
		ca.keyPEMs = append(ca.keyPEMs, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	}
	return ca
}

// useRSALeafKeys replaces ca's leaf keys with n RSA keys of bits bits,
// encoded as Traefik writes them (PKCS#1).
func (ca *testCA) useRSALeafKeys(tb testing.TB, n, bits int) {
	tb.Helper()
	ca.leafKeys, ca.keyPEMs = nil, nil
	for range n {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			tb.Fatal(err)
		}
		ca.leafKeys = append(ca.leafKeys, k)
		ca.keyPEMs = append(ca.keyPEMs, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	}
}

// leafSpec describes a leaf for testCA.issue.
type leafSpec struct {
	cn       string    // subject common name, may be empty (as with Pebble)
	names    []string  // DNS names or IP addresses
	notAfter time.Time // zero: pinnedTime + 90 days
	key      int       // index of the leaf key
}

// issue returns an acme.json entry (leaf + CA chain, key) for spec.
func (ca *testCA) issue(tb testing.TB, spec leafSpec) *acmejson.Certificate {
	tb.Helper()
	notAfter := spec.notAfter
	if notAfter.IsZero() {
		notAfter = pinnedTime.AddDate(0, 0, 90)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial.Add(1)),
		Subject:      pkix.Name{CommonName: spec.cn},
		NotBefore:    pinnedTime.AddDate(0, 0, -10),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range spec.names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	leafKey := ca.leafKeys[spec.key]
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, leafKey.Public(), ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.pem...)
	c := &acmejson.Certificate{Certificate: chain, Key: ca.keyPEMs[spec.key], Store: acmejson.DefaultStore}
	if len(spec.names) > 0 {
		c.Domain = acmejson.Domain{Main: spec.names[0], SANs: spec.names[1:]}
	}
	return c
}

// leafOf returns the parsed leaf of an acme.json entry.
func leafOf(tb testing.TB, c *acmejson.Certificate) *x509.Certificate {
	tb.Helper()
	p, err := c.Parse()
	if err != nil {
		tb.Fatalf("parsing entry %v: %v", c.Names(), err)
	}
	return p.Chain[0]
}

// loadFixture reads testdata/acmejson/<name>.
func loadFixture(tb testing.TB, name string) acmejson.File {
	tb.Helper()
	f, err := acmejson.Load(filepath.Join("testdata", "acmejson", name), acmejson.LoadOptions{ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// fixtureRoots returns a pool holding testdata/acmejson/<name>.
func fixtureRoots(tb testing.TB, name string) *x509.CertPool {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "acmejson", name))
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		tb.Fatalf("no certificate in %s", name)
	}
	return pool
}

func marshalFile(tb testing.TB, f acmejson.File) []byte {
	tb.Helper()
	b, err := f.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// cloneFile deep-copies f through its own encoding.
func cloneFile(tb testing.TB, f acmejson.File) acmejson.File {
	tb.Helper()
	out, _, err := acmejson.Parse(marshalFile(tb, f), "")
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// rewriteInPlace rewrites path as Traefik does: truncate, then write, on
// the same inode, no rename. The write is split in two to widen the window
// in which a reader sees a partial file.
func rewriteInPlace(tb testing.TB, path string, data []byte) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	half := len(data) / 2
	if _, err := f.Write(data[:half]); err != nil {
		tb.Fatal(err)
	}
	if _, err := f.Write(data[half:]); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// replaceByRename writes data to a sibling file and renames it over path.
func replaceByRename(tb testing.TB, path string, data []byte) {
	tb.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// backdate sets path's modification time well in the past, so that the
// watcher trusts an unchanged stat at once (the file is not "racy").
func backdate(tb testing.TB, path string, by time.Duration) {
	tb.Helper()
	when := time.Now().Add(-by)
	if err := os.Chtimes(path, when, when); err != nil {
		tb.Fatal(err)
	}
}

// localAddrConn is a net.Conn that only knows its local address.
type localAddrConn struct {
	net.Conn
	addr net.Addr
}

func (c localAddrConn) LocalAddr() net.Addr { return c.addr }

// managerFor returns a provisioned-looking manager serving ix.
func managerFor(ix *certIndex) *ACMEJSONManager {
	w := newACMEJSONWatcher("unused", nil, nil)
	w.index.Store(ix)
	return &ACMEJSONManager{watcher: w}
}

// TestGetCertSelection checks the selection rules on one index: exact
// before wildcard, a wildcard covers one label only, "*.*" and multi-label
// wildcards never match, names are compared lower-cased, IP SANs (also
// without SNI), and among duplicates the latest NotAfter wins, then the
// resolver sorting first, then the earlier entry.
func TestGetCertSelection(t *testing.T) {
	ca := newTestCA(t, 2)
	old := pinnedTime.AddDate(0, 0, 30)
	mid := pinnedTime.AddDate(0, 0, 60)
	late := pinnedTime.AddDate(0, 0, 90)
	entries := map[string]*acmejson.Certificate{
		"exact":        ca.issue(t, leafSpec{names: []string{"a.example.test"}}),
		"wildcard":     ca.issue(t, leafSpec{names: []string{"*.example.test"}, notAfter: late}),
		"exact-old":    ca.issue(t, leafSpec{names: []string{"x.example.test"}, notAfter: old}),
		"deep":         ca.issue(t, leafSpec{names: []string{"*.*.deep.test"}}),
		"starstar":     ca.issue(t, leafSpec{names: []string{"*.*"}}),
		"star-in":      ca.issue(t, leafSpec{names: []string{"a*.star.test"}}),
		"mixed-cn":     ca.issue(t, leafSpec{cn: "Mixed.Example.TEST", names: []string{"OTHER.Example.Test"}}),
		"ip":           ca.issue(t, leafSpec{names: []string{"127.0.0.2", "::2"}}),
		"dup-old":      ca.issue(t, leafSpec{names: []string{"dup.example.test"}, notAfter: old}),
		"dup-late":     ca.issue(t, leafSpec{names: []string{"dup.example.test"}, notAfter: late}),
		"dup-mid":      ca.issue(t, leafSpec{names: []string{"dup.example.test"}, notAfter: mid}),
		"tie-b":        ca.issue(t, leafSpec{names: []string{"tie.example.test"}, notAfter: mid}),
		"tie-a":        ca.issue(t, leafSpec{names: []string{"tie.example.test"}, notAfter: mid}),
		"tie-a-second": ca.issue(t, leafSpec{names: []string{"tie.example.test"}, notAfter: mid}),
		"domain-lies":  ca.issue(t, leafSpec{names: []string{"real.other.test"}}),
	}
	// The domain field is not what the index uses.
	entries["domain-lies"].Domain = acmejson.Domain{Main: "claimed.other.test"}
	mismatch := ca.issue(t, leafSpec{names: []string{"mismatch.other.test"}, key: 0})
	mismatch.Key = ca.keyPEMs[1]
	garbage := &acmejson.Certificate{Domain: acmejson.Domain{Main: "garbage.example.test"}, Certificate: []byte("not a pem"), Key: ca.keyPEMs[0]}

	f := acmejson.File{
		"b": {Certificates: []*acmejson.Certificate{
			entries["exact"], entries["wildcard"], entries["exact-old"], entries["deep"], entries["starstar"],
			entries["star-in"], entries["dup-old"], entries["dup-late"], entries["tie-b"], mismatch,
		}},
		"a": {Certificates: []*acmejson.Certificate{
			entries["mixed-cn"], entries["ip"], entries["dup-mid"], nil, entries["tie-a"], garbage,
			entries["tie-a-second"], entries["domain-lies"],
		}},
		"empty": {},
	}
	ix, rep, err := buildCertIndex(marshalFile(t, f), nil, nil, pinnedTime)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rep.skipped), 3; got != want {
		t.Fatalf("skipped %d entries (%v), want %d (null, mismatched key, garbage)", got, rep.skipped, want)
	}
	for _, s := range rep.skipped {
		if strings.Contains(s.err.Error(), "PRIVATE KEY") {
			t.Errorf("skip reason shows key material: %v", s.err)
		}
	}
	for key := range ix.exact {
		if strings.Contains(key, "*") {
			t.Errorf("exact table holds %q", key)
		}
	}
	for key := range ix.wildcard {
		if strings.Contains(key, "*") {
			t.Errorf("wildcard table holds %q", key)
		}
	}
	m := managerFor(ix)

	tests := []struct {
		desc string
		sni  string
		conn net.Conn
		want string // key of entries, "" for no certificate
	}{
		{"exact", "a.example.test", nil, "exact"},
		{"upper-case sni", "A.EXAMPLE.TEST", nil, "exact"},
		{"trailing dot", "a.example.test.", nil, "exact"},
		{"wildcard", "b.example.test", nil, "wildcard"},
		{"exact beats later-expiring wildcard", "x.example.test", nil, "exact-old"},
		{"wildcard covers one label only", "a.b.example.test", nil, ""},
		{"wildcard does not cover its base", "example.test", nil, ""},
		{"multi-label wildcard never matches", "a.b.deep.test", nil, ""},
		{"multi-label wildcard not matched one level down", "a.x.deep.test", nil, ""},
		{"star-star never matches", "a.b", nil, ""},
		{"literal star-star sni", "*.*", nil, ""},
		{"star inside a label is not a wildcard", "ab.star.test", nil, ""},
		{"common name, lower-cased", "mixed.example.test", nil, "mixed-cn"},
		{"dns san, lower-cased", "other.example.test", nil, "mixed-cn"},
		{"ip san as sni", "127.0.0.2", nil, "ip"},
		{"ipv6 san as sni", "::2", nil, "ip"},
		{"no sni: local ip", "", localAddrConn{addr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2"), Port: 443}}, "ip"},
		{"no sni: other local ip", "", localAddrConn{addr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 443}}, ""},
		{"no sni, no connection", "", nil, ""},
		{"duplicates: latest NotAfter", "dup.example.test", nil, "dup-late"},
		{"duplicates: tie goes to the resolver sorting first", "tie.example.test", nil, "tie-a"},
		{"names come from the leaf", "real.other.test", nil, "domain-lies"},
		{"not from the domain field", "claimed.other.test", nil, ""},
		{"skipped entry", "mismatch.other.test", nil, ""},
		{"unknown", "unknown.test", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := m.GetCertificate(t.Context(), &tls.ClientHelloInfo{ServerName: tt.sni, Conn: tt.conn})
			if err != nil {
				t.Fatalf("GetCertificate: %v", err)
			}
			if tt.want == "" {
				if got != nil {
					t.Fatalf("got a certificate for %v, want none", got.Leaf.DNSNames)
				}
				return
			}
			if got == nil {
				t.Fatalf("no certificate, want %s", tt.want)
			}
			want := leafOf(t, entries[tt.want])
			if !bytes.Equal(got.Leaf.Raw, want.Raw) || !bytes.Equal(got.Certificate[0], want.Raw) {
				t.Fatalf("got serial %s, want %s (%s)", got.Leaf.SerialNumber, want.SerialNumber, tt.want)
			}
			if got.PrivateKey == nil || len(got.Certificate) != 2 {
				t.Fatalf("certificate not ready to serve: key %v, chain of %d", got.PrivateKey != nil, len(got.Certificate))
			}
		})
	}
}

// TestGetCertIndexDeterministic builds the same content many times (map
// iteration order varies) and in another resolver order: the choice among
// duplicates must not change.
func TestGetCertIndexDeterministic(t *testing.T) {
	ca := newTestCA(t, 1)
	same := pinnedTime.AddDate(0, 0, 60)
	f := acmejson.File{}
	var want *x509.Certificate
	for _, r := range []string{"r3", "r1", "r2", "r0"} {
		for i := range 3 {
			c := ca.issue(t, leafSpec{names: []string{"same.example.test", "*.example.test"}, notAfter: same})
			f.Ensure(r).Certificates = append(f.Ensure(r).Certificates, c)
			if r == "r0" && i == 0 {
				want = leafOf(t, c)
			}
		}
	}
	data := marshalFile(t, f)
	for i := range 20 {
		ix, _, err := buildCertIndex(data, nil, nil, pinnedTime)
		if err != nil {
			t.Fatal(err)
		}
		for _, sni := range []string{"same.example.test", "other.example.test"} {
			e := ix.lookup(sni)
			if e == nil || !bytes.Equal(e.cert.tls.Leaf.Raw, want.Raw) {
				t.Fatalf("build %d, %s: not the first entry of resolver r0", i, sni)
			}
		}
	}
}

// TestGetCertResolverFilterIndex checks that only the listed resolvers are
// indexed and that a listed resolver missing from the file is reported.
func TestGetCertResolverFilterIndex(t *testing.T) {
	f := loadFixture(t, "traefik-v3.6.21-rich-acme.json")
	ix, rep, err := buildCertIndex(marshalFile(t, f), []string{"http-ec", "nope"}, nil, pinnedTime)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		sni  string
		want bool
	}{
		{"a.example.test", true},
		{"plain.example.test", true},
		{"tls1.example.test", false},
		{"wild.example.test", false},
		{"x.wild.example.test", false},
	} {
		if got := ix.lookup(tt.sni) != nil; got != tt.want {
			t.Errorf("%s: served %v, want %v", tt.sni, got, tt.want)
		}
	}
	if len(rep.missing) != 1 || rep.missing[0] != "nope" {
		t.Errorf("missing resolvers %v, want [nope]", rep.missing)
	}
}

// TestGetCertReloadRules drives the watcher by hand: which changes are
// seen, which content replaces the index, and what is logged (once per
// change, never per check).
func TestGetCertReloadRules(t *testing.T) {
	ca := newTestCA(t, 1)
	first := ca.issue(t, leafSpec{names: []string{"first.example.test"}})
	second := ca.issue(t, leafSpec{names: []string{"second.example.test"}})
	v1 := marshalFile(t, acmejson.File{"le": {Certificates: []*acmejson.Certificate{first}}})
	v2 := marshalFile(t, acmejson.File{"le": {Certificates: []*acmejson.Certificate{first, second}}})

	path := filepath.Join(t.TempDir(), "acme.json")
	core, logs := observer.New(zap.DebugLevel)
	w := newACMEJSONWatcher(path, nil, zap.New(core))
	serves := func(name string) bool { return w.index.Load() != nil && w.index.Load().lookup(name) != nil }
	count := func(msg string) int { return logs.FilterMessage(msg).FilterLevelExact(zap.WarnLevel).Len() }
	const notParse = "acme.json does not parse; keeping previous certificates"
	check := func(want checkResult) {
		t.Helper()
		got, err := w.check(false)
		if got != want {
			t.Fatalf("check: %d (%v), want %d", got, err, want)
		}
	}

	// Missing at start: empty index, logged once.
	if err := w.initialLoad(t.Context(), time.Second); err != nil {
		t.Fatalf("initial load of a missing file: %v", err)
	}
	check(checkKept)
	if n := count("acme.json unavailable; keeping previous certificates"); n != 1 {
		t.Errorf("missing file logged %d times, want 1", n)
	}

	// Appears.
	if err := os.WriteFile(path, v1, 0o600); err != nil {
		t.Fatal(err)
	}
	backdate(t, path, time.Minute)
	check(checkSwapped)
	check(checkUnchanged)
	if !serves("first.example.test") {
		t.Fatal("first certificate not served")
	}

	// Truncated in the middle of the JSON: kept, logged once.
	rewriteInPlace(t, path, v2[:len(v2)/2])
	backdate(t, path, time.Minute)
	check(checkKept)
	for range 4 {
		check(checkUnchanged)
	}
	if n := count(notParse); n != 1 {
		t.Errorf("truncated file logged %d times, want 1", n)
	}
	if !serves("first.example.test") {
		t.Fatal("previous index not kept for a truncated file")
	}

	// Empty (Traefik's truncate before the write): kept.
	rewriteInPlace(t, path, nil)
	backdate(t, path, 50*time.Second)
	check(checkKept)
	check(checkUnchanged)
	if n := count(notParse); n != 2 {
		t.Errorf("after an empty file, %d warnings, want 2", n)
	}
	if !serves("first.example.test") {
		t.Fatal("previous index not kept for an empty file")
	}

	// A fresh partial write is not complained about until it settles.
	rewriteInPlace(t, path, v2[:len(v2)-10])
	check(checkKept)
	check(checkKept) // still fresh: read again, same content, same verdict
	if n := count(notParse); n != 2 {
		t.Errorf("fresh partial file logged as a warning (%d warnings)", n)
	}
	backdate(t, path, 40*time.Second)
	check(checkKept)
	if n := count(notParse); n != 3 {
		t.Errorf("settled partial file: %d warnings, want 3", n)
	}

	// Rename-over with new content.
	replaceByRename(t, path, v2)
	backdate(t, path, 30*time.Second)
	check(checkSwapped)
	if !serves("first.example.test") || !serves("second.example.test") {
		t.Fatal("renamed file not loaded")
	}

	// Unchanged bytes with a new mtime: nothing to do.
	backdate(t, path, 20*time.Second)
	check(checkUnchanged)

	// Same size and same mtime, new content: seen only because the file was
	// fresh when last read (racy); the swap of two entries changes which one
	// serves a name they share.
	a := ca.issue(t, leafSpec{names: []string{"pair.example.test"}, notAfter: pinnedTime.AddDate(0, 0, 50)})
	b := ca.issue(t, leafSpec{names: []string{"pair.example.test"}, notAfter: pinnedTime.AddDate(0, 0, 50)})
	ab := marshalFile(t, acmejson.File{"le": {Certificates: []*acmejson.Certificate{a, b}}})
	ba := marshalFile(t, acmejson.File{"le": {Certificates: []*acmejson.Certificate{b, a}}})
	if len(ab) != len(ba) {
		t.Fatal("swapped file differs in size")
	}
	rewriteInPlace(t, path, ab)
	check(checkSwapped)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	rewriteInPlace(t, path, ba)
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	check(checkSwapped)
	if got := w.index.Load().lookup("pair.example.test"); got == nil || !bytes.Equal(got.cert.tls.Leaf.Raw, leafOf(t, b).Raw) {
		t.Fatal("same-size, same-mtime rewrite was not picked up")
	}

	// Broken entries in a fresh file wait for it to settle, then are
	// skipped and logged once.
	bad := ca.issue(t, leafSpec{names: []string{"bad.example.test"}})
	bad.Certificate = []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	withBad := marshalFile(t, acmejson.File{"le": {Certificates: []*acmejson.Certificate{first, bad}}})
	rewriteInPlace(t, path, withBad)
	check(checkRetry)
	if !serves("pair.example.test") || serves("first.example.test") {
		t.Fatal("index replaced before a file with broken entries settled")
	}
	backdate(t, path, 10*time.Second)
	check(checkSwapped)
	check(checkUnchanged)
	check(checkUnchanged)
	if n := count("skipping certificate entry"); n != 1 {
		t.Errorf("broken entry logged %d times, want 1", n)
	}
	if serves("pair.example.test") || !serves("first.example.test") {
		t.Fatal("settled file with a broken entry not loaded")
	}

	// Deleted: kept, logged once.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	check(checkKept)
	check(checkKept)
	if n := count("acme.json unavailable; keeping previous certificates"); n != 2 {
		t.Errorf("deleted file: %d warnings in all, want 2", n)
	}
	if !serves("first.example.test") {
		t.Fatal("previous index not kept for a deleted file")
	}
}

// TestGetCertEntriesReused checks that a reload reuses the parsed form of
// unchanged entries and parses changed ones.
func TestGetCertEntriesReused(t *testing.T) {
	ca := newTestCA(t, 1)
	a := ca.issue(t, leafSpec{names: []string{"a.example.test"}})
	b := ca.issue(t, leafSpec{names: []string{"b.example.test"}})
	c := ca.issue(t, leafSpec{names: []string{"c.example.test"}})
	ix1, _, err := buildCertIndex(marshalFile(t, acmejson.File{"le": {Certificates: []*acmejson.Certificate{a, b}}}), nil, nil, pinnedTime)
	if err != nil {
		t.Fatal(err)
	}
	ix2, rep, err := buildCertIndex(marshalFile(t, acmejson.File{"x": {Certificates: []*acmejson.Certificate{c, b}}}), nil, ix1, pinnedTime)
	if err != nil {
		t.Fatal(err)
	}
	if rep.reused != 1 {
		t.Errorf("reused %d entries, want 1", rep.reused)
	}
	if ix2.lookup("b.example.test").cert != ix1.lookup("b.example.test").cert {
		t.Error("unchanged entry parsed again")
	}
	if e := ix2.lookup("b.example.test"); e.resolver != "x" || e.position != 1 {
		t.Errorf("reused entry placed at %s[%d], want x[1]", e.resolver, e.position)
	}
	if ix2.lookup("a.example.test") != nil || ix2.lookup("c.example.test") == nil {
		t.Error("index does not reflect the new content")
	}
}

// TestAcmeJSONManagerCaddyfile checks the Caddyfile syntax, alone and
// adapted inside a tls block.
func TestAcmeJSONManagerCaddyfile(t *testing.T) {
	tests := []struct {
		desc    string
		input   string
		want    ACMEJSONManager
		wantErr string
	}{
		{
			desc:  "path only",
			input: "traefik_acme_json /etc/traefik/acme.json",
			want:  ACMEJSONManager{Path: "/etc/traefik/acme.json"},
		},
		{
			desc:  "resolvers",
			input: "traefik_acme_json /etc/traefik/acme.json le dns",
			want:  ACMEJSONManager{Path: "/etc/traefik/acme.json", Resolvers: []string{"le", "dns"}},
		},
		{
			desc:  "poll interval",
			input: "traefik_acme_json {env.ACME} le {\n\tpoll_interval 2s\n}",
			want:  ACMEJSONManager{Path: "{env.ACME}", Resolvers: []string{"le"}, PollInterval: caddy.Duration(2 * time.Second)},
		},
		{desc: "no path", input: "traefik_acme_json", wantErr: "missing path"},
		{desc: "unknown subdirective", input: "traefik_acme_json /a {\n\tfoo\n}", wantErr: `unknown subdirective "foo"`},
		{desc: "bad duration", input: "traefik_acme_json /a {\n\tpoll_interval soon\n}", wantErr: "poll_interval"},
		{desc: "duration without value", input: "traefik_acme_json /a {\n\tpoll_interval\n}", wantErr: "argument"},
		{desc: "two durations", input: "traefik_acme_json /a {\n\tpoll_interval 1s 2s\n}", wantErr: "argument"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var got ACMEJSONManager
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Path != tt.want.Path || strings.Join(got.Resolvers, ",") != strings.Join(tt.want.Resolvers, ",") || got.PollInterval != tt.want.PollInterval {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}

	t.Run("adapted", func(t *testing.T) {
		cfgJSON := adapt(t, `app.example.test {
	tls {
		get_certificate traefik_acme_json /etc/traefik/acme.json le dns
	}
	respond "ok"
}
`)
		var cfg struct {
			Apps struct {
				TLS struct {
					Automation struct {
						Policies []struct {
							Subjects []string          `json:"subjects"`
							Managers []json.RawMessage `json:"get_certificate"`
						} `json:"policies"`
					} `json:"automation"`
				} `json:"tls"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
			t.Fatal(err)
		}
		pols := cfg.Apps.TLS.Automation.Policies
		if len(pols) != 1 || len(pols[0].Managers) != 1 {
			t.Fatalf("policies: %s", cfgJSON)
		}
		var got map[string]any
		if err := json.Unmarshal(pols[0].Managers[0], &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"via": "traefik_acme_json", "path": "/etc/traefik/acme.json", "resolvers": []any{"le", "dns"}}
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(want)
		if !bytes.Equal(gotJSON, wantJSON) {
			t.Fatalf("manager JSON %s, want %s", gotJSON, wantJSON)
		}
	})
}

// TestAcmeJSONManagerValidate checks the configuration rules.
func TestAcmeJSONManagerValidate(t *testing.T) {
	tests := []struct {
		desc    string
		m       ACMEJSONManager
		wantErr string
	}{
		{"ok", ACMEJSONManager{Path: "/a", Resolvers: []string{"le", "dns"}}, ""},
		{"ok with interval", ACMEJSONManager{Path: "/a", PollInterval: caddy.Duration(time.Second)}, ""},
		{"no path", ACMEJSONManager{}, "missing path"},
		{"interval too small", ACMEJSONManager{Path: "/a", PollInterval: caddy.Duration(time.Millisecond)}, "below the minimum"},
		{"negative interval", ACMEJSONManager{Path: "/a", PollInterval: caddy.Duration(-time.Second)}, "below the minimum"},
		{"empty resolver", ACMEJSONManager{Path: "/a", Resolvers: []string{""}}, "empty resolver"},
		{"duplicate resolver", ACMEJSONManager{Path: "/a", Resolvers: []string{"le", "le"}}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := tt.m.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestAcmeJSONManagerProvision checks Provision and Cleanup outside Caddy:
// placeholders, a missing file, a file that is not acme.json, and that the
// poller stops.
func TestAcmeJSONManagerProvision(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "acme.json")
	if err := os.WriteFile(good, marshalFile(t, loadFixture(t, "traefik-v3-acme.json")), 0o600); err != nil {
		t.Fatal(err)
	}
	backdate(t, good, time.Minute)
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte(`{"le": {"Certificates": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	backdate(t, broken, time.Minute)
	t.Setenv("GETCERT_TEST_DIR", dir)

	tests := []struct {
		desc    string
		path    string
		serves  string
		wantErr string
	}{
		{desc: "placeholder expanded", path: "{env.GETCERT_TEST_DIR}/acme.json", serves: "h1.example.test"},
		{desc: "missing file", path: filepath.Join(dir, "later.json")},
		{desc: "not acme.json", path: broken, wantErr: "parsing acme.json"},
		{desc: "unknown placeholder", path: "{nope}/acme.json", wantErr: "placeholders"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
			defer cancel()
			m := &ACMEJSONManager{Path: tt.path}
			err := m.Provision(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if err := m.Cleanup(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.serves != "" {
				c, err := m.GetCertificate(t.Context(), &tls.ClientHelloInfo{ServerName: tt.serves})
				if err != nil || c == nil {
					t.Fatalf("%s not served: %v", tt.serves, err)
				}
			}
			done := m.done
			if err := m.Cleanup(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			default:
				t.Fatal("poller still running after Cleanup")
			}
			if err := m.Cleanup(); err != nil {
				t.Fatalf("second Cleanup: %v", err)
			}
		})
	}
}

// getCertCaddyfile serves only what the manager finds: a catch-all HTTPS
// site whose on-demand issuance (which a get_certificate manager turns on)
// is refused by the ask endpoint, by default one that Caddy itself answers
// with 403 (the setup the README recommends), so that Caddy has no other
// certificate and obtains none. The manager logs at debug level.
const getCertCaddyfile = `{
{{template "preamble" .}}
	log traefik_acme_json {
		output file {{.Log}}
		format json
		level DEBUG
		include tls.get_certificate.traefik_acme_json
	}
	on_demand_tls {
		ask {{index .Extra "ask"}}
	}
}
http://127.0.0.1:{{index .Extra "askport"}} {
	respond 403
}
https:// {
	tls {
		get_certificate traefik_acme_json {{index .Extra "path"}} {{index .Extra "resolvers"}} {
			poll_interval {{index .Extra "poll"}}
		}
	}
	respond "ok"
}
`

// startGetCertCaddy copies data to a fresh acme.json and starts Caddy
// serving it; it returns the file's path.
func startGetCertCaddy(t *testing.T, env *caddyEnv, data []byte, resolvers string, poll string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "acme.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	env.Clock = pinnedClock
	env.Extra["path"] = path
	env.Extra["resolvers"] = resolvers
	if poll == "" {
		poll = defaultPollInterval.String()
	}
	env.Extra["poll"] = poll
	env.Extra["askport"] = strconv.Itoa(freeLoopbackPorts(t, 1)[0])
	if env.Extra["ask"] == "" {
		env.Extra["ask"] = "http://127.0.0.1:" + env.Extra["askport"] + "/"
	}
	env.startCaddy(t, getCertCaddyfile)
	return path
}

// expectLeaf returns an accept function for waitCert that wants leaf.
func expectLeaf(leaf *x509.Certificate) func([]*x509.Certificate) bool {
	return func(chain []*x509.Certificate) bool { return bytes.Equal(chain[0].Raw, leaf.Raw) }
}

// fixtureLeaves maps each name of the fixture's leaves to its leaf.
func fixtureLeaves(t *testing.T, f acmejson.File) map[string]*x509.Certificate {
	t.Helper()
	out := map[string]*x509.Certificate{}
	for _, r := range f.ResolverNames() {
		for _, c := range f[r].Certificates {
			p, err := c.Parse()
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range p.Leaf.Names {
				out[n] = p.Chain[0]
			}
		}
	}
	return out
}

// TestGetCertServesTraefikFixtures starts Caddy on each real Traefik file
// and checks, by real handshakes verified against the fixture's root at a
// pinned time, that every name gets its certificate (wildcards too) and
// that other names get none.
func TestGetCertServesTraefikFixtures(t *testing.T) {
	tests := []struct {
		file, root string
		sni        map[string]string // SNI → name of the leaf expected
		none       []string
	}{
		{
			file: "traefik-v3-acme.json", root: "pebble-root.pem",
			sni:  map[string]string{"d1.example.test": "d1.example.test", "h1.example.test": "h1.example.test", "T1.Example.Test": "t1.example.test"},
			none: []string{"x.d1.example.test", "example.test"},
		},
		{
			file: "traefik-v2-acme.json", root: "pebble-root.pem",
			sni:  map[string]string{"d1.example.test": "d1.example.test", "h1.example.test": "h1.example.test", "t1.example.test": "t1.example.test"},
			none: []string{"nothing.example.test"},
		},
		{
			file: "traefik-v3.6.21-rich-acme.json", root: "traefik-v3.6.21-rich-root.pem",
			sni: map[string]string{
				"a.example.test": "a.example.test", "b.example.test": "b.example.test", "c.example.test": "c.example.test",
				"plain.example.test": "plain.example.test", "tls1.example.test": "tls1.example.test",
				"wild.example.test": "wild.example.test", "anything.wild.example.test": "*.wild.example.test",
				"ANOTHER.wild.example.test": "*.wild.example.test",
			},
			none: []string{"a.b.wild.example.test", "unused.example.test"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := loadFixture(t, tt.file)
			leaves := fixtureLeaves(t, f)
			roots := fixtureRoots(t, tt.root)
			env := newLocalCaddyEnv(t)
			raw, err := os.ReadFile(filepath.Join("testdata", "acmejson", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			path := startGetCertCaddy(t, env, raw, "", "")
			for sni, name := range tt.sni {
				leaf := leaves[name]
				if leaf == nil {
					t.Fatalf("fixture has no leaf for %s", name)
				}
				chain := env.waitCert(t, sni, roots, 5*time.Second, expectLeaf(leaf))
				if len(chain) < 3 {
					t.Errorf("%s: verified chain of %d certificates, want leaf, intermediate, root", sni, len(chain))
				}
			}
			for _, sni := range tt.none {
				if _, err := env.handshake(sni, roots); err == nil {
					t.Errorf("%s: handshake succeeded, want no certificate", sni)
				}
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, raw) {
				t.Error("acme.json was modified")
			}
		})
	}
}

// TestGetCertResolverFilter serves only the listed resolvers' certificates.
func TestGetCertResolverFilter(t *testing.T) {
	f := loadFixture(t, "traefik-v3.6.21-rich-acme.json")
	leaves := fixtureLeaves(t, f)
	roots := fixtureRoots(t, "traefik-v3.6.21-rich-root.pem")
	env := newLocalCaddyEnv(t)
	startGetCertCaddy(t, env, marshalFile(t, f), "http-ec dns-wild", "")
	for _, sni := range []string{"a.example.test", "plain.example.test", "wild.example.test", "x.wild.example.test"} {
		name := sni
		if strings.HasPrefix(sni, "x.") {
			name = "*.wild.example.test"
		}
		env.waitCert(t, sni, roots, 5*time.Second, expectLeaf(leaves[name]))
	}
	if _, err := env.handshake("tls1.example.test", roots); err == nil {
		t.Error("tls1.example.test (resolver tls-rsa, not listed) was served")
	}
}

// TestGetCertPicksUpNewCertificate adds a certificate to the live file,
// atomically (rename) and in place (as Traefik writes), and expects it on
// new handshakes within visibleWithin.
func TestGetCertPicksUpNewCertificate(t *testing.T) {
	ca := newTestCA(t, 1)
	for _, tt := range []struct {
		desc  string
		write func(tb testing.TB, path string, data []byte)
	}{
		{"rename", replaceByRename},
		{"in place", rewriteInPlace},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			f := loadFixture(t, "traefik-v3-acme.json")
			pebble := fixtureRoots(t, "pebble-root.pem")
			h1 := fixtureLeaves(t, f)["h1.example.test"]
			env := newLocalCaddyEnv(t)
			path := startGetCertCaddy(t, env, marshalFile(t, f), "", "")
			env.waitCert(t, "h1.example.test", pebble, 5*time.Second, expectLeaf(h1))
			if _, err := env.handshake("new.example.test", ca.pool); err == nil {
				t.Fatal("new.example.test served before it was added")
			}

			entry := ca.issue(t, leafSpec{names: []string{"new.example.test", "*.new.example.test"}})
			f.Ensure("le-http").Upsert(entry.Names(), entry.Certificate, entry.Key)
			tt.write(t, path, marshalFile(t, f))
			leaf := leafOf(t, entry)
			env.waitCert(t, "new.example.test", ca.pool, visibleWithin, expectLeaf(leaf))
			env.waitCert(t, "www.new.example.test", ca.pool, time.Second, expectLeaf(leaf))
			env.waitCert(t, "h1.example.test", pebble, time.Second, expectLeaf(h1))
		})
	}
}

// TestGetCertSurvivesBrokenFile truncates the live file mid-JSON, empties
// it, then replaces it by rename: old certificates are served throughout,
// the broken states are logged once each, and the replacement is picked up.
func TestGetCertSurvivesBrokenFile(t *testing.T) {
	ca := newTestCA(t, 1)
	f := loadFixture(t, "traefik-v3.6.21-rich-acme.json")
	leaves := fixtureLeaves(t, f)
	roots := fixtureRoots(t, "traefik-v3.6.21-rich-root.pem")
	env := newLocalCaddyEnv(t)
	data := marshalFile(t, f)
	path := startGetCertCaddy(t, env, data, "", "100ms")
	env.waitCert(t, "a.example.test", roots, 5*time.Second, expectLeaf(leaves["a.example.test"]))

	servesAll := func() {
		t.Helper()
		for _, sni := range []string{"a.example.test", "tls1.example.test", "x.wild.example.test"} {
			name := sni
			if strings.HasPrefix(sni, "x.") {
				name = "*.wild.example.test"
			}
			chain, err := env.handshake(sni, roots)
			if err != nil {
				t.Fatalf("%s: %v", sni, err)
			}
			if !bytes.Equal(chain[0].Raw, leaves[name].Raw) {
				t.Fatalf("%s: wrong certificate", sni)
			}
		}
	}
	warnings := func(sub string) int {
		b, err := os.ReadFile(env.Log)
		if err != nil {
			return 0
		}
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, `"level":"warn"`) && strings.Contains(line, "acme.json does not parse") && strings.Contains(line, sub) {
				n++
			}
		}
		return n
	}

	rewriteInPlace(t, path, data[:len(data)/3])
	waitFor(t, "the truncated file to be reported", 5*time.Second, func() bool { return warnings("decoding JSON") > 0 })
	servesAll()

	rewriteInPlace(t, path, nil)
	waitFor(t, "the empty file to be reported", 5*time.Second, func() bool { return warnings("is empty") > 0 })
	servesAll()

	entry := ca.issue(t, leafSpec{names: []string{"renamed.example.test"}})
	f.Ensure("http-ec").Upsert(entry.Names(), entry.Certificate, entry.Key)
	replaceByRename(t, path, marshalFile(t, f))
	env.waitCert(t, "renamed.example.test", ca.pool, visibleWithin, expectLeaf(leafOf(t, entry)))
	servesAll()

	if n := warnings("decoding JSON"); n != 1 {
		t.Errorf("truncated file reported %d times, want once", n)
	}
	if n := warnings("is empty"); n != 1 {
		t.Errorf("empty file reported %d times, want once", n)
	}
}

// TestGetCertRewriteLoop rewrites the live file 200 times in place (truncate
// + write, like Traefik), concurrently with handshakes for names present in
// every version, which must always get their own certificate, never a
// stale duplicate nor none. Versions differ in an extra certificate and in
// a stale duplicate of a served name (older NotAfter) that must never win.
func TestGetCertRewriteLoop(t *testing.T) {
	const rewrites = 200
	ca := newTestCA(t, 2)
	base := loadFixture(t, "traefik-v3.6.21-rich-acme.json")
	leaves := fixtureLeaves(t, base)
	roots := fixtureRoots(t, "traefik-v3.6.21-rich-root.pem")
	stale := ca.issue(t, leafSpec{names: []string{"plain.example.test", "a.example.test"}, notAfter: pinnedTime.AddDate(0, 1, 0)})

	extras := make([]*acmejson.Certificate, 7)
	for i := range extras {
		extras[i] = ca.issue(t, leafSpec{names: []string{"extra" + string(rune('a'+i)) + ".example.test"}, key: i % 2})
	}
	versions := make([][]byte, rewrites)
	for i := range versions {
		f := cloneFile(t, base)
		r := f.Ensure("http-ec")
		r.Certificates = append(r.Certificates, extras[i%len(extras)])
		if i%3 == 0 {
			r.Certificates = append([]*acmejson.Certificate{stale}, r.Certificates...)
		}
		if i%5 == 0 {
			f.Ensure("zz-more").Certificates = []*acmejson.Certificate{extras[(i+1)%len(extras)]}
		}
		versions[i] = marshalFile(t, f)
	}

	env := newLocalCaddyEnv(t)
	path := startGetCertCaddy(t, env, versions[0], "", "10ms")
	checks := []struct{ sni, name string }{
		{"a.example.test", "a.example.test"},
		{"b.example.test", "b.example.test"},
		{"plain.example.test", "plain.example.test"},
		{"tls1.example.test", "tls1.example.test"},
		{"wild.example.test", "wild.example.test"},
		{"deep.wild.example.test", "*.wild.example.test"},
	}
	for _, c := range checks {
		env.waitCert(t, c.sni, roots, 5*time.Second, expectLeaf(leaves[c.name]))
	}

	progress := make(chan struct{}, 64)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var handshakes, failures atomic.Int64
	for g := range 3 {
		wg.Go(func() {
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := checks[i%len(checks)]
				chain, err := env.handshake(c.sni, roots)
				handshakes.Add(1)
				switch {
				case err != nil:
					failures.Add(1)
					t.Errorf("rewrite loop: %s: %v", c.sni, err)
				case !bytes.Equal(chain[0].Raw, leaves[c.name].Raw):
					failures.Add(1)
					t.Errorf("rewrite loop: %s: wrong certificate (serial %s)", c.sni, chain[0].SerialNumber)
				}
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		})
	}
	for i := 1; i < rewrites; i++ {
		rewriteInPlace(t, path, versions[i])
		// Let a few handshakes run against this version before the next.
		for range 2 {
			<-progress
		}
		if failures.Load() > 10 {
			break
		}
	}
	close(stop)
	wg.Wait()

	last := extras[(rewrites-1)%len(extras)]
	env.waitCert(t, last.Domain.Main, ca.pool, visibleWithin, expectLeaf(leafOf(t, last)))
	log, err := os.ReadFile(env.Log)
	if err != nil {
		t.Fatal(err)
	}
	reloads := strings.Count(string(log), "loaded certificates from acme.json")
	t.Logf("%d rewrites, %d handshakes, %d reloads; reads caught mid-write: %d torn, %d not parsing, %d with broken entries",
		rewrites, handshakes.Load(), reloads,
		strings.Count(string(log), "acme.json changed while being read"),
		strings.Count(string(log), "acme.json does not parse yet"),
		strings.Count(string(log), "acme.json has broken entries"))
	if reloads < 10 {
		t.Errorf("only %d reloads during %d rewrites: the loop did not exercise reloading", reloads, rewrites)
	}
}

// TestGetCertFallsThrough checks that a name the file does not cover is
// left to Caddy: with nothing else configured the handshake fails; with an
// issuer on the site, Caddy serves its own certificate.
func TestGetCertFallsThrough(t *testing.T) {
	pebble := fixtureRoots(t, "pebble-root.pem")
	raw, err := os.ReadFile(filepath.Join("testdata", "acmejson", "traefik-v3-acme.json"))
	if err != nil {
		t.Fatal(err)
	}
	h1 := fixtureLeaves(t, loadFixture(t, "traefik-v3-acme.json"))["h1.example.test"]

	t.Run("nothing else", func(t *testing.T) {
		// An ask endpoint that refuses and records what it was asked:
		// Caddy asks only after every manager returned (nil, nil).
		var mu sync.Mutex
		var asked []string
		ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			asked = append(asked, r.URL.Query().Get("domain"))
			mu.Unlock()
			http.Error(w, "no", http.StatusForbidden)
		}))
		t.Cleanup(ask.Close)
		env := newLocalCaddyEnv(t)
		env.Extra["ask"] = ask.URL + "/ask"
		startGetCertCaddy(t, env, raw, "", "")
		env.waitCert(t, "h1.example.test", pebble, 5*time.Second, expectLeaf(h1))
		_, err := env.handshake("elsewhere.example.test", nil)
		if err == nil {
			t.Fatal("handshake for a name not in acme.json succeeded")
		}
		if !strings.Contains(err.Error(), "remote error") {
			t.Fatalf("handshake failed on the client side, want the server to refuse: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if strings.Join(asked, ",") != "elsewhere.example.test" {
			t.Fatalf("ask endpoint asked about %v, want only elsewhere.example.test", asked)
		}
	})

	t.Run("internal issuer", func(t *testing.T) {
		env := newLocalCaddyEnv(t)
		path := filepath.Join(t.TempDir(), "acme.json")
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		env.Clock = pinnedClock
		env.Extra["path"] = path
		env.startCaddy(t, `{
{{template "preamble" .}}
}
h1.example.test, other.example.test {
	tls {
		get_certificate traefik_acme_json {{index .Extra "path"}}
		issuer internal
	}
	respond "ok"
}
`)
		env.waitCert(t, "h1.example.test", pebble, 5*time.Second, expectLeaf(h1))
		rootFile := filepath.Join(env.Storage, "pki", "authorities", "local", "root.crt")
		var internal *x509.CertPool
		waitFor(t, "Caddy's internal CA root", 10*time.Second, func() bool {
			b, err := os.ReadFile(rootFile)
			if err != nil {
				return false
			}
			internal = x509.NewCertPool()
			return internal.AppendCertsFromPEM(b)
		})
		env.Clock = nil // the internal CA's certificates are fresh
		chain := env.waitCert(t, "other.example.test", internal, 30*time.Second, nil)
		if !strings.Contains(chain[len(chain)-1].Subject.CommonName, "Caddy Local Authority") {
			t.Errorf("other.example.test served by %q, want Caddy's internal CA", chain[len(chain)-1].Subject.CommonName)
		}
	})
}

// FuzzGetCertLookup checks the index against a brute-force reading of the
// selection rule, for arbitrary server names: a name gets a certificate if
// and only if some leaf has it literally (exact) or has "*." followed by
// the name minus its first, non-empty label (wildcard), and an exact match
// is preferred.
func FuzzGetCertLookup(f *testing.F) {
	ca := newTestCA(f, 1)
	var certs []*acmejson.Certificate
	for _, names := range [][]string{
		{"a.example.test", "*.example.test"},
		{"*.b.example.test"},
		{"*.*.c.example.test"},
		{"*.*"},
		{"*.test"},
		{"127.0.0.1", "::1"},
		{"xn--bcher-kva.example.test"},
	} {
		certs = append(certs, ca.issue(f, leafSpec{names: names}))
	}
	ix, _, err := buildCertIndex(marshalFile(f, acmejson.File{"le": {Certificates: certs}}), nil, nil, pinnedTime)
	if err != nil {
		f.Fatal(err)
	}
	var all []*servedCert
	for _, c := range certs {
		sc, _, err := servedCertFor(c, nil)
		if err != nil {
			f.Fatal(err)
		}
		all = append(all, sc)
	}
	m := managerFor(ix)
	for _, seed := range []string{"a.example.test", "B.Example.Test.", "x.b.example.test", "x.y.c.example.test", "a.b", "*.*", "test", ".test", "x.", "127.0.0.1", "::1", "", "*.example.test", "x.*.test"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, sni string) {
		got, err := m.GetCertificate(t.Context(), &tls.ClientHelloInfo{ServerName: sni})
		if err != nil {
			t.Fatal(err)
		}
		name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(sni), "."))
		has := func(sc *servedCert, n string) bool {
			for _, x := range sc.names {
				if x == n {
					return true
				}
			}
			return false
		}
		var exact, wild bool
		var wildName string
		if i := strings.IndexByte(name, '.'); i > 0 && i < len(name)-1 && !strings.Contains(name[i+1:], "*") {
			wildName = "*" + name[i:]
		}
		for _, sc := range all {
			exact = exact || (name != "" && !strings.Contains(name, "*") && has(sc, name))
			wild = wild || (wildName != "" && has(sc, wildName))
		}
		switch {
		case got == nil && (exact || wild):
			t.Fatalf("%q: no certificate, but exact=%v wildcard=%v", sni, exact, wild)
		case got != nil && !exact && !wild:
			t.Fatalf("%q: served %v, which does not cover it", sni, got.Leaf.DNSNames)
		case got != nil && exact:
			for _, sc := range all {
				if sc.tls.Leaf == got.Leaf && !has(sc, name) {
					t.Fatalf("%q: wildcard served although an exact certificate exists", sni)
				}
			}
		}
	})
}
