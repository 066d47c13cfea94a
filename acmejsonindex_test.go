package traefikacme

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

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
