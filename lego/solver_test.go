package lego

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
)

// TestSeqLocks: one holder per TXT name from Present to CleanUp; a second
// challenge with the same name waits until the first is released; the same
// order (context) never waits for itself; a cancelled wait gives up.
func TestSeqLocks(t *testing.T) {
	waiting := make(chan string, 1)
	l := &seqLocks{waiting: func(name string) { waiting <- name }}
	log := zap.NewNop()
	const name = "_acme-challenge.example.test."

	ctxA := context.WithValue(t.Context(), struct{ k string }{"order"}, "a")
	ok, err := l.acquire(ctxA, name, "tokA", log)
	if !ok || err != nil {
		t.Fatalf("first acquire = %v, %v", ok, err)
	}

	// Same order (context): proceeds at once without the lock.
	if ok, err := l.acquire(ctxA, name, "tokA2", log); ok || err != nil {
		t.Fatalf("same-order acquire = %v, %v; want false, nil", ok, err)
	}

	// Another name is independent.
	if ok, err := l.acquire(t.Context(), "_acme-challenge.other.test.", "tokC", log); !ok || err != nil {
		t.Fatalf("other name acquire = %v, %v", ok, err)
	}

	var (
		mu     sync.Mutex
		events []string
	)
	record := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	done := make(chan error)
	ctxB := context.WithValue(t.Context(), struct{ k string }{"order"}, "b")
	go func() {
		ok, err := l.acquire(ctxB, name, "tokB", log)
		if err == nil && !ok {
			err = errors.New("second acquire returned false")
		}
		record("B acquired")
		done <- err
	}()
	if got := <-waiting; got != name {
		t.Fatalf("waiting for %q", got)
	}
	l.release(name, "not-the-holder", 0) // a stranger's release is ignored
	record("A released")
	l.release(name, "tokA", 0)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := []string{"A released", "B acquired"}; !slices.Equal(events, want) {
		t.Fatalf("events %v, want %v", events, want)
	}

	// A waiter whose context ends gives up with the context's error.
	ctxC, cancel := context.WithCancel(t.Context())
	go func() { <-waiting; cancel() }()
	if ok, err := l.acquire(ctxC, name, "tokC", log); ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled acquire = %v, %v", ok, err)
	}
	l.release(name, "tokB", 0)
	if ok, err := l.acquire(t.Context(), name, "tokD", log); !ok || err != nil {
		t.Fatalf("acquire after release = %v, %v", ok, err)
	}
}

// TestSequentialExec: lego's exec provider is Sequential, so a wildcard and
// its apex (one TXT name) are presented one after the other: the second
// Present waits for the first CleanUp.
func TestSequentialExec(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "calls")
	script := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1 $2 $3\" >> "+logf+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := NewSolver("exec", dnsbridge.SolverOptions{Options: dnsbridge.Options{Lookup: mapLookup(nil),
		Overrides: map[string]string{"EXEC_PATH": script, "EXEC_SEQUENCE_INTERVAL": "0"}}})
	if err != nil {
		t.Fatal(err)
	}
	if seq, _ := s.Sequential(); !seq {
		t.Fatal("exec is not sequential")
	}
	waiting := make(chan string, 1)
	s.locks = &seqLocks{waiting: func(name string) { waiting <- name }}

	apex := dnsbridge.ChallengeInfo{Domain: "example.test", Token: "t1", KeyAuth: "t1.thumb"}
	wild := dnsbridge.ChallengeInfo{Domain: "*.example.test", Token: "t2", KeyAuth: "t2.thumb"}
	ctxA, cancelA := context.WithCancel(t.Context())
	defer cancelA()
	if err := s.Present(ctxA, apex); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- s.Present(t.Context(), wild) }()
	<-waiting
	if err := s.CleanUp(ctxA, apex); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.CleanUp(t.Context(), wild); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(logf)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	want := []string{
		"present _acme-challenge.example.test. " + apex.TXTValue(),
		"cleanup _acme-challenge.example.test. " + apex.TXTValue(),
		"present _acme-challenge.example.test. " + wild.TXTValue(),
		"cleanup _acme-challenge.example.test. " + wild.TXTValue(),
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("exec calls:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// fakeDNS is a loopback DNS server for example.test: SOA and NS
// (localhost.) at the apex, and the TXT values in txt.
type fakeDNS struct {
	addr string
	port string
	mu   sync.Mutex
	txt  map[string][]string
}

func startFakeDNS(t *testing.T) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDNS{addr: pc.LocalAddr().String(), txt: map[string][]string{}}
	_, f.port, _ = net.SplitHostPort(f.addr)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(f.serve)}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return f
}

func (f *fakeDNS) set(name string, vals ...string) {
	f.mu.Lock()
	f.txt[strings.ToLower(name)] = vals
	f.mu.Unlock()
}

func (f *fakeDNS) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: 60}
	}
	soa := &dns.SOA{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns: "localhost.", Mbox: "hostmaster.example.test.", Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: 60}
	switch {
	case !strings.HasSuffix(name, "example.test."):
		m.Rcode = dns.RcodeRefused
	case q.Qtype == dns.TypeSOA && name == "example.test.":
		m.Answer = append(m.Answer, soa)
	case q.Qtype == dns.TypeNS && name == "example.test.":
		m.Answer = append(m.Answer, &dns.NS{Hdr: hdr(dns.TypeNS), Ns: "localhost."})
	case q.Qtype == dns.TypeTXT:
		f.mu.Lock()
		for _, v := range f.txt[name] {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: []string{v}})
		}
		f.mu.Unlock()
		m.Ns = append(m.Ns, soa)
	default:
		m.Ns = append(m.Ns, soa)
	}
	w.WriteMsg(m)
}

// TestWait runs lego's pre-check against a loopback name server: the
// record is found through the resolvers (requireAllRNS) and on the zone's
// authoritative server; a missing record fails after the provider's
// propagation timeout; disableChecks needs no DNS at all.
func TestWait(t *testing.T) {
	f := startFakeDNS(t)
	ci := dnsbridge.ChallengeInfo{Domain: "*.www.example.test", Token: "tok", KeyAuth: "tok.thumb"}
	f.set("_acme-challenge.www.example.test.", "other", ci.TXTValue())

	newSolver := func(t *testing.T, prop dnsbridge.Propagation, resolvers []string) *Solver {
		t.Helper()
		s, err := NewSolver("exec", dnsbridge.SolverOptions{
			Options: dnsbridge.Options{Lookup: mapLookup(nil), Overrides: map[string]string{
				"EXEC_PATH": "/bin/true", "EXEC_PROPAGATION_TIMEOUT": "1", "EXEC_POLLING_INTERVAL": "1"}},
			Resolvers: resolvers, Propagation: prop})
		if err != nil {
			t.Fatal(err)
		}
		s.dns.authPort = f.port
		return s
	}

	for _, tc := range []struct {
		desc    string
		prop    dnsbridge.Propagation
		res     []string
		ci      dnsbridge.ChallengeInfo
		wantErr string
	}{
		{desc: "recursive and authoritative", prop: dnsbridge.Propagation{RequireAllRNS: true}, res: []string{f.addr}, ci: ci},
		{desc: "authoritative only (Traefik's default)", res: []string{f.addr}, ci: ci},
		{desc: "recursive only", prop: dnsbridge.Propagation{RequireAllRNS: true, DisableANSChecks: true}, res: []string{f.addr}, ci: ci},
		{desc: "missing record times out", prop: dnsbridge.Propagation{DisableANSChecks: true, RequireAllRNS: true}, res: []string{f.addr},
			ci: dnsbridge.ChallengeInfo{Domain: "absent.example.test", Token: "x", KeyAuth: "x.y"}, wantErr: "propagation timeout of 1s exceeded"},
		{desc: "checks disabled", prop: dnsbridge.Propagation{DisableChecks: true}, res: []string{"127.0.0.1:1"},
			ci: dnsbridge.ChallengeInfo{Domain: "absent.example.test", Token: "x", KeyAuth: "x.y"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			err := newSolver(t, tc.prop, tc.res).Wait(t.Context(), tc.ci)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "exec:") {
				t.Fatalf("error %v, want one starting with exec: and containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestCloudflareGlobalKeyFromFile: the credential form only lego accepts
// (CF_API_EMAIL + CF_API_KEY), the key given as CF_API_KEY_FILE, reaches
// Cloudflare's API as lego sends it, and the key appears in no error.
func TestCloudflareGlobalKeyFromFile(t *testing.T) {
	f := startFakeDNS(t)
	const key = "global-key-0123456789abcdef"
	keyFile := filepath.Join(t.TempDir(), "cf_key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		headers []http.Header
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		headers = append(headers, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"success":false,"errors":[{"code":9103,"message":"Unknown X-Auth-Key ` + r.Header.Get("X-Auth-Key") + `"}],"messages":[],"result":null}`))
	}))
	defer api.Close()

	env := map[string]string{
		"CF_API_EMAIL":        "ops@example.test",
		"CF_API_KEY_FILE":     keyFile,
		"CLOUDFLARE_BASE_URL": api.URL,
	}
	sel, err := dnsbridge.Select("cloudflare", dnsbridge.SolverOptions{
		Options:   dnsbridge.Options{Lookup: mapLookup(env)},
		Resolvers: []string{f.addr},
	})
	if err != nil {
		t.Fatal(err)
	}
	if sel.Backend != dnsbridge.BackendLego {
		t.Fatalf("backend %s (%s), want lego", sel.Backend, sel.Reason)
	}
	err = sel.Solver.Present(t.Context(), dnsbridge.ChallengeInfo{Domain: "www.example.test", Token: "t", KeyAuth: "t.k"})
	if err == nil {
		t.Fatal("Present succeeded against a server that refuses everything")
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("error shows the API key: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "cloudflare:") {
		t.Errorf("error not prefixed with the code: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(headers) == 0 {
		t.Fatal("lego's provider never called the API")
	}
	if got := headers[0].Get("X-Auth-Key"); got != key {
		t.Errorf("X-Auth-Key = %q, want the file's content without the newline", got)
	}
	if got := headers[0].Get("X-Auth-Email"); got != "ops@example.test" {
		t.Errorf("X-Auth-Email = %q", got)
	}
}

// TestBridgeRegistered: importing the package links the bridge into
// dnsbridge with every provider, and lego-only codes select lego.
func TestBridgeRegistered(t *testing.T) {
	b, ok := dnsbridge.LinkedBridge()
	if !ok || b.Module != dnsbridge.BridgeModule || len(b.Specs) != len(providers) {
		t.Fatalf("LinkedBridge = %+v, %v", b.Module, ok)
	}
	sel, err := dnsbridge.Select("infomaniak", dnsbridge.SolverOptions{Options: dnsbridge.Options{
		Lookup: mapLookup(map[string]string{"INFOMANIAK_ACCESS_TOKEN": "tok-" + strconv.Itoa(42)})}})
	if err != nil {
		t.Fatal(err)
	}
	if _, isLego := sel.Solver.(*Solver); sel.Backend != dnsbridge.BackendLego || !isLego {
		t.Fatalf("selection %+v", sel)
	}
	if len(Codes()) < 190 {
		t.Fatalf("%d codes, want at least 190", len(Codes()))
	}
}
