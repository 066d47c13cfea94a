package traefikacme

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// The acme.json catch-up. A certificate obtained through a resolver with an
// acme.json is noted in Caddy's storage as "to be mirrored" when the CA
// issues it (before certmagic stores it), and the note is removed once the
// certificate is in the file. When writing the file fails (read-only, full,
// locked out), the note stays, and the file catches up with what storage
// holds: in the background with backoff while Caddy runs, and at the next
// start. Nothing runs at Provision, so `caddy validate` writes nothing.

// mirrorNotePrefix is the storage prefix of the notes:
// traefik_acme/mirror/<resolver>/<name>, holding the name.
const mirrorNotePrefix = "traefik_acme/mirror"

// Catch-up retry backoff: the first retry after catchUpBackoffMin, doubling
// up to catchUpBackoffMax.
var (
	catchUpBackoffMin = time.Second
	catchUpBackoffMax = 5 * time.Minute
)

func mirrorNoteDir(resolver string) string {
	return path.Join(mirrorNotePrefix, certmagic.StorageKeys.Safe(resolver))
}

func mirrorNoteKey(resolver, name string) string {
	return path.Join(mirrorNoteDir(resolver), certmagic.StorageKeys.Safe(name))
}

// notePending records that names, just issued through resolver, are to be
// mirrored into its acme.json. A failure is logged: the certificate is
// still mirrored by the cert_obtained event, only not caught up later.
func (s *stores) notePending(ctx context.Context, resolver string, names []string) {
	for _, n := range names {
		if err := s.storage.Store(ctx, mirrorNoteKey(resolver, n), []byte(n)); err != nil {
			s.logger.Warn("recording a certificate to mirror into acme.json", zap.String("resolver", resolver),
				zap.String("domain", n), zap.Error(err))
		}
	}
}

// clearPending removes the note for name once it is in resolver's file.
func (s *stores) clearPending(ctx context.Context, resolver, name string) {
	if err := s.storage.Delete(ctx, mirrorNoteKey(resolver, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.logger.Debug("removing the mirror note", zap.String("resolver", resolver), zap.String("domain", name), zap.Error(err))
	}
}

// startCatchUp starts the background catch-up (the app's Start): it runs
// once right away, then again whenever a mirror fails (kickCatchUp),
// retrying with backoff until it succeeds. stopCatchUp ends it.
func (s *stores) startCatchUp() {
	if s == nil || len(s.byResolver) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.catchUpStop = cancel
	s.catchUpDone = make(chan struct{})
	s.catchUpKick = make(chan struct{}, 1)
	s.kickCatchUp()
	go s.catchUpLoop(ctx)
}

// stopCatchUp stops the background catch-up and waits for it to return
// (a wait for the file's lock or a storage call ends with the context).
func (s *stores) stopCatchUp() {
	if s == nil || s.catchUpStop == nil {
		return
	}
	s.catchUpStop()
	<-s.catchUpDone
	s.catchUpStop = nil
}

// kickCatchUp asks the background catch-up to run (it never blocks).
func (s *stores) kickCatchUp() {
	if s == nil || s.catchUpKick == nil {
		return
	}
	select {
	case s.catchUpKick <- struct{}{}:
	default:
	}
}

func (s *stores) catchUpLoop(ctx context.Context) {
	defer close(s.catchUpDone)
	backoff := time.Duration(0)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.catchUpKick:
		case <-retry.C:
		}
		err := s.catchUp(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			backoff = 0
			retry.Stop()
			continue
		}
		switch {
		case backoff == 0:
			backoff = catchUpBackoffMin
		case backoff < catchUpBackoffMax:
			backoff = min(2*backoff, catchUpBackoffMax)
		}
		s.logger.Warn("acme.json is behind Caddy's storage; retrying", zap.Error(err), zap.Duration("retry_in", backoff))
		retry.Reset(backoff)
	}
}

// catchUp writes every noted certificate that storage holds into its
// resolver's acme.json (one write per file, none when the file already
// holds them) and removes the notes. It returns the first failure after
// trying every resolver.
func (s *stores) catchUp(ctx context.Context) error {
	var errs []error
	for _, name := range sortedKeys(s.byResolver) {
		if err := s.catchUpResolver(ctx, s.byResolver[name]); err != nil {
			errs = append(errs, fmt.Errorf("resolver %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// pendingCert is a noted certificate found in storage.
type pendingCert struct {
	name, key       string // the name and its note's storage key
	certPEM, keyPEM []byte
}

func (s *stores) catchUpResolver(ctx context.Context, rs *resolverStore) error {
	keys, err := s.storage.List(ctx, mirrorNoteDir(rs.name), false)
	if errors.Is(err, fs.ErrNotExist) || len(keys) == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing certificates to mirror: %w", err)
	}
	var certs []pendingCert
	var done []string // notes with nothing to write
	for _, key := range keys {
		nameB, err := s.storage.Load(ctx, key)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("loading %s: %w", key, err)
		}
		name := string(nameB)
		certPEM, err := s.storage.Load(ctx, certmagic.StorageKeys.SiteCert(rs.issuerKey, name))
		if errors.Is(err, fs.ErrNotExist) {
			done = append(done, key) // never stored (the issuance did not complete)
			continue
		}
		if err != nil {
			return fmt.Errorf("loading the certificate of %s: %w", name, err)
		}
		keyPEM, err := s.storage.Load(ctx, certmagic.StorageKeys.SitePrivateKey(rs.issuerKey, name))
		if err != nil {
			return fmt.Errorf("loading the key of %s: %w", name, err)
		}
		certs = append(certs, pendingCert{name: name, key: key, certPEM: certPEM, keyPEM: keyPEM})
	}
	if len(certs) > 0 {
		account, err := s.accountFromStorage(ctx, rs)
		if err != nil {
			s.logger.Warn("account not mirrored into acme.json", zap.String("resolver", rs.name), zap.Error(err))
		}
		err = s.writers[rs.path].UpdateContext(ctx, func(f *acmejson.File) error {
			entry := f.Ensure(rs.name)
			for _, c := range certs {
				if !fileHasNewer(entry, c.name, c.certPEM) {
					entry.Upsert([]string{c.name}, c.certPEM, c.keyPEM)
				}
			}
			// The account as the mirror writes it (see stores.mirror).
			if account != nil && !sameAccount(entry.Account, account) {
				if write, _ := migrate.ExportAccount(entry.Account, account, rs.res.CAServer, true); write {
					entry.Account = account
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		names := make([]string, 0, len(certs))
		for _, c := range certs {
			names = append(names, c.name)
			done = append(done, c.key)
		}
		s.logger.Info("acme.json caught up with Caddy's storage", zap.String("resolver", rs.name),
			zap.String("path", rs.path), zap.Strings("domains", names))
	}
	for _, key := range done {
		if err := s.storage.Delete(ctx, key); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", key, err)
		}
	}
	return nil
}

// fileHasNewer reports whether r already holds, for name, a certificate
// that expires later than certPEM's (a renewal mirrored meanwhile): the
// catch-up never replaces it with an older one.
func fileHasNewer(r *acmejson.Resolver, name string, certPEM []byte) bool {
	i := r.Find(name)
	if i < 0 || r.Certificates[i] == nil {
		return false
	}
	have, err := acmejson.ParseCertificatePEM(r.Certificates[i].Certificate)
	if err != nil {
		return false
	}
	ours, err := acmejson.ParseCertificatePEM(certPEM)
	if err != nil {
		return true // never replace a readable entry with something unreadable
	}
	return have[0].NotAfter.After(ours[0].NotAfter)
}
