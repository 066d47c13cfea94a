package traefikacme

// This file holds every place where the plugin reaches into unexported
// parts of certmagic or caddytls: reflection with unsafe, and go:linkname.
// They are the project's biggest upgrade risk, so they live in one room,
// each with the upstream symbol it depends on and what breaks when an
// upgrade moves it. internals_test.go holds one guard test per reach; a
// Caddy or certmagic upgrade must keep that file passing.
//
// Reaches, as of caddy v2.11.9 and certmagic v0.25.6:
//
//  1. caddytls.ACMEIssuer.issuer (unexported field, *certmagic.ACMEIssuer),
//     by reflection: certmagicIssuerOf. Breaks: the resolver's client
//     options (tuneACMEClient), RSA-4096 account keys (useRSAAccountKeys),
//     order_rate_limit and the ACME challenge for DNS providers
//     (attachChallengeInfo: EXEC_MODE=RAW, HTTPREQ_MODE=RAW) are not
//     applied; Issuer.SetConfig logs a warning and keeps certmagic's
//     defaults.
//     Guard: TestCertmagicInternalsReachable.
//  2. certmagic.ACMEIssuer.httpClient (unexported field, *http.Client), by
//     reflection: certmagicHTTPClientField. Breaks: clientTimeout,
//     clientResponseHeaderTimeout, caSystemCertPool and caServerName are
//     ignored. Guard: TestCertmagicInternalsReachable.
//  3. certmagic.rateLimiters and certmagic.rateLimitersMu (unexported
//     package variables), by go:linkname, and the key format of that map
//     (certmagic's "<ca>,<email>"): certmagicAccountRateLimiter,
//     rateLimiterKey (and orderRateLimit in the guard test). Breaks: the
//     build fails if the symbols go; if the key format changes,
//     order_rate_limit silently stops applying. Guard: TestOrderRateLimitReachesCertmagic.
//  4. certmagic's storage key layout (unexported helpers of its ACME
//     issuer: account, lock and site keys) is re-derived, Caddy-free, in
//     migrate/keys.go (migrate.IssuerKeyFromCA, migrate.AccountStorageKeys).
//     Breaks: import and mirror read and write accounts where certmagic
//     does not look. Guards: migrate's TestIssuerKeyFromCAMatchesCertmagic
//     and TestAccountStorageKeys.
//  5. caddytls.DNSChallengeConfig.solver (unexported field, acmez.Solver),
//     by reflection: setDNSChallengeSolver. caddytls builds a
//     certmagic.DNS01Solver around a libdns provider unless this field is
//     already set, and copies it into every certmagic issuer it makes; the
//     lego bridge's solvers (which need the token and key authorization,
//     not just the TXT value) go in here. Breaks: resolvers whose DNS
//     provider is served by the lego bridge fail at provisioning with a
//     clear error. Guard: TestDNSChallengeSolverReachable.

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"
	"unsafe" // also for go:linkname

	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
)

// setDNSChallengeSolver sets the unexported solver of a caddytls DNS
// challenge configuration, so that caddytls uses solver instead of
// building one from a libdns provider (ProviderRaw must be empty).
// TestDNSChallengeSolverReachable fails if an upgrade moves the field.
func setDNSChallengeSolver(cfg *caddytls.DNSChallengeConfig, solver acmez.Solver) error {
	f := reflect.ValueOf(cfg).Elem().FieldByName("solver")
	if !f.IsValid() || f.Type() != reflect.TypeOf((*acmez.Solver)(nil)).Elem() {
		return errors.New("caddytls.DNSChallengeConfig has no solver field of type acmez.Solver; " +
			"this Caddy version cannot use the lego bridge")
	}
	*(*acmez.Solver)(unsafe.Pointer(f.UnsafeAddr())) = solver
	return nil
}

// certmagicIssuerOf returns the certmagic.ACMEIssuer that iss built in
// SetConfig. caddytls does not expose it, so it is reached by reflection;
// TestCertmagicInternalsReachable fails if an upgrade moves it.
func certmagicIssuerOf(iss *caddytls.ACMEIssuer) (*certmagic.ACMEIssuer, error) {
	f := reflect.ValueOf(iss).Elem().FieldByName("issuer")
	if !f.IsValid() || f.Type() != reflect.TypeOf((*certmagic.ACMEIssuer)(nil)) {
		return nil, errors.New("caddytls.ACMEIssuer has no issuer field of type *certmagic.ACMEIssuer")
	}
	if f.IsNil() {
		return nil, errors.New("caddytls.ACMEIssuer is not configured yet")
	}
	return (*certmagic.ACMEIssuer)(unsafe.Pointer(f.Pointer())), nil
}

// certmagicHTTPClientField returns the address of the httpClient field of
// the certmagic.ACMEIssuer held by iss (set by iss.SetConfig).
func certmagicHTTPClientField(iss *caddytls.ACMEIssuer) (**http.Client, error) {
	cm, err := certmagicIssuerOf(iss)
	if err != nil {
		return nil, err
	}
	hc := reflect.ValueOf(cm).Elem().FieldByName("httpClient")
	if !hc.IsValid() || hc.Type() != reflect.TypeOf((*http.Client)(nil)) {
		return nil, errors.New("certmagic.ACMEIssuer has no httpClient field of type *http.Client")
	}
	return (**http.Client)(unsafe.Pointer(hc.UnsafeAddr())), nil
}

// certmagic throttles new orders with one sliding-window limiter per ACME
// account, keyed by CA directory URL and account email, created on first
// use from the package defaults certmagic.RateLimitEvents and
// certmagic.RateLimitEventsWindow (10 per 10 s). Changing those defaults
// would change the limit of every account in the process, Let's Encrypt's
// included, and race with certmagic's readers; so a resolver's
// order_rate_limit installs or adjusts the limiter of its own account in
// certmagic's map, under certmagic's lock. The map is unexported: it is
// reached with go:linkname (guarded by TestOrderRateLimitReachesCertmagic,
// which fails if an upgrade renames it; the build would fail too).
// ratelimit.go holds the option's logic; this file only the reach.

//go:linkname certmagicRateLimiters github.com/caddyserver/certmagic.rateLimiters
var certmagicRateLimiters map[string]*certmagic.RingBufferRateLimiter

//go:linkname certmagicRateLimitersMu github.com/caddyserver/certmagic.rateLimitersMu
var certmagicRateLimitersMu sync.RWMutex

// rateLimiterKey is certmagic's limiter key for an account: the directory
// URL as configured, a comma, and the email trimmed and lowercased (as
// certmagic's setEmail stores it).
func rateLimiterKey(ca, email string) string {
	return ca + "," + strings.TrimSpace(strings.ToLower(email))
}

// certmagicAccountRateLimiter returns certmagic's order limiter under key,
// installing a new one with events per window when there is none yet,
// under certmagic's lock. existed reports whether one was there.
func certmagicAccountRateLimiter(key string, events int, window time.Duration) (rl *certmagic.RingBufferRateLimiter, existed bool) {
	certmagicRateLimitersMu.Lock()
	defer certmagicRateLimitersMu.Unlock()
	rl, existed = certmagicRateLimiters[key]
	if !existed {
		rl = certmagic.NewRateLimiter(events, window)
		certmagicRateLimiters[key] = rl
	}
	return rl, existed
}
