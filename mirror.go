package traefikacme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// has reports whether resolver has an acme.json.
func (s *stores) has(resolver string) bool {
	return s != nil && s.byResolver[resolver] != nil
}

// noteIssued records which resolver obtained a certificate for names, so
// the cert_obtained event can be mirrored into that resolver's file, and
// notes in storage that the names are to be mirrored (see notePending), so
// that a failed or interrupted mirror is caught up.
func (s *stores) noteIssued(ctx context.Context, resolver string, names []string) {
	if !s.has(resolver) {
		return
	}
	s.notePending(ctx, resolver, names)
	for _, n := range names {
		s.issued.Store(strings.ToLower(n), resolver)
	}
}

// Handle implements caddyevents.Handler for cert_obtained: it writes the
// certificate (and the account, when it is new or changed) into the acme.json
// of the resolver that obtained it. Failures are logged; they never fail
// the issuance, since Caddy's storage already holds the certificate.
func (s *stores) Handle(ctx context.Context, e caddy.Event) error {
	name, _ := e.Data["identifier"].(string)
	issuerKey, _ := e.Data["issuer"].(string)
	certPath, _ := e.Data["certificate_path"].(string)
	keyPath, _ := e.Data["private_key_path"].(string)
	rs := s.resolverFor(name, issuerKey)
	if rs == nil {
		return nil
	}
	log := s.logger.With(zap.String("resolver", rs.name), zap.String("domain", name), zap.String("path", rs.path))
	if err := s.mirror(ctx, rs, name, certPath, keyPath); err != nil {
		log.Error("mirroring certificate into acme.json; it is written once the file can be written", zap.Error(err))
		s.kickCatchUp()
		return nil
	}
	s.clearPending(ctx, rs.name, name)
	log.Info("certificate mirrored into acme.json")
	return nil
}

func (s *stores) resolverFor(name, issuerKey string) *resolverStore {
	if v, ok := s.issued.LoadAndDelete(strings.ToLower(name)); ok {
		if rs := s.byResolver[v.(string)]; rs != nil && rs.issuerKey == issuerKey {
			return rs
		}
	}
	// Not obtained through this app's issuer in this run (for example a
	// renewal started before a reload): use the only resolver of that CA.
	var found *resolverStore
	for _, name := range sortedKeys(s.byResolver) {
		if rs := s.byResolver[name]; rs.issuerKey == issuerKey {
			if found != nil {
				return nil
			}
			found = rs
		}
	}
	return found
}

func (s *stores) mirror(ctx context.Context, rs *resolverStore, name, certPath, keyPath string) error {
	if certPath == "" || keyPath == "" {
		return errors.New("event has no storage paths")
	}
	certPEM, err := s.storage.Load(ctx, certPath)
	if err != nil {
		return fmt.Errorf("loading certificate: %w", err)
	}
	keyPEM, err := s.storage.Load(ctx, keyPath)
	if err != nil {
		return fmt.Errorf("loading key: %w", err)
	}
	account, err := s.accountFromStorage(ctx, rs)
	if err != nil {
		s.logger.Warn("account not mirrored into acme.json", zap.String("resolver", rs.name), zap.Error(err))
	}
	// Certificates obtained together are written together (one load and
	// one save of the file per batch).
	return s.writers[rs.path].UpdateContext(ctx, func(f *acmejson.File) error {
		entry := f.Ensure(rs.name)
		entry.Upsert([]string{name}, certPEM, keyPEM)
		// The resolver keeps its own account unless Caddy's must replace
		// it: Caddy keeps one account per CA and email, often another
		// resolver's (see migrate.ExportAccount); this certificate was
		// obtained with Caddy's.
		if account != nil && !sameAccount(entry.Account, account) {
			if write, _ := migrate.ExportAccount(entry.Account, account, rs.res.CAServer, true); write {
				entry.Account = account
			}
		}
		return nil
	})
}

// accountFromStorage builds Traefik's account entry from certmagic's
// account for the resolver's CA and email. It returns nil, nil when there is
// no registered account yet.
func (s *stores) accountFromStorage(ctx context.Context, rs *resolverStore) (*acmejson.Account, error) {
	regKey, keyKey := migrate.AccountStorageKeys(rs.issuerKey, rs.res.Email)
	regJSON, err := s.storage.Load(ctx, regKey)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading account: %w", err)
	}
	var acct acme.Account
	if err := json.Unmarshal(regJSON, &acct); err != nil {
		return nil, fmt.Errorf("decoding account: %w", err)
	}
	if acct.Status == "" || acct.Location == "" {
		return nil, nil
	}
	keyPEM, err := s.storage.Load(ctx, keyKey)
	if err != nil {
		return nil, fmt.Errorf("loading account key: %w", err)
	}
	key, err := certmagic.PEMDecodePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("decoding account key: %w", err)
	}
	der, err := acmejson.EncodeAccountKey(key)
	if err != nil {
		return nil, fmt.Errorf("account key cannot be written for Traefik: %w", err)
	}
	body, err := json.Marshal(acct) // Location is not part of the body
	if err != nil {
		return nil, fmt.Errorf("encoding account: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err == nil {
		delete(m, "location")
		if b, err := marshalOrdered(m); err == nil {
			body = b
		}
	}
	email := rs.res.Email
	return &acmejson.Account{
		Email:        email,
		Registration: &acmejson.Registration{Body: body, URI: acct.Location},
		PrivateKey:   der,
	}, nil
}

// marshalOrdered encodes m with lego's field order for the known account
// fields, then the others sorted.
func marshalOrdered(m map[string]json.RawMessage) ([]byte, error) {
	order := []string{"status", "contact", "termsOfServiceAgreed", "orders", "onlyReturnExisting", "externalAccountBinding"}
	seen := map[string]bool{}
	var b strings.Builder
	b.WriteByte('{')
	write := func(k string) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(m[k])
		seen[k] = true
	}
	for _, k := range order {
		if _, ok := m[k]; ok {
			write(k)
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		write(k)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

func sameAccount(a, b *acmejson.Account) bool {
	if a == nil || b == nil || a.Registration == nil || b.Registration == nil {
		return a == b
	}
	return a.Registration.URI == b.Registration.URI && string(a.PrivateKey) == string(b.PrivateKey) && a.Email == b.Email
}

// Interface guards
var _ caddyevents.Handler = (*stores)(nil)
