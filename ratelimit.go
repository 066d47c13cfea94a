package traefikacme

import (
	"strings"
	"sync"
	"time"
	_ "unsafe" // for go:linkname

	"github.com/caddyserver/certmagic"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
)

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

//go:linkname certmagicRateLimiters github.com/caddyserver/certmagic.rateLimiters
var certmagicRateLimiters map[string]*certmagic.RingBufferRateLimiter

//go:linkname certmagicRateLimitersMu github.com/caddyserver/certmagic.rateLimitersMu
var certmagicRateLimitersMu sync.RWMutex

// adjusted records the limiter keys this module changed, so that a config
// reload without order_rate_limit restores certmagic's default limit.
var (
	adjustedMu sync.Mutex
	adjusted   = map[string]bool{}
)

// rateLimiterKey is certmagic's limiter key for an account: the directory
// URL as configured, a comma, and the email trimmed and lowercased (as
// certmagic's setEmail stores it).
func rateLimiterKey(ca, email string) string {
	return ca + "," + strings.TrimSpace(strings.ToLower(email))
}

// applyOrderRateLimit sets the order limiter of the account (ca, email) to
// limit, or back to certmagic's default when limit is nil and this module
// had changed it. It reports whether a limiter was installed or changed.
func applyOrderRateLimit(ca, email string, limit *config.RateLimit) bool {
	key := rateLimiterKey(ca, email)
	adjustedMu.Lock()
	defer adjustedMu.Unlock()
	if limit == nil && !adjusted[key] {
		return false
	}
	events, window := certmagic.RateLimitEvents, certmagic.RateLimitEventsWindow
	if limit != nil {
		events, window = limit.Events, time.Duration(limit.Window)
	}
	certmagicRateLimitersMu.Lock()
	rl, ok := certmagicRateLimiters[key]
	if !ok {
		rl = certmagic.NewRateLimiter(events, window)
		certmagicRateLimiters[key] = rl
	}
	certmagicRateLimitersMu.Unlock()
	if ok {
		// Both are safe for concurrent use; a limiter in use keeps the
		// events it already counted.
		rl.SetWindow(window)
		rl.SetMaxEvents(events)
	}
	adjusted[key] = limit != nil
	return true
}

// orderRateLimit returns the limiter certmagic would use for the account
// (ca, email): its events per window, and whether one exists yet.
func orderRateLimit(ca, email string) (events int, window time.Duration, ok bool) {
	certmagicRateLimitersMu.RLock()
	rl, ok := certmagicRateLimiters[rateLimiterKey(ca, email)]
	certmagicRateLimitersMu.RUnlock()
	if !ok {
		return 0, 0, false
	}
	return rl.MaxEvents(), rl.Window(), true
}
