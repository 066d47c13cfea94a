package acmetest_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"
	"github.com/libdns/rfc2136"
	"github.com/miekg/dns"

	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

// exchange sends m to d over network and returns the reply.
func exchange(t *testing.T, d *acmetest.DNS, network string, m *dns.Msg, tsigSecret map[string]string) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second, TsigSecret: tsigSecret}
	in, _, err := c.ExchangeContext(t.Context(), m, d.Addr())
	if err != nil {
		t.Fatalf("exchanging %v over %s: %v", m.Question, network, err)
	}
	return in
}

func TestDNSQueries(t *testing.T) {
	d := acmetest.StartDNS(t)
	long := strings.Repeat("x", 300)
	d.SetTXT("_acme-challenge.Foo.Example.Test", "token-1") // case and missing dot tolerated
	d.AddTXT("_acme-challenge.foo.example.test.", "token-2")
	d.SetTXT("long.example.test", long)

	tests := []struct {
		name       string
		qname      string
		qtype      uint16
		wantAnswer []string // presentation form of the rdata, in order
		wantNsSOA  string   // apex of the SOA expected in the authority section
	}{
		{name: "A for any name", qname: "whatever.example.test.", qtype: dns.TypeA, wantAnswer: []string{"127.0.0.1"}},
		{name: "A for a deep name", qname: "a.b.c.other.test.", qtype: dns.TypeA, wantAnswer: []string{"127.0.0.1"}},
		{name: "AAAA is empty", qname: "whatever.example.test.", qtype: dns.TypeAAAA, wantNsSOA: "example.test."},
		{
			name: "TXT values", qname: "_ACME-challenge.foo.example.test.", qtype: dns.TypeTXT,
			wantAnswer: []string{"token-1", "token-2"},
		},
		{name: "TXT long value", qname: "long.example.test.", qtype: dns.TypeTXT, wantAnswer: []string{long}},
		{name: "TXT missing", qname: "none.example.test.", qtype: dns.TypeTXT, wantNsSOA: "example.test."},
		{name: "SOA at apex", qname: "example.test.", qtype: dns.TypeSOA, wantAnswer: []string{"ns.example.test."}},
		{name: "SOA below apex", qname: "_acme-challenge.foo.example.test.", qtype: dns.TypeSOA, wantNsSOA: "example.test."},
		{name: "NS at apex", qname: "example.test.", qtype: dns.TypeNS, wantAnswer: []string{"ns.example.test."}},
		{name: "other type", qname: "example.test.", qtype: dns.TypeMX, wantNsSOA: "example.test."},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				m := new(dns.Msg)
				m.SetQuestion(tc.qname, tc.qtype)
				m.SetEdns0(1232, false)
				in := exchange(t, d, network, m, nil)
				if in.Rcode != dns.RcodeSuccess || !in.Authoritative {
					t.Fatalf("rcode %s, authoritative %t; want NOERROR, true", dns.RcodeToString[in.Rcode], in.Authoritative)
				}
				var got []string
				for _, rr := range in.Answer {
					switch rr := rr.(type) {
					case *dns.A:
						got = append(got, rr.A.String())
					case *dns.TXT:
						got = append(got, strings.Join(rr.Txt, ""))
					case *dns.SOA:
						got = append(got, rr.Ns)
					case *dns.NS:
						got = append(got, rr.Ns)
					default:
						got = append(got, rr.String())
					}
				}
				if !slices.Equal(got, tc.wantAnswer) {
					t.Errorf("answer = %q, want %q", got, tc.wantAnswer)
				}
				if tc.wantNsSOA != "" {
					if len(in.Ns) != 1 || in.Ns[0].Header().Rrtype != dns.TypeSOA || in.Ns[0].Header().Name != tc.wantNsSOA {
						t.Errorf("authority = %v, want the SOA of %s", in.Ns, tc.wantNsSOA)
					}
				}
			})
		}
	}
}

func TestTXTMethods(t *testing.T) {
	d := acmetest.StartDNS(t)
	const name = "_acme-challenge.x.example.test"
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{name: "set", do: func() { d.SetTXT(name, "a") }, want: []string{"a"}},
		{name: "add", do: func() { d.AddTXT(name+".", "b") }, want: []string{"a", "b"}},
		{name: "add duplicate", do: func() { d.AddTXT(strings.ToUpper(name), "b") }, want: []string{"a", "b"}},
		{name: "delete one", do: func() { d.DeleteTXT(name, "a") }, want: []string{"b"}},
		{name: "delete missing", do: func() { d.DeleteTXT(name, "zzz") }, want: []string{"b"}},
		{name: "set replaces", do: func() { d.SetTXT(name, "c") }, want: []string{"c"}},
		{name: "delete all", do: func() { d.AddTXT(name, "d"); d.DeleteTXT(name, "") }, want: nil},
	}
	for _, s := range steps {
		s.do()
		if got := d.TXT(name + "."); !slices.Equal(got, s.want) {
			t.Fatalf("%s: TXT = %q, want %q", s.name, got, s.want)
		}
	}
}

func TestMemoryProvider(t *testing.T) {
	d := acmetest.StartDNS(t)
	p := d.Provider()
	ctx := t.Context()
	const zone = "example.test."

	added, err := p.AppendRecords(ctx, zone, []libdns.Record{
		libdns.TXT{Name: "_acme-challenge.a", Text: "v1"},
		libdns.RR{Name: "_acme-challenge.a", Type: "TXT", Data: "v2"},
	})
	if err != nil || len(added) != 2 {
		t.Fatalf("AppendRecords = %v, %v", added, err)
	}
	if got := d.TXT("_acme-challenge.a.example.test"); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Fatalf("TXT after append = %q", got)
	}
	if _, err := p.AppendRecords(ctx, zone, []libdns.Record{libdns.RR{Name: "x", Type: "A", Data: "192.0.2.1"}}); err == nil {
		t.Error("AppendRecords accepted an A record")
	}

	tests := []struct {
		name        string
		del         libdns.Record
		wantDeleted int
		wantLeft    []string
	}{
		{name: "other type", del: libdns.RR{Name: "_acme-challenge.a", Type: "A", Data: "v1"}, wantLeft: []string{"v1", "v2"}},
		{name: "missing value", del: libdns.TXT{Name: "_acme-challenge.a", Text: "nope"}, wantLeft: []string{"v1", "v2"}},
		{name: "one value", del: libdns.TXT{Name: "_acme-challenge.a", Text: "v1"}, wantDeleted: 1, wantLeft: []string{"v2"}},
		{name: "any value", del: libdns.RR{Name: "_acme-challenge.a", Type: "TXT"}, wantDeleted: 1},
	}
	for _, tc := range tests {
		deleted, err := p.DeleteRecords(ctx, zone, []libdns.Record{tc.del})
		if err != nil || len(deleted) != tc.wantDeleted {
			t.Fatalf("%s: DeleteRecords = %v, %v; want %d deleted", tc.name, deleted, err, tc.wantDeleted)
		}
		if got := d.TXT("_acme-challenge.a.example.test"); !slices.Equal(got, tc.wantLeft) {
			t.Fatalf("%s: TXT = %q, want %q", tc.name, got, tc.wantLeft)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.AppendRecords(cancelled, zone, []libdns.Record{libdns.TXT{Name: "c", Text: "v"}}); err == nil {
		t.Error("AppendRecords ignored a cancelled context")
	}
	if got := d.TXT("c.example.test"); got != nil {
		t.Errorf("cancelled AppendRecords wrote %q", got)
	}
}

func TestRFC2136Provider(t *testing.T) {
	d := acmetest.StartDNS(t)
	ctx := t.Context()
	const zone = "example.test."
	const fqdn = "_acme-challenge.r.example.test"
	provider := func(keyName, secret string) *rfc2136.Provider {
		return &rfc2136.Provider{KeyName: keyName, KeyAlg: d.TSIGAlgorithm(), Key: secret, Server: d.Addr()}
	}
	otherSecret := make([]byte, 32)
	if _, err := rand.Read(otherSecret); err != nil {
		t.Fatal(err)
	}

	rejected := []struct {
		name string
		p    *rfc2136.Provider
	}{
		{name: "wrong secret", p: provider(d.TSIGKeyName(), base64.StdEncoding.EncodeToString(otherSecret))},
		{name: "unknown key name", p: provider("other-key.", d.TSIGSecret())},
	}
	for _, tc := range rejected {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.p.AppendRecords(ctx, zone, []libdns.Record{libdns.TXT{Name: "_acme-challenge.r", Text: "evil"}})
			if err == nil || !strings.Contains(err.Error(), "NOTAUTH") {
				t.Fatalf("AppendRecords err = %v, want NOTAUTH", err)
			}
			if got := d.TXT(fqdn); got != nil {
				t.Fatalf("TXT after rejected update = %q, want none", got)
			}
		})
	}

	t.Run("valid key", func(t *testing.T) {
		p := provider(d.TSIGKeyName(), d.TSIGSecret())
		steps := []struct {
			name string
			run  func() error
			want []string
		}{
			{
				name: "append",
				run: func() error {
					_, err := p.AppendRecords(ctx, zone, []libdns.Record{
						libdns.TXT{Name: "_acme-challenge.r", Text: "v1", TTL: time.Minute},
						libdns.TXT{Name: "_acme-challenge.r", Text: strings.Repeat("y", 300)},
					})
					return err
				},
				want: []string{"v1", strings.Repeat("y", 300)},
			},
			{
				name: "set replaces the rrset",
				run: func() error {
					_, err := p.SetRecords(ctx, zone, []libdns.Record{libdns.TXT{Name: "_acme-challenge.r", Text: "v2"}})
					return err
				},
				want: []string{"v2"},
			},
			{
				name: "delete one value",
				run: func() error {
					if _, err := p.AppendRecords(ctx, zone, []libdns.Record{libdns.TXT{Name: "_acme-challenge.r", Text: "v3"}}); err != nil {
						return err
					}
					_, err := p.DeleteRecords(ctx, zone, []libdns.Record{libdns.TXT{Name: "_acme-challenge.r", Text: "v2"}})
					return err
				},
				want: []string{"v3"},
			},
			{
				name: "delete rrset",
				run: func() error {
					_, err := p.DeleteRecords(ctx, zone, []libdns.Record{libdns.RR{Name: "_acme-challenge.r", Type: "TXT"}})
					return err
				},
			},
			{
				name: "delete name",
				run: func() error {
					if _, err := p.AppendRecords(ctx, zone, []libdns.Record{libdns.TXT{Name: "_acme-challenge.r", Text: "v4"}}); err != nil {
						return err
					}
					_, err := p.DeleteRecords(ctx, zone, []libdns.Record{libdns.RR{Name: "_acme-challenge.r"}})
					return err
				},
			},
		}
		for _, s := range steps {
			if err := s.run(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if got := d.TXT(fqdn); !slices.Equal(got, s.want) {
				t.Fatalf("%s: TXT = %q, want %q", s.name, got, s.want)
			}
		}
	})
}

func TestRFC2136Raw(t *testing.T) {
	d := acmetest.StartDNS(t)
	secrets := map[string]string{d.TSIGKeyName(): d.TSIGSecret()}
	txt := func(name, value string) *dns.TXT {
		return &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{value}}
	}
	tests := []struct {
		name      string
		zone      string
		build     func(m *dns.Msg)
		unsigned  bool
		wantRcode int
		wantTXT   map[string][]string // checked after the update
	}{
		{
			name: "unsigned update refused", zone: "example.test.", unsigned: true,
			build:     func(m *dns.Msg) { m.Insert([]dns.RR{txt("u.example.test.", "x")}) },
			wantRcode: dns.RcodeRefused, wantTXT: map[string][]string{"u.example.test": nil},
		},
		{
			name: "insert",
			zone: "example.test.",
			build: func(m *dns.Msg) {
				m.Insert([]dns.RR{txt("a.example.test.", "1"), txt("a.example.test.", "2"), txt("b.example.test.", "3")})
			},
			wantRcode: dns.RcodeSuccess,
			wantTXT:   map[string][]string{"a.example.test": {"1", "2"}, "b.example.test": {"3"}},
		},
		{
			name: "name outside zone changes nothing", zone: "example.test.",
			build: func(m *dns.Msg) {
				m.Insert([]dns.RR{txt("c.example.test.", "4"), txt("c.other.test.", "5")})
			},
			wantRcode: dns.RcodeNotZone, wantTXT: map[string][]string{"c.example.test": nil, "c.other.test": nil},
		},
		{
			name: "zone that is not an apex", zone: "sub.example.test.",
			build:     func(m *dns.Msg) { m.Insert([]dns.RR{txt("x.sub.example.test.", "6")}) },
			wantRcode: dns.RcodeNotAuth, wantTXT: map[string][]string{"x.sub.example.test": nil},
		},
		{
			name: "non-TXT insert not implemented", zone: "example.test.",
			build: func(m *dns.Msg) {
				rr, _ := dns.NewRR("a.example.test. 60 IN A 192.0.2.1")
				m.Insert([]dns.RR{rr})
			},
			wantRcode: dns.RcodeNotImplemented,
		},
		{
			name: "prerequisites not implemented", zone: "example.test.",
			build: func(m *dns.Msg) {
				m.NameUsed([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: "a.example.test."}}})
				m.Insert([]dns.RR{txt("p.example.test.", "7")})
			},
			wantRcode: dns.RcodeNotImplemented, wantTXT: map[string][]string{"p.example.test": nil},
		},
		{
			name: "class NONE deletes one record", zone: "example.test.",
			build:     func(m *dns.Msg) { m.Remove([]dns.RR{txt("a.example.test.", "1")}) },
			wantRcode: dns.RcodeSuccess, wantTXT: map[string][]string{"a.example.test": {"2"}},
		},
		{
			name: "class ANY deletes the rrset", zone: "example.test.",
			build: func(m *dns.Msg) {
				m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: "a.example.test.", Rrtype: dns.TypeTXT}}})
			},
			wantRcode: dns.RcodeSuccess, wantTXT: map[string][]string{"a.example.test": nil, "b.example.test": {"3"}},
		},
		{
			name: "class ANY type ANY deletes the name", zone: "example.test.",
			build:     func(m *dns.Msg) { m.RemoveName([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: "B.example.test."}}}) },
			wantRcode: dns.RcodeSuccess, wantTXT: map[string][]string{"b.example.test": nil},
		},
	}
	for _, network := range []string{"tcp", "udp"} {
		for _, tc := range tests {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				m := new(dns.Msg)
				m.SetUpdate(tc.zone)
				tc.build(m)
				var secret map[string]string
				if !tc.unsigned {
					m.SetTsig(d.TSIGKeyName(), dns.HmacSHA256, 300, time.Now().Unix())
					secret = secrets
				}
				in := exchange(t, d, network, m, secret) // verifies the reply's TSIG
				if in.Rcode != tc.wantRcode {
					t.Fatalf("rcode = %s, want %s", dns.RcodeToString[in.Rcode], dns.RcodeToString[tc.wantRcode])
				}
				if !tc.unsigned && tc.wantRcode != dns.RcodeNotAuth && in.IsTsig() == nil {
					t.Error("reply to a signed update is not signed")
				}
				for name, want := range tc.wantTXT {
					if got := d.TXT(name); !slices.Equal(got, want) {
						t.Errorf("TXT %s = %q, want %q", name, got, want)
					}
				}
			})
		}
	}
}
