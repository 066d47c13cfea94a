package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/caddyserver/certmagic"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// ResolverAccountKey is the storage key under which [Import] records a
// Traefik resolver's own account, as the acme.json entry's "Account"
// object: "traefik_acme/<Safe(issuerKey)>/resolvers/<Safe(resolver)>/account.json".
//
// certmagic keeps one account per CA and email, so of several Traefik
// resolvers with their own accounts under one email at one CA only one
// account becomes Caddy's. The record lets an export into a new or emptied
// acme.json give every resolver its own account back. It holds the account
// key: it is as secret as certmagic's own account files beside it.
func ResolverAccountKey(issuerKey, resolver string) string {
	return path.Join("traefik_acme", certmagic.StorageKeys.Safe(issuerKey), "resolvers", certmagic.StorageKeys.Safe(resolver), "account.json")
}

// saveResolverAccount records a under ResolverAccountKey, unless the same
// record is there already.
func saveResolverAccount(ctx context.Context, storage certmagic.Storage, issuerKey, resolver string, a *acmejson.Account) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encoding the account of resolver %q: %w", resolver, err)
	}
	key := ResolverAccountKey(issuerKey, resolver)
	if old, err := storage.Load(ctx, key); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := storage.Store(ctx, key, b); err != nil {
		return fmt.Errorf("recording the account of resolver %q: %w", resolver, err)
	}
	return nil
}

// LoadResolverAccount returns the account [Import] recorded for resolver
// under issuerKey (see [ResolverAccountKey]), or nil, nil when there is none.
func LoadResolverAccount(ctx context.Context, storage certmagic.Storage, issuerKey, resolver string) (*acmejson.Account, error) {
	key := ResolverAccountKey(issuerKey, resolver)
	b, err := storage.Load(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", key, err)
	}
	var a acmejson.Account
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", key, err)
	}
	return &a, nil
}
