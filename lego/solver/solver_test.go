package solver

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/providers/dns/exec"

	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
	"github.com/ac075510/caddy-traefik-acme/lego/internal/dnstest"
)

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
	prov, err := exec.NewDNSProviderConfig(&exec.Config{Program: script, PropagationTimeout: time.Minute, PollingInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New("exec", prov, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if seq, _ := s.Sequential(); !seq {
		t.Fatal("exec is not sequential")
	}
	waiting := make(chan string, 1)
	s.locks = &dnsbridge.TXTNameLocks{Waiting: func(name string) { waiting <- name }}

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

// TestWait runs lego's pre-check against a loopback name server: the
// record is found through the resolvers (requireAllRNS) and on the zone's
// authoritative server; a missing record fails after the provider's
// propagation timeout; disableChecks needs no DNS at all.
func TestWait(t *testing.T) {
	f := dnstest.Start(t)
	ci := dnsbridge.ChallengeInfo{Domain: "*.www.example.test", Token: "tok", KeyAuth: "tok.thumb"}
	f.Set("_acme-challenge.www.example.test.", "other", ci.TXTValue())

	newSolver := func(t *testing.T, prop dnsbridge.Propagation, resolvers []string) *Solver {
		t.Helper()
		prov, err := exec.NewDNSProviderConfig(&exec.Config{Program: "/bin/true", PropagationTimeout: time.Second, PollingInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s, err := New("exec", prov, Config{Resolvers: resolvers, Propagation: prop})
		if err != nil {
			t.Fatal(err)
		}
		s.dns.authPort = f.Port
		return s
	}

	for _, tc := range []struct {
		desc    string
		prop    dnsbridge.Propagation
		res     []string
		ci      dnsbridge.ChallengeInfo
		wantErr string
	}{
		{desc: "recursive and authoritative", prop: dnsbridge.Propagation{RequireAllRNS: true}, res: []string{f.Addr}, ci: ci},
		{desc: "authoritative only (Traefik's default)", res: []string{f.Addr}, ci: ci},
		{desc: "recursive only", prop: dnsbridge.Propagation{RequireAllRNS: true, DisableANSChecks: true}, res: []string{f.Addr}, ci: ci},
		{desc: "missing record times out", prop: dnsbridge.Propagation{DisableANSChecks: true, RequireAllRNS: true}, res: []string{f.Addr},
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
