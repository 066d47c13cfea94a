package traefikacme

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/compat/config"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// stores connects resolvers to their acme.json files. Nothing is imported
// at start any more: at provisioning each file is read (and nothing
// written) and offered to certmagic through the read-through storage of the
// policies that use its resolver (readthrough.go), so nothing is ordered
// again; afterwards every certificate Caddy obtains through a resolver is
// mirrored back into its file (mirror.go), byte-compatible with Traefik,
// together with the account.
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
	layer     *migrate.Layer // the resolver's acme.json entry, read through; set at Provision
}

// provisionStores reads each resolver's acme.json into a read-through
// layer and subscribes to cert_obtained to mirror new certificates back. It
// writes nothing: `caddy validate` provisions too. What Caddy does on disk
// when it runs is in onDiskAtStart.
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

	files := make(map[string]loadedFile) // each file is read once
	for _, name := range sortedKeys(s.byResolver) {
		rs := s.byResolver[name]
		lf, ok := files[rs.path]
		if !ok {
			var err error
			lf, err = s.loadAcmeJSONReadOnly(rs.path, name)
			if err != nil {
				return nil, fmt.Errorf("resolver %q: storage: %w", name, err)
			}
			files[rs.path] = lf
		}
		layer, err := s.newLayer(rs, lf)
		if err != nil {
			return nil, err
		}
		rs.layer = layer
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
