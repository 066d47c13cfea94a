package dnsbridge

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libdns/libdns"
	"go.uber.org/zap"
)

// recordingProvider records every present and cleanup, and fails presents
// of values listed in fail.
type recordingProvider struct {
	mu     sync.Mutex
	events []string
	fail   map[string]bool
}

func (p *recordingProvider) AppendRecords(_ context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range recs {
		if p.fail[r.RR().Data] {
			return nil, errors.New("present failed")
		}
		p.events = append(p.events, "present "+r.RR().Data)
	}
	return recs, nil
}

func (p *recordingProvider) DeleteRecords(_ context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range recs {
		p.events = append(p.events, "cleanup "+r.RR().Data)
	}
	return recs, nil
}

func (p *recordingProvider) Events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// newTestSequential wraps inner with its own lock table.
func newTestSequential(inner Provider, interval time.Duration, locks *TXTNameLocks) Provider {
	return &sequentialProvider{inner: inner, code: "exec", interval: interval, log: zap.NewNop(), locks: locks}
}

// refs returns how many callers wait for or hold name.
func (t *TXTNameLocks) refsOf(name string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l := t.m[name]; l != nil {
		return l.refs
	}
	return 0
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestSequentialOneChallengePerName(t *testing.T) {
	const name = "_acme-challenge.example.com."
	locks := &TXTNameLocks{}
	inner := &recordingProvider{}
	apex := newTestSequential(inner, 0, locks)
	// A second instance (another resolver, or the config after a reload)
	// shares the lock table.
	wild := newTestSequential(inner, 0, locks)

	// Two orders, two contexts (one context is one order, see
	// TestSequentialSameOrder).
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	if _, err := apex.AppendRecords(ctx, "example.com.", txtRec("_acme-challenge", "apex")); err != nil {
		t.Fatal(err)
	}
	// A record with another name is not held up.
	if _, err := wild.AppendRecords(ctx2, "example.com.", txtRec("_acme-challenge.www", "www")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := wild.AppendRecords(ctx2, "example.com.", txtRec("_acme-challenge", "wild"))
		done <- err
	}()
	waitUntil(t, "the second present to wait for the name", func() bool { return locks.refsOf(name) == 2 })
	if got := inner.Events(); slices.Contains(got, "present wild") {
		t.Fatalf("second challenge presented while the first holds the name: %v", got)
	}
	if _, err := apex.DeleteRecords(ctx, "example.com.", txtRec("_acme-challenge", "apex")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := wild.DeleteRecords(ctx, "example.com", txtRec("_acme-challenge", "wild")); err != nil {
		t.Fatal(err)
	}
	want := []string{"present apex", "present www", "cleanup apex", "present wild", "cleanup wild"}
	if got := inner.Events(); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestSequentialInterval(t *testing.T) {
	t.Run("the next challenge waits the interval after a cleanup", func(t *testing.T) {
		locks := &TXTNameLocks{}
		inner := &recordingProvider{}
		p := newTestSequential(inner, time.Hour, locks)
		if _, err := p.AppendRecords(t.Context(), "example.com.", txtRec("_acme-challenge", "a")); err != nil {
			t.Fatal(err)
		}
		if _, err := p.DeleteRecords(t.Context(), "example.com.", txtRec("_acme-challenge", "a")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := p.AppendRecords(ctx, "example.com.", txtRec("_acme-challenge", "b"))
			done <- err
		}()
		waitUntil(t, "the second present to wait", func() bool { return locks.refsOf("_acme-challenge.example.com.") == 1 })
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "exec: waiting for the other challenge on _acme-challenge.example.com") {
			t.Fatalf("error = %v", err)
		}
		if slices.Contains(inner.Events(), "present b") {
			t.Errorf("presented within the interval: %v", inner.Events())
		}
		// A cancelled wait leaves the name free for the next caller.
		if got := locks.refsOf("_acme-challenge.example.com."); got != 0 {
			t.Errorf("refs after cancel = %d", got)
		}
	})

	t.Run("a failed present frees the name without an interval", func(t *testing.T) {
		locks := &TXTNameLocks{}
		inner := &recordingProvider{fail: map[string]bool{"bad": true}}
		p := newTestSequential(inner, time.Hour, locks)
		if _, err := p.AppendRecords(t.Context(), "example.com.", txtRec("_acme-challenge", "bad")); err == nil {
			t.Fatal("present of bad succeeded")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if _, err := p.AppendRecords(ctx, "example.com.", txtRec("_acme-challenge", "good")); err != nil {
			t.Fatalf("present after a failed present: %v", err)
		}
	})
}

func TestSequentialLease(t *testing.T) {
	locks := &TXTNameLocks{lease: 10 * time.Millisecond}
	inner := &recordingProvider{}
	p := newTestSequential(inner, 0, locks)
	if _, err := p.AppendRecords(t.Context(), "example.com.", txtRec("_acme-challenge", "lost")); err != nil {
		t.Fatal(err)
	}
	// No cleanup ever comes: the lease frees the name.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := p.AppendRecords(ctx, "example.com.", txtRec("_acme-challenge", "next")); err != nil {
		t.Fatalf("present after the lease: %v", err)
	}
	// The late cleanup of the first value does not free the new holder.
	if _, err := p.DeleteRecords(t.Context(), "example.com.", txtRec("_acme-challenge", "lost")); err != nil {
		t.Fatal(err)
	}
	if got := locks.refsOf("_acme-challenge.example.com."); got != 1 {
		t.Errorf("refs = %d, want the new holder only", got)
	}
	if _, err := p.DeleteRecords(t.Context(), "example.com.", txtRec("_acme-challenge", "next")); err != nil {
		t.Fatal(err)
	}
}

func TestSequentialSpecs(t *testing.T) {
	for _, code := range []string{"exec", "httpreq"} {
		spec, _ := Lookup(code)
		if !spec.Sequential {
			t.Errorf("%s: Spec.Sequential = false", code)
		}
	}
	prov, _, err := New("exec", Options{Lookup: mapLookup(map[string]string{"EXEC_PATH": "/bin/true"})})
	if err != nil {
		t.Fatal(err)
	}
	if iv, ok := IsSequential(prov); !ok || iv != time.Minute {
		t.Errorf("exec: IsSequential = %v, %v; want lego's default 60 s", iv, ok)
	}
	prov, _, err = New("exec", Options{Lookup: mapLookup(map[string]string{"EXEC_PATH": "/bin/true", "EXEC_SEQUENCE_INTERVAL": "5"})})
	if err != nil {
		t.Fatal(err)
	}
	if iv, _ := IsSequential(prov); iv != 5*time.Second {
		t.Errorf("EXEC_SEQUENCE_INTERVAL=5: interval = %v", iv)
	}
	_, _, err = New("exec", Options{Lookup: mapLookup(map[string]string{"EXEC_PATH": "/bin/true", "EXEC_SEQUENCE_INTERVAL": "1m"})})
	if err == nil || !strings.Contains(err.Error(), "EXEC_SEQUENCE_INTERVAL") {
		t.Errorf("EXEC_SEQUENCE_INTERVAL=1m: error = %v", err)
	}
}

// TestSequentialSameOrder: acmez presents every challenge of one order
// with one context before cleaning any up; the second challenge for the
// same name in that order must not wait for the first (it never would).
func TestSequentialSameOrder(t *testing.T) {
	locks := &TXTNameLocks{}
	inner := &recordingProvider{}
	p := newTestSequential(inner, time.Hour, locks)
	order, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	apex := ChallengeInfo{Domain: "example.com", Token: "t1", KeyAuth: "t1.k"}
	wild := ChallengeInfo{Domain: "example.com", Token: "t2", KeyAuth: "t2.k"}
	if _, err := p.AppendRecords(WithChallengeInfo(order, apex), "example.com.", txtRec("_acme-challenge", apex.TXTValue())); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendRecords(WithChallengeInfo(order, wild), "example.com.", txtRec("_acme-challenge", wild.TXTValue())); err != nil {
		t.Fatalf("second challenge of the same order: %v", err)
	}
	for _, ci := range []ChallengeInfo{apex, wild} {
		if _, err := p.DeleteRecords(t.Context(), "example.com.", txtRec("_acme-challenge", ci.TXTValue())); err != nil {
			t.Fatal(err)
		}
	}
	if got := locks.refsOf("_acme-challenge.example.com."); got != 0 {
		t.Errorf("refs = %d after both cleanups", got)
	}
}

// TestLockTXTName is the exported form the lego bridge uses.
func TestLockTXTName(t *testing.T) {
	const name = "_acme-challenge.LockTest.example"
	held, err := LockTXTName(t.Context(), name, "tok-1", 0, nil)
	if err != nil || !held {
		t.Fatalf("LockTXTName = %v, %v", held, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := LockTXTName(ctx, name+".", "tok-2", 0, nil)
		done <- err
	}()
	waitUntil(t, "the second lock to wait", func() bool { return DefaultTXTNameLocks.refsOf("_acme-challenge.locktest.example.") == 2 })
	UnlockTXTName(name, "tok-other", true) // not the holder: nothing happens
	UnlockTXTName(name, "tok-1", true)
	if err := <-done; err != nil {
		t.Fatalf("second LockTXTName: %v", err)
	}
	cancel()
	UnlockTXTName(name, "tok-2", true)
	if got := DefaultTXTNameLocks.refsOf("_acme-challenge.locktest.example."); got != 0 {
		t.Errorf("refs = %d", got)
	}
}
