package dnsbridge

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"github.com/libdns/libdns"
)

// ChallengeInfo is the ACME data that lego hands to a DNS provider
// (Present(domain, token, keyAuth)) but that libdns does not: a libdns
// provider only sees the zone and the TXT record, whose value is
// base64url(SHA-256(KeyAuth)).
//
// lego's RAW modes (EXEC_MODE=RAW, HTTPREQ_MODE=RAW) pass these three values
// to the user's program or endpoint. The bridge can only do the same when
// the caller attaches them to the context of AppendRecords with
// WithChallengeInfo (for example from a wrapper around the ACME solver's
// Present). Without it, RAW mode fails with a clear error instead of
// guessing. DeleteRecords does not need the context: certmagic cleans up
// with a fresh context, so the provider remembers what it presented.
type ChallengeInfo struct {
	// Domain is the authorization's identifier as lego passes it
	// (authz.Identifier.Value): "example.com", also for the wildcard
	// "*.example.com", whose authorization names the base domain.
	Domain string
	// Token is the ACME challenge token.
	Token string
	// KeyAuth is the key authorization (token + "." + account key
	// thumbprint).
	KeyAuth string
}

// TXTValue returns the DNS-01 TXT value for the key authorization:
// base64url(SHA-256(KeyAuth)) without padding.
func (c ChallengeInfo) TXTValue() string {
	sum := sha256.Sum256([]byte(c.KeyAuth))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

type challengeInfoKey struct{}

// challengeInfoValue is what WithChallengeInfo stores: the info and the
// context it was attached to (the ACME order's, for LockTXTName).
type challengeInfoValue struct {
	ci     ChallengeInfo
	parent context.Context
}

// WithChallengeInfo returns a context carrying ci, for RAW modes.
func WithChallengeInfo(ctx context.Context, ci ChallengeInfo) context.Context {
	return context.WithValue(ctx, challengeInfoKey{}, challengeInfoValue{ci: ci, parent: ctx})
}

// ChallengeInfoFromContext returns the ChallengeInfo attached with
// WithChallengeInfo, if any.
func ChallengeInfoFromContext(ctx context.Context) (ChallengeInfo, bool) {
	v, ok := ctx.Value(challengeInfoKey{}).(challengeInfoValue)
	return v.ci, ok
}

// orderContext returns the context WithChallengeInfo was given, else ctx:
// acmez presents every challenge of one order with one context, which
// identifies the order.
func orderContext(ctx context.Context) context.Context {
	if v, ok := ctx.Value(challengeInfoKey{}).(challengeInfoValue); ok && v.parent != nil {
		return v.parent
	}
	return ctx
}

// txtRecord is one TXT record as lego's default modes see it.
type txtRecord struct {
	// fqdn is absolute with a trailing dot, like lego's EffectiveFQDN.
	fqdn  string
	value string
}

// txtRecords converts libdns records to absolute TXT records. Only TXT
// records are supported, as with lego's providers.
func txtRecords(code, zone string, recs []libdns.Record) ([]txtRecord, error) {
	out := make([]txtRecord, 0, len(recs))
	for _, rec := range recs {
		rr := rec.RR()
		if rr.Type != "TXT" {
			return nil, fmt.Errorf("%s: only TXT records are supported, got %s for %q", code, rr.Type, rr.Name)
		}
		fqdn := libdns.AbsoluteName(rr.Name, zone)
		if !strings.HasSuffix(fqdn, ".") {
			fqdn += "."
		}
		out = append(out, txtRecord{fqdn: fqdn, value: rr.Data})
	}
	return out, nil
}

// rawMemory remembers the ChallengeInfo used to present each record, so
// that RAW cleanup works without a context value.
type rawMemory struct {
	// modeVar is the provider's MODE variable (EXEC_MODE, HTTPREQ_MODE),
	// named in errors.
	modeVar string

	mu sync.Mutex
	m  map[txtRecord]ChallengeInfo
}

// forPresent returns the ChallengeInfo for presenting r and remembers it.
func (rm *rawMemory) forPresent(ctx context.Context, code string, r txtRecord) (ChallengeInfo, error) {
	ci, ok := ChallengeInfoFromContext(ctx)
	if !ok {
		return ChallengeInfo{}, fmt.Errorf("%s: %s=RAW needs the ACME domain, token and key authorization, "+
			"which only the traefik issuer (tls { issuer traefik <resolver> }) hands to the DNS provider; "+
			"this caller did not (a Go caller attaches them with dnsbridge.WithChallengeInfo); "+
			"unset %s to use the default fqdn/value mode", code, rm.modeVar, rm.modeVar)
	}
	if err := checkInfo(code, ci, r); err != nil {
		return ChallengeInfo{}, err
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.m == nil {
		rm.m = map[txtRecord]ChallengeInfo{}
	}
	rm.m[r] = ci
	return ci, nil
}

// forCleanup returns the ChallengeInfo for cleaning up r: from the context
// if present, else the one remembered at present time.
func (rm *rawMemory) forCleanup(ctx context.Context, code string, r txtRecord) (ChallengeInfo, error) {
	if ci, ok := ChallengeInfoFromContext(ctx); ok {
		if err := checkInfo(code, ci, r); err != nil {
			return ChallengeInfo{}, err
		}
		rm.forget(r)
		return ci, nil
	}
	rm.mu.Lock()
	ci, ok := rm.m[r]
	rm.mu.Unlock()
	if !ok {
		return ChallengeInfo{}, fmt.Errorf("%s: RAW mode cleanup of %s: this provider did not present the record "+
			"and no dnsbridge.WithChallengeInfo was attached, so domain, token and key authorization are unknown", code, r.fqdn)
	}
	rm.forget(r)
	return ci, nil
}

func (rm *rawMemory) forget(r txtRecord) {
	rm.mu.Lock()
	delete(rm.m, r)
	rm.mu.Unlock()
}

// checkInfo makes sure the attached ChallengeInfo belongs to the record.
func checkInfo(code string, ci ChallengeInfo, r txtRecord) error {
	if ci.Domain == "" || ci.Token == "" || ci.KeyAuth == "" {
		return fmt.Errorf("%s: RAW mode: the attached challenge info is incomplete (domain, token and key authorization are all required)", code)
	}
	if ci.TXTValue() != r.value {
		return fmt.Errorf("%s: RAW mode: the attached challenge info for %q does not match the TXT record %s", code, ci.Domain, r.fqdn)
	}
	return nil
}
