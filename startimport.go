package traefikacme

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/compat/config"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// stores connects resolvers to their acme.json files. At provisioning each
// file's account and certificates are imported into Caddy's storage, so
// nothing is ordered again; afterwards every certificate Caddy obtains
// through a resolver is mirrored back into its file, byte-compatible with
// Traefik, together with the account.
type stores struct {
	storage certmagic.Storage
	logger  *zap.Logger
	slog    *slog.Logger

	byResolver map[string]*resolverStore    // resolvers with an acme.json
	writers    map[string]*acmejson.Batcher // by acme.json path (resolvers may share a file)
	issued     sync.Map                     // certificate name → resolver name, recorded by Issue

	// The background catch-up (mirrorcatchup.go), running between the
	// app's Start and Stop.
	catchUpStop context.CancelFunc
	catchUpDone chan struct{}
	catchUpKick chan struct{}
}

type resolverStore struct {
	name      string
	path      string
	res       *config.ACME
	issuerKey string
}

// provisionStores imports each resolver's acme.json into Caddy's storage and
// subscribes to cert_obtained to mirror new certificates back.
func provisionStores(ctx caddy.Context, resolvers map[string]*config.ACME, withStorage map[string]bool, logger *zap.Logger) (*stores, error) {
	s := &stores{
		logger:     logger,
		slog:       slog.New(zapslog.NewHandler(logger.Core(), zapslog.WithName(logger.Name()))),
		byResolver: make(map[string]*resolverStore),
		writers:    make(map[string]*acmejson.Batcher),
	}
	for _, name := range sortedKeys(resolvers) {
		res := resolvers[name]
		if !withStorage[name] || res.Storage == "" {
			continue
		}
		path, err := caddy.NewReplacer().ReplaceOrErr(res.Storage, true, true)
		if err != nil {
			return nil, fmt.Errorf("resolver %q: storage: %w", name, err)
		}
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		s.byResolver[name] = &resolverStore{name: name, path: path, res: res, issuerKey: migrate.IssuerKeyFromCA(res.CAServer)}
		if s.writers[path] == nil {
			s.writers[path] = acmejson.NewBatcher(path, acmejson.LoadOptions{Resolver: name, Logger: s.slog, TightenPermissions: true, Operation: "mirror"})
		}
	}
	if len(s.byResolver) == 0 {
		return s, nil
	}
	s.storage = ctx.Storage()

	files := make(map[string]acmejson.File) // each file is read once
	for _, name := range sortedKeys(s.byResolver) {
		rs := s.byResolver[name]
		f, ok := files[rs.path]
		if !ok {
			var err error
			f, err = acmejson.Load(rs.path, acmejson.LoadOptions{Resolver: name, Logger: s.slog, TightenPermissions: true})
			if err != nil {
				return nil, fmt.Errorf("resolver %q: storage: %w", name, err)
			}
			files[rs.path] = f
		}
		if err := s.importResolver(ctx, rs, f[name]); err != nil {
			return nil, err
		}
	}

	evApp, err := ctx.App("events")
	if err != nil {
		return nil, fmt.Errorf("loading the events app: %w", err)
	}
	if err := evApp.(*caddyevents.App).On("cert_obtained", s); err != nil {
		return nil, fmt.Errorf("subscribing to cert_obtained: %w", err)
	}
	return s, nil
}

// importResolver imports one resolver's account and certificates.
func (s *stores) importResolver(ctx context.Context, rs *resolverStore, entry *acmejson.Resolver) error {
	log := s.logger.With(zap.String("resolver", rs.name), zap.String("path", rs.path))
	start := time.Now()
	if entry != nil {
		rep, err := migrate.Import(ctx, s.storage, entry, migrate.ImportOptions{
			IssuerKey: rs.issuerKey,
			CA:        rs.res.CAServer,
			Email:     rs.res.Email,
			Resolver:  rs.name,
			Logger:    log,
		})
		if err != nil {
			return fmt.Errorf("resolver %q: importing %s: %w", rs.name, rs.path, err)
		}
		log.Info("acme.json imported", zap.String("summary", rep.String()),
			zap.Int("imported", len(rep.Imported)), zap.Int("unchanged", len(rep.Unchanged)),
			zap.Int("skipped_newer", len(rep.SkippedNewer)), zap.Int("skipped_invalid", len(rep.SkippedInvalid)),
			zap.Duration("took", time.Since(start)))
		for _, sk := range rep.SkippedInvalid {
			log.Warn("acme.json certificate not imported", zap.Strings("names", sk.Names), zap.String("reason", sk.Reason))
		}
	}
	return nil
}
