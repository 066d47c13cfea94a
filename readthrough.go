package traefikacme

// acme.json as a read-through layer under Caddy's storage.
//
// Nothing is imported at start. At provisioning (which `caddy validate`
// runs too) each resolver's acme.json is read, never written or chmodded,
// and indexed as a migrate.Layer under the resolver's issuer key. The
// issuer's SetConfig then puts a migrate.ReadThrough in front of the
// storage of the certmagic.Config of each automation policy that uses the
// resolver: certmagic loads the account and each certificate straight from
// the parsed file where Caddy's storage has nothing better, and everything
// certmagic writes (a renewal, a new account, ARI data) goes to Caddy's
// storage and wins from then on. Names are served as certmagic loads them.
//
// SetConfig is the hook because it is the one place that sees the exact
// certmagic.Config every use of the resolver goes through: the policy's
// storage (global or its own), the account lookups of the ACME issuer
// (which holds that Config), the loads of the certificate cache (whose
// GetConfigForCert returns the policy's Config) and renewals. It runs at
// provisioning, before the tls app starts managing any name, so an
// imported name can never be ordered for lack of its certificate; and it
// touches nothing but that Config, so other policies, storage cleaning and
// the offline commands see Caddy's storage as it is.
//
// What Caddy does on disk for an acme.json when it runs, and never during
// validation, is in onDiskAtStart.

import (
	"fmt"
	"os"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// loadedFile is an acme.json read at provisioning.
type loadedFile struct {
	file     acmejson.File
	modified time.Time // the file's modification time after it was read
}

// loadAcmeJSONReadOnly reads the acme.json at path for resolver without
// changing anything on disk: no v1 backup, no conversion written, no
// chmod (a v1 file is converted in memory, under resolver's name). A
// missing file reads as empty.
func (s *stores) loadAcmeJSONReadOnly(path, resolver string) (loadedFile, error) {
	f, err := acmejson.Load(path, acmejson.LoadOptions{Resolver: resolver, Logger: s.slog, ReadOnly: true})
	if err != nil {
		return loadedFile{}, err
	}
	lf := loadedFile{file: f}
	// Stat after reading: the time is then no earlier than the content read.
	if fi, err := os.Stat(path); err == nil {
		lf.modified = fi.ModTime()
	}
	return lf, nil
}

// newLayer indexes the resolver's entry of f as the read-through layer of
// rs, with the issuer key, CA and email an import would use.
func (s *stores) newLayer(rs *resolverStore, lf loadedFile) (*migrate.Layer, error) {
	layer, err := migrate.NewLayer(lf.file[rs.name], lf.modified, migrate.LayerOptions{
		IssuerKey: rs.issuerKey,
		CA:        rs.res.CAServer,
		Email:     rs.res.Email,
		Resolver:  rs.name,
	})
	if err != nil {
		return nil, fmt.Errorf("resolver %q: reading %s: %w", rs.name, rs.path, err)
	}
	log := s.logger.With(zap.String("resolver", rs.name), zap.String("path", rs.path))
	if p := layer.AccountProblem(); p != "" {
		log.Warn("acme.json account not used", zap.String("reason", p))
	}
	log.Info("acme.json read through", zap.Int("names", layer.Names()), zap.String("issuer", layer.IssuerKey()))
	return layer, nil
}

// readThroughStorage returns base with the acme.json of resolver read
// through it, or base when the resolver has no acme.json. Called from the
// issuer's SetConfig; calling it again on its own result adds nothing.
func (s *stores) readThroughStorage(resolver string, base certmagic.Storage) certmagic.Storage {
	if !s.has(resolver) || s.byResolver[resolver].layer == nil || base == nil {
		return base
	}
	return migrate.NewReadThrough(base, s.byResolver[resolver].layer)
}

// onDiskAtStart does, once Caddy runs (App.Start), what Caddy does on disk
// for the acme.json files and never during `caddy validate` or `caddy
// adapt`: it tightens a too-open acme.json to 0600 when Caddy's user owns
// it. A v1 file is rewritten in the v2 layout (its original kept as
// <file>.v1.bak) by the first mirror write, which loads it with the
// owning resolver's name.
func (s *stores) onDiskAtStart() {
	if s == nil {
		return
	}
	for path := range s.writers {
		if _, err := acmejson.TightenPermissions(path, s.slog); err != nil {
			s.logger.Warn("tightening acme.json permissions", zap.String("path", path), zap.Error(err))
		}
	}
}

// readThroughStorage returns the target's storage with the acme.json of
// every resolver the config's traefik_acme app reads through, as the
// running Caddy sees it: an offline command (export) then finds the
// certificates and accounts Caddy serves from those files, which are not
// copied into storage. Files that do not load are left out (the command
// reports on the storage alone for them). Without a config it is the
// storage.
func (t *commandTarget) readThroughStorage() certmagic.Storage {
	var layers []*migrate.Layer
	files := map[string]loadedFile{}
	for _, name := range sortedKeys(t.resolvers) {
		res := t.resolvers[name]
		if !t.withStorage[name] || res == nil || res.Storage == "" {
			continue
		}
		path, err := caddy.NewReplacer().ReplaceOrErr(res.Storage, true, true)
		if err != nil {
			continue
		}
		lf, ok := files[path]
		if !ok {
			f, err := acmejson.Load(path, acmejson.LoadOptions{Resolver: name, ReadOnly: true})
			if err != nil {
				continue
			}
			lf = loadedFile{file: f}
			if fi, err := os.Stat(path); err == nil {
				lf.modified = fi.ModTime()
			}
			files[path] = lf
		}
		layer, err := migrate.NewLayer(lf.file[name], lf.modified, migrate.LayerOptions{
			CA:       res.CAServer,
			Email:    res.Email,
			Resolver: name,
		})
		if err != nil {
			continue
		}
		layers = append(layers, layer)
	}
	if len(layers) == 0 {
		return t.storage
	}
	return migrate.NewReadThrough(t.storage, layers...)
}
