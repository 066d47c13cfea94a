package dnsfakes

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// ACMEDNSAccount is one acme-dns account, with the JSON names of acme-dns'
// /register reply (and of lego's and goacmedns' storage file, which adds
// server_url).
type ACMEDNSAccount struct {
	Username   string   `json:"username"`
	Password   string   `json:"password"`
	FullDomain string   `json:"fulldomain"`
	SubDomain  string   `json:"subdomain"`
	AllowFrom  []string `json:"allowfrom"`
}

// ACMEDNS is a fake of the acme-dns HTTP API (github.com/joohoi/acme-dns):
//
//	POST /register   body optional {"allowfrom": [CIDR…]}; 201 with the new account
//	POST /update     headers X-Api-User, X-Api-Key; body {"subdomain", "txt"}; 200 {"txt"}
//	GET  /health     200
//
// As acme-dns, /update checks that X-Api-User is a UUID and the key is the
// account's 40-character password (else 401 {"error":"forbidden"}), that
// the subdomain is the account's (401 forbidden) and that txt is exactly 43
// base64url characters (400 {"error":"bad_txt"}); a malformed subdomain
// gets 400 {"error":"bad_subdomain"}; allowfrom is enforced against the
// client's address. Like acme-dns it keeps the two most recent TXT values
// of a subdomain (so a wildcard and its apex can be validated together)
// and never deletes one otherwise.
//
// The real acme-dns serves the values at the account's fulldomain and the
// user's zone has the CNAME _acme-challenge.<domain> → fulldomain. The
// test DNS server has no CNAMEs, so an account linked to a domain with Link
// (or created with AddAccount) publishes its values to the Sink at
// _acme-challenge.<domain>., the name the CA's validation resolves through
// the CNAME, as well as at its fulldomain.
type ACMEDNS struct {
	// URL is the API base, for ACME_DNS_API_BASE.
	URL string

	srv    *httptest.Server
	sink   Sink
	domain string // acme-dns' own zone, "auth.acme-dns.test"

	mu       sync.Mutex
	accounts map[string]*acmednsAccount // by username
	requests []string
}

type acmednsAccount struct {
	ACMEDNSAccount
	link   string   // _acme-challenge.<domain>. the CNAME points from, or ""
	values []string // the two most recent TXT values, oldest first
}

// NewACMEDNS starts the fake on 127.0.0.1. sink may be nil.
func NewACMEDNS(t testing.TB, sink Sink) *ACMEDNS {
	t.Helper()
	a := &ACMEDNS{sink: sink, domain: "auth.acme-dns.test", accounts: map[string]*acmednsAccount{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	a.URL = a.srv.URL
	return a
}

// AddAccount registers an account and links it to domain (as the user's
// CNAME would), returning it.
func (a *ACMEDNS) AddAccount(domain string) ACMEDNSAccount {
	a.mu.Lock()
	defer a.mu.Unlock()
	acct := a.registerLocked(nil)
	acct.link = challengeName(domain)
	return acct.ACMEDNSAccount
}

// Link makes the account with subdomain publish its values at
// _acme-challenge.<domain>. (the user's one-time CNAME). It reports whether
// the subdomain exists.
func (a *ACMEDNS) Link(subdomain, domain string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, acct := range a.accounts {
		if acct.SubDomain == subdomain {
			acct.link = challengeName(domain)
			return true
		}
	}
	return false
}

// TXT returns the values acme-dns serves for the account with subdomain,
// oldest first.
func (a *ACMEDNS) TXT(subdomain string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, acct := range a.accounts {
		if acct.SubDomain == subdomain {
			return slices.Clone(acct.values)
		}
	}
	return nil
}

// Requests returns "METHOD /path status" for every request, in order.
func (a *ACMEDNS) Requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.requests)
}

func challengeName(domain string) string {
	return CanonicalName("_acme-challenge." + strings.TrimPrefix(strings.TrimSuffix(domain, "."), "*."))
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	txtRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
)

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newPassword returns 40 characters like acme-dns' generatePassword.
func newPassword() string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	var b [40]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b[:])
}

func (a *ACMEDNS) registerLocked(allowFrom []string) *acmednsAccount {
	sub := newUUID()
	acct := &acmednsAccount{ACMEDNSAccount: ACMEDNSAccount{
		Username:   newUUID(),
		Password:   newPassword(),
		FullDomain: sub + "." + a.domain,
		SubDomain:  sub,
		AllowFrom:  allowFrom,
	}}
	if acct.AllowFrom == nil {
		acct.AllowFrom = []string{}
	}
	a.accounts[acct.Username] = acct
	return acct
}

func (a *ACMEDNS) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	status := a.handle(w, r)
	a.requests = append(a.requests, fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, status))
}

func acmednsJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

func acmednsError(w http.ResponseWriter, status int, msg string) int {
	return acmednsJSON(w, status, map[string]string{"error": msg})
}

func (a *ACMEDNS) handle(w http.ResponseWriter, r *http.Request) int {
	switch {
	case r.URL.Path == "/health" && r.Method == http.MethodGet:
		w.WriteHeader(http.StatusOK)
		return http.StatusOK
	case r.URL.Path == "/register" && r.Method == http.MethodPost:
		var body struct {
			AllowFrom []string `json:"allowfrom"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil && err.Error() != "EOF" {
			return acmednsError(w, http.StatusBadRequest, "malformed_json_payload")
		}
		for _, cidr := range body.AllowFrom {
			if _, _, err := net.ParseCIDR(cidr); err != nil {
				return acmednsError(w, http.StatusBadRequest, "invalid_allowfrom_cidr")
			}
		}
		acct := a.registerLocked(body.AllowFrom)
		return acmednsJSON(w, http.StatusCreated, acct.ACMEDNSAccount)
	case r.URL.Path == "/update" && r.Method == http.MethodPost:
		return a.update(w, r)
	default:
		http.NotFound(w, r)
		return http.StatusNotFound
	}
}

func (a *ACMEDNS) update(w http.ResponseWriter, r *http.Request) int {
	user, key := r.Header.Get("X-Api-User"), r.Header.Get("X-Api-Key")
	acct := a.accounts[user]
	if !uuidRE.MatchString(user) || len(key) != 40 || acct == nil ||
		subtle.ConstantTimeCompare([]byte(key), []byte(acct.Password)) != 1 {
		return acmednsError(w, http.StatusUnauthorized, "forbidden")
	}
	var body struct {
		SubDomain string `json:"subdomain"`
		TXT       string `json:"txt"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return acmednsError(w, http.StatusBadRequest, "malformed_json_payload")
	}
	if !uuidRE.MatchString(body.SubDomain) {
		return acmednsError(w, http.StatusBadRequest, "bad_subdomain")
	}
	if body.SubDomain != acct.SubDomain {
		return acmednsError(w, http.StatusUnauthorized, "forbidden")
	}
	if !allowed(acct.AllowFrom, r.RemoteAddr) {
		return acmednsError(w, http.StatusUnauthorized, "forbidden")
	}
	if !txtRE.MatchString(body.TXT) {
		return acmednsError(w, http.StatusBadRequest, "bad_txt")
	}
	// Keep the two most recent values.
	if len(acct.values) == 2 {
		old := acct.values[0]
		acct.values = acct.values[1:]
		a.publish(acct, old, false)
	}
	acct.values = append(acct.values, body.TXT)
	a.publish(acct, body.TXT, true)
	return acmednsJSON(w, http.StatusOK, map[string]string{"txt": body.TXT})
}

// publish adds or removes value at the account's names in the sink.
func (a *ACMEDNS) publish(acct *acmednsAccount, value string, add bool) {
	if a.sink == nil {
		return
	}
	for _, name := range []string{CanonicalName(acct.FullDomain), acct.link} {
		if name == "" {
			continue
		}
		if add {
			a.sink.AddTXT(name, value)
		} else {
			a.sink.DeleteTXT(name, value)
		}
	}
}

// allowed reports whether remote (host:port) is inside one of the CIDRs;
// an empty list allows everyone.
func allowed(cidrs []string, remote string) bool {
	if len(cidrs) == 0 {
		return true
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	for _, c := range cidrs {
		if _, n, err := net.ParseCIDR(c); err == nil && n.Contains(ip) {
			return true
		}
	}
	return false
}
