package dnsbridge

// One challenge at a time per TXT record name.
//
// lego marks some providers Sequential(): their challenges are solved one
// after the other, with the provider's sequence interval between two, because
// the provider (or the user's script behind it) keeps ONE TXT value per name
// and a second present would replace the first. Under Traefik that happens
// within one order (lego solves an order's authorizations in sequence).
// Caddy orders one name per certificate, so "*.example.com" and
// "example.com" are two concurrent orders that both need
// "_acme-challenge.example.com": the serialisation must span orders, and
// even config reloads (old and new provider instances), so the lock table
// here is process-wide and keyed by the absolute TXT record name.
//
// The lock is taken in AppendRecords (present) and released in
// DeleteRecords (cleanup) of the same value, so the second challenge for a
// name is presented only after the first one was validated and cleaned up.
// A lease bounds how long a lost cleanup can block a name.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/libdns/libdns"
	"go.uber.org/zap"
)

// SequenceLease is the longest time one challenge may hold its TXT record
// name. A challenge whose cleanup never comes (a crash between present and
// cleanup) stops blocking the name after it. It is far longer than any
// ACME order takes.
const SequenceLease = 10 * time.Minute

// Sequential wraps p so that, process-wide, only one challenge at a time is
// presented per absolute TXT record name, as lego does for providers whose
// Sequential() is true. interval is the time to leave between the cleanup of
// one challenge and the present of the next for the same name (lego's
// <NS>SEQUENCE_INTERVAL; zero for none).
//
// AppendRecords waits (honouring ctx) until the name is free, then presents;
// DeleteRecords cleans up, then frees the name. Two records with the same
// name in one AppendRecords call are presented together (they belong to one
// caller). The lego bridge wraps its sequential providers with this same
// function, so native and bridged providers share one lock table.
//
// Because acmez presents every challenge of an order before validating
// any, one order holding two identifiers with the same TXT name (a
// multi-name certificate with "*.example.com" and "example.com") would wait
// for itself: it fails when ctx ends, with an error saying so. Caddy
// orders one name per certificate, so this does not happen with Caddy's
// automation.
func Sequential(p Provider, code string, interval time.Duration, log *zap.Logger) Provider {
	if log == nil {
		log = zap.NewNop()
	}
	return &sequentialProvider{inner: p, code: code, interval: interval, log: log, locks: DefaultTXTNameLocks}
}

// LockTXTName takes the process-wide lock of one TXT record name (absolute,
// any case, with or without the trailing dot) for the challenge holder
// (its token or TXT value), waiting while another challenge holds it and
// then until interval has passed since the last one for the name was
// cleaned up. It is the one lock of this module: Sequential uses it, and
// so does the lego bridge for lego's Sequential() providers.
//
// held is false, without waiting, when ctx is the context that holds the
// name: acmez presents every challenge of one order with one context
// before cleaning any up, so one certificate holding both "*.example.com"
// and "example.com" would wait for itself forever; such an order presents
// both at once (logged as a warning), as a non-sequential provider would.
// When held, the caller MUST call UnlockTXTName with the same holder after
// the cleanup (or after a failed present); a lost unlock is undone after
// SequenceLease.
func LockTXTName(ctx context.Context, name, holder string, interval time.Duration, log *zap.Logger) (held bool, err error) {
	return DefaultTXTNameLocks.Lock(ctx, name, holder, interval, log)
}

// Lock is LockTXTName on the table t.
func (t *TXTNameLocks) Lock(ctx context.Context, name, holder string, interval time.Duration, log *zap.Logger) (held bool, err error) {
	if log == nil {
		log = zap.NewNop()
	}
	return t.acquire(ctx, canonicalLockName(name), []string{holder}, interval, log)
}

// Unlock is UnlockTXTName on the table t.
func (t *TXTNameLocks) Unlock(name, holder string, cleanedUp bool) {
	t.release(canonicalLockName(name), holder, cleanedUp)
}

// UnlockTXTName frees name if holder holds it (else it does nothing).
// cleanedUp says the challenge was presented and cleaned up, which starts
// the next challenge's sequence interval; false (a failed present) frees
// the name at once.
func UnlockTXTName(name, holder string, cleanedUp bool) {
	DefaultTXTNameLocks.Unlock(name, holder, cleanedUp)
}

func canonicalLockName(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	if !strings.HasSuffix(n, ".") {
		n += "."
	}
	return n
}

// IsSequential reports whether p was wrapped by Sequential, and its
// interval.
func IsSequential(p Provider) (time.Duration, bool) {
	if s, ok := p.(*sequentialProvider); ok {
		return s.interval, true
	}
	return 0, false
}

type sequentialProvider struct {
	inner    Provider
	code     string
	interval time.Duration
	log      *zap.Logger
	locks    *TXTNameLocks
}

// AppendRecords takes the name of every record, then presents them.
func (s *sequentialProvider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	held, err := s.acquireAll(ctx, zone, recs)
	if err != nil {
		return nil, err
	}
	done, err := s.inner.AppendRecords(ctx, zone, recs)
	if err != nil {
		// Free what was not presented (the inner provider reports the
		// records it did present; those are cleaned up by the caller).
		presented := map[string]bool{}
		for _, r := range done {
			rr := r.RR()
			presented[lockName(zone, rr.Name)+" "+rr.Data] = true
		}
		for _, h := range held {
			if !presented[h.name+" "+h.value] {
				s.locks.release(h.name, h.value, false)
			}
		}
	}
	return done, err
}

// DeleteRecords cleans up, then frees the names of the records.
func (s *sequentialProvider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	done, err := s.inner.DeleteRecords(ctx, zone, recs)
	// Free the names even on failure: the cleanup was attempted, and a
	// failed cleanup must not block every later challenge for the name.
	for _, r := range recs {
		rr := r.RR()
		s.locks.release(lockName(zone, rr.Name), rr.Data, true)
	}
	return done, err
}

type heldName struct{ name, value string }

// acquireAll takes the lock of every distinct name in recs, in sorted
// order (no deadlock between two callers with overlapping sets).
func (s *sequentialProvider) acquireAll(ctx context.Context, zone string, recs []libdns.Record) ([]heldName, error) {
	values := map[string][]string{}
	var names []string
	var held []heldName
	for _, r := range recs {
		rr := r.RR()
		n := lockName(zone, rr.Name)
		if _, ok := values[n]; !ok {
			names = append(names, n)
		}
		values[n] = append(values[n], rr.Data)
		held = append(held, heldName{n, rr.Data})
	}
	sort.Strings(names)
	for i, n := range names {
		if _, err := s.locks.acquire(ctx, n, values[n], s.interval, s.log.With(zap.String("provider", s.code))); err != nil {
			for _, prev := range names[:i] {
				for _, v := range values[prev] {
					s.locks.release(prev, v, false)
				}
			}
			return nil, fmt.Errorf("%s: waiting for the other challenge on %s to finish (this provider presents one "+
				"challenge at a time per TXT name, like lego's sequential providers): %w", s.code, strings.TrimSuffix(n, "."), err)
		}
	}
	return held, nil
}

// lockName is the absolute, lower-case record name with a trailing dot.
func lockName(zone, name string) string {
	n := strings.ToLower(libdns.AbsoluteName(name, zone))
	if !strings.HasSuffix(n, ".") {
		n += "."
	}
	return n
}

// TXTNameLocks is a table of TXT names in use, one challenge each. The
// process uses one, DefaultTXTNameLocks (LockTXTName, Sequential); tests
// make their own. The zero value is ready to use.
type TXTNameLocks struct {
	// Waiting, if set, is called when Lock is about to wait for name
	// (tests wait on it instead of sleeping).
	Waiting func(name string)

	// lease overrides SequenceLease when non-zero (tests).
	lease time.Duration

	mu sync.Mutex
	m  map[string]*nameLock
}

// DefaultTXTNameLocks is the process-wide table.
var DefaultTXTNameLocks = &TXTNameLocks{}

// nameLock is one TXT name. sem has capacity one: holding its slot is
// holding the name.
type nameLock struct {
	sem chan struct{}
	// Guarded by TXTNameLocks.mu:
	refs     int             // callers waiting for or holding the name
	holder   map[string]bool // values presented by the current holder
	released time.Time       // when the name was last freed
	interval time.Duration   // sequence interval asked by the last holder that cleaned up
	lease    *time.Timer
	gen      uint64 // counts acquisitions, so a stale lease frees nothing
	// holderInterval is the interval asked by the current holder, and
	// cleanedUp whether any of its values was cleaned up (not just failed
	// to present); the lease counts as a cleanup.
	holderInterval time.Duration
	cleanedUp      bool
	// order is the holder's order context (see orderContext).
	order context.Context
}

func (t *TXTNameLocks) get(name string) *nameLock {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*nameLock{}
	}
	l := t.m[name]
	if l == nil {
		l = &nameLock{sem: make(chan struct{}, 1)}
		t.m[name] = l
	}
	l.refs++
	return l
}

// unrefLocked drops a reference and forgets idle names freed longer ago
// than any sequence interval can ask to wait. Caller holds t.mu.
func (t *TXTNameLocks) unrefLocked(name string, l *nameLock) {
	l.refs--
	for n, o := range t.m {
		if o.refs == 0 && time.Since(o.released) >= max(SequenceLease, o.interval) {
			delete(t.m, n)
		}
	}
}

// acquire waits until name is free and the caller's interval has passed
// since a challenge for the name was last cleaned up, then makes values its
// holder. The interval is the acquirer's, as in lego, where a provider
// sleeps its own interval between its challenges.
func (t *TXTNameLocks) acquire(ctx context.Context, name string, values []string, interval time.Duration, log *zap.Logger) (bool, error) {
	order := orderContext(ctx)
	l := t.get(name)
	t.mu.Lock()
	same := l.holder != nil && sameContext(l.order, order)
	if same {
		l.refs--
	}
	t.mu.Unlock()
	if same {
		log.Warn("one certificate holds two names with the same TXT record name; presenting both at once",
			zap.String("record", name))
		return false, nil
	}
	select {
	case l.sem <- struct{}{}:
	default:
		if t.Waiting != nil {
			t.Waiting(name)
		}
		log.Info("waiting for the other challenge on the same TXT name", zap.String("record", name))
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			t.mu.Lock()
			t.unrefLocked(name, l)
			t.mu.Unlock()
			return false, ctx.Err()
		}
	}
	t.mu.Lock()
	wait := time.Until(l.released.Add(interval))
	t.mu.Unlock()
	if wait > 0 {
		log.Info("waiting for the sequence interval", zap.String("record", name), zap.Duration("wait", wait))
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			t.mu.Lock()
			<-l.sem
			t.unrefLocked(name, l)
			t.mu.Unlock()
			return false, ctx.Err()
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	l.holder = map[string]bool{}
	for _, v := range values {
		l.holder[v] = true
	}
	l.holderInterval = interval
	l.order = order
	l.gen++
	gen := l.gen
	lease := SequenceLease
	if t.lease > 0 {
		lease = t.lease
	}
	l.lease = time.AfterFunc(lease, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if l.gen != gen || l.holder == nil {
			return
		}
		log.Warn("challenge held its TXT name past the lease without cleanup; freeing the name",
			zap.String("record", name), zap.Duration("lease", lease))
		l.cleanedUp = true
		t.freeLocked(name, l)
	})
	return true, nil
}

// sameContext compares two contexts by identity; contexts of
// non-comparable dynamic types are never the same.
func sameContext(a, b context.Context) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a != nil && a == b
}

// release removes value from the holder of name; the name is freed when
// the holder has no value left. Unknown names and values are ignored (a
// cleanup of something presented without the lock, or after the lease).
// cleanedUp says the value was presented and is now cleaned up, which
// starts the sequence interval; a failed present does not (lego waits only
// after a solved challenge).
func (t *TXTNameLocks) release(name, value string, cleanedUp bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.m[name]
	if l == nil || !l.holder[value] {
		return
	}
	delete(l.holder, value)
	if cleanedUp {
		l.cleanedUp = true
	}
	if len(l.holder) == 0 {
		t.freeLocked(name, l)
	}
}

// freeLocked frees the name. Caller holds t.mu.
func (t *TXTNameLocks) freeLocked(name string, l *nameLock) {
	if l.lease != nil {
		l.lease.Stop()
		l.lease = nil
	}
	l.holder = nil
	l.order = nil
	if l.cleanedUp {
		l.released = time.Now()
		l.interval = l.holderInterval
	}
	l.cleanedUp = false
	<-l.sem
	t.unrefLocked(name, l)
}
