package traefikacme

import (
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
)

// adjusted records the limiter keys this module changed, so that a config
// reload without order_rate_limit restores certmagic's default limit.
var (
	adjustedMu sync.Mutex
	adjusted   = map[string]bool{}
)

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
	rl, ok := certmagicAccountRateLimiter(key, events, window)
	if ok {
		// Both are safe for concurrent use; a limiter in use keeps the
		// events it already counted.
		rl.SetWindow(window)
		rl.SetMaxEvents(events)
	}
	adjusted[key] = limit != nil
	return true
}
