package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"golang.org/x/net/idna"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// Layer is one Traefik resolver's acme.json entry presented as the
// certmagic storage keys [Import] would write for it: the account files and,
// per requested name, the certificate, key and metadata files, under one
// issuer key. Nothing is written anywhere: a [ReadThrough] storage answers
// reads of those keys from the Layer when the real storage does not hold a
// better answer.
//
// Building a Layer only indexes the entry's requested names; each
// certificate entry is decoded (chain, names, expiry, key check) the first
// time one of its names is read, so a Layer over thousands of certificates
// is ready at once and names become servable as certmagic loads them.
//
// A Layer is safe for concurrent use.
type Layer struct {
	issuerKey  string
	certPrefix string    // "certificates/<Safe(issuerKey)>/"
	modified   time.Time // when the acme.json was last changed

	account       *accountFiles // nil when the resolver has no usable account
	accountReason string        // why account is nil, when there was one

	// The resolver's own account as Import records it (ResolverAccountKey),
	// when LayerOptions.Resolver is set and the account is usable.
	resolverKey  string
	resolverJSON []byte

	issuerData []byte
	entries    []*layerEntry
	byName     map[string][]int // Safe(ASCII name) → entry indexes, file order
	names      []string         // the keys of byName, sorted
}

// layerEntry is one certificate entry, decoded on first use.
type layerEntry struct {
	index int
	cert  *acmejson.Certificate
	once  sync.Once
	cand  *candidate // nil when the entry cannot be used
}

// LayerOptions are the parts of [ImportOptions] a [Layer] uses: IssuerKey
// (or CA), CA, Email and Resolver, with the same meaning and defaults (with
// Resolver, the Layer also offers the resolver's own account record).
type LayerOptions = ImportOptions

// NewLayer indexes res (one resolver of an acme.json) for a [ReadThrough]
// storage, under the issuer key and account email [Import] would use with
// the same options. modified is the acme.json's modification time: it is
// what [ReadThrough] reports for the Layer's keys, and certificate metadata
// in storage older than it is not trusted to describe the file's
// certificate. res may be nil (an empty Layer).
//
// The account is converted as [Import] converts it; one Import would skip
// is left out of the Layer (see [Layer.AccountProblem]).
func NewLayer(res *acmejson.Resolver, modified time.Time, opts LayerOptions) (*Layer, error) {
	issuerKey := opts.IssuerKey
	if issuerKey == "" {
		if opts.CA == "" {
			return nil, errors.New("reading acme.json resolver: an issuer key or a CA URL is required")
		}
		issuerKey = IssuerKeyFromCA(opts.CA)
	}
	l := &Layer{
		issuerKey:  issuerKey,
		certPrefix: certmagic.StorageKeys.CertsPrefix(issuerKey) + "/",
		modified:   modified,
		byName:     map[string][]int{},
	}
	if res == nil {
		return l, nil
	}
	accountURL := ""
	if res.Account != nil {
		files, reason, err := convertAccount(issuerKey, res.Account, opts)
		if err != nil {
			return nil, err
		}
		if reason == "" {
			l.account = &files
			if opts.Resolver != "" {
				b, err := json.Marshal(res.Account)
				if err != nil {
					return nil, fmt.Errorf("encoding the account of resolver %q: %w", opts.Resolver, err)
				}
				l.resolverKey, l.resolverJSON = ResolverAccountKey(issuerKey, opts.Resolver), b
			}
		}
		l.accountReason = reason
		if res.Account.Registration != nil {
			accountURL = res.Account.Registration.URI
		}
	}
	data, err := issuerData(opts.CA, accountURL)
	if err != nil {
		return nil, err
	}
	l.issuerData = data
	l.entries = make([]*layerEntry, len(res.Certificates))
	for i, c := range res.Certificates {
		e := &layerEntry{index: i, cert: c}
		l.entries[i] = e
		requested := acmejson.NormalizeNames(c.Names())
		if len(requested) == 0 {
			// No domain recorded: the names are the certificate's own,
			// which takes decoding it now.
			if cand := l.decode(e); cand != nil {
				requested = cand.names
			}
		}
		for _, n := range requested {
			ascii, err := idna.ToASCII(n)
			if err != nil {
				continue // decodeEntry reports it
			}
			safe := certmagic.StorageKeys.Safe(ascii)
			if ix := l.byName[safe]; len(ix) == 0 || ix[len(ix)-1] != i {
				l.byName[safe] = append(ix, i)
			}
		}
	}
	l.names = make([]string, 0, len(l.byName))
	for n := range l.byName {
		l.names = append(l.names, n)
	}
	sort.Strings(l.names)
	return l, nil
}

// IssuerKey returns the issuer key the Layer's keys are under.
func (l *Layer) IssuerKey() string { return l.issuerKey }

// Names returns the number of distinct requested names the Layer indexes.
func (l *Layer) Names() int { return len(l.names) }

// AccountProblem says why the resolver's account is not offered, or ""
// when it is offered or there is none.
func (l *Layer) AccountProblem() string { return l.accountReason }

// decode decodes e once.
func (l *Layer) decode(e *layerEntry) *candidate {
	e.once.Do(func() {
		cand, _ := decodeEntry(e.index, e.cert, l.issuerData)
		if cand != nil {
			// Only the leaf's expiry is needed later; drop the parsed chain.
			cand.parsed = &acmejson.Parsed{Leaf: acmejson.LeafInfo{NotAfter: cand.parsed.Leaf.NotAfter}}
		}
		e.cand = cand
	})
	return e.cand
}

// lookup returns the entry that [Import] would write for the name whose
// Safe form is safe: the usable entry covering it that expires last (the
// later one in the file on a tie), or nil.
func (l *Layer) lookup(safe string) *candidate {
	var best *candidate
	for _, i := range l.byName[safe] {
		cand := l.decode(l.entries[i])
		if cand == nil || !slices.ContainsFunc(cand.names, func(n string) bool { return certmagic.StorageKeys.Safe(n) == safe }) {
			continue
		}
		if best == nil || !cand.parsed.Leaf.NotAfter.Before(best.parsed.Leaf.NotAfter) {
			best = cand
		}
	}
	return best
}

// file kinds of a site's three certmagic files.
const (
	kindCert = iota + 1
	kindKey
	kindMeta
)

// siteKey parses key as one of certmagic's three files of a site under the
// Layer's issuer key ("certificates/<issuer>/<name>/<name>.crt", ".key",
// ".json") and returns the name (Safe form) and the kind.
func (l *Layer) siteKey(key string) (safe string, kind int) {
	rest, ok := strings.CutPrefix(key, l.certPrefix)
	if !ok {
		return "", 0
	}
	dir, file, ok := strings.Cut(rest, "/")
	if !ok || dir == "" {
		return "", 0
	}
	switch file {
	case dir + ".crt":
		kind = kindCert
	case dir + ".key":
		kind = kindKey
	case dir + ".json":
		kind = kindMeta
	default:
		return "", 0
	}
	if _, ok := l.byName[dir]; !ok {
		return "", 0
	}
	return dir, kind
}

// keys returns every key the Layer offers (without the ones hidden).
func (l *Layer) keys() []string {
	out := make([]string, 0, 3*len(l.names)+2)
	if l.account != nil {
		out = append(out, l.account.regKey, l.account.keyKey)
	}
	if l.resolverKey != "" {
		out = append(out, l.resolverKey)
	}
	for _, n := range l.names {
		out = append(out,
			l.certPrefix+n+"/"+n+".crt",
			l.certPrefix+n+"/"+n+".key",
			l.certPrefix+n+"/"+n+".json")
	}
	return out
}

// ReadThrough is a certmagic.Storage that answers reads from acme.json
// [Layer]s where the storage it wraps has no better answer, and sends every
// write to the storage it wraps. It is how Caddy serves a resolver's
// acme.json without importing it: certmagic loads each certificate straight
// from the parsed file, nothing is written at start, and whatever certmagic
// stores (a renewal, a new account, ARI data) lands in the real storage and
// is read from there from then on.
//
// The rules, per key of a Layer:
//   - Account files: the storage's account when it has a registration for
//     the issuer key and email, else the file's (so an account Caddy
//     registered or that an import kept always wins).
//   - A site's certificate and key: the storage's when it holds a
//     certificate for the name that expires no earlier than the file's
//     (the rule [Import] uses to never replace a newer certificate), else
//     the file's. A certificate in storage that does not parse loses.
//   - A site's metadata: with the storage's certificate, the storage's;
//     with the file's, the storage's metadata when storage has no
//     certificate for the name and the metadata was written after the
//     acme.json last changed (certmagic stored ARI data for the file's
//     certificate), else the metadata [Import] would write.
//
// Exists, Stat and List show the union; Delete of a Layer key hides it for
// the life of this value. Locks are the wrapped storage's; TryLock and
// RenewLockLease are offered exactly when the wrapped storage offers them
// (see [NewReadThrough]).
type ReadThrough struct {
	base   certmagic.Storage
	layers []*Layer

	mu     sync.Mutex
	hidden map[string]bool // Layer keys deleted through this value
}

// NewReadThrough wraps base with layers (later layers are consulted after
// earlier ones when two share an issuer key). The result implements
// certmagic.TryLocker and certmagic.LockLeaseRenewer when base does, so
// certmagic locks exactly as it would with base. Wrapping a ReadThrough
// adds the layers to it over the same base instead of nesting.
func NewReadThrough(base certmagic.Storage, layers ...*Layer) certmagic.Storage {
	if rt := AsReadThrough(base); rt != nil {
		merged := slices.Clone(rt.layers)
		for _, l := range layers {
			if !slices.Contains(merged, l) {
				merged = append(merged, l)
			}
		}
		base, layers = rt.base, merged
	}
	rt := &ReadThrough{base: base, layers: layers, hidden: map[string]bool{}}
	_, tryLocker := base.(certmagic.TryLocker)
	_, renewer := base.(certmagic.LockLeaseRenewer)
	switch {
	case tryLocker && renewer:
		return readThroughTryRenew{readThroughTry{rt}}
	case tryLocker:
		return readThroughTry{rt}
	case renewer:
		return readThroughRenew{rt}
	}
	return rt
}

// AsReadThrough returns the ReadThrough s is (or wraps), or nil.
func AsReadThrough(s certmagic.Storage) *ReadThrough {
	switch v := s.(type) {
	case *ReadThrough:
		return v
	case readThroughTry:
		return v.ReadThrough
	case readThroughRenew:
		return v.ReadThrough
	case readThroughTryRenew:
		return v.ReadThrough
	}
	return nil
}

// Base returns the wrapped storage.
func (rt *ReadThrough) Base() certmagic.Storage { return rt.base }

// Layers returns the layers, in the order they are consulted.
func (rt *ReadThrough) Layers() []*Layer { return slices.Clone(rt.layers) }

// String describes the storage for logs.
func (rt *ReadThrough) String() string {
	return fmt.Sprintf("acme.json read-through over %v", rt.base)
}

// match finds the Layer key is one of.
type match struct {
	layer    *Layer
	kind     int // kindCert, kindKey, kindMeta; 0 for account files
	safe     string
	account  bool // the registration (false: the account key) when kind is 0
	resolver bool // the resolver's own account record (ResolverAccountKey)
}

func (rt *ReadThrough) match(key string) (match, bool) {
	rt.mu.Lock()
	hidden := rt.hidden[key]
	rt.mu.Unlock()
	if hidden {
		return match{}, false
	}
	for _, l := range rt.layers {
		if l.resolverKey != "" && key == l.resolverKey {
			return match{layer: l, resolver: true}, true
		}
		if a := l.account; a != nil {
			switch key {
			case a.regKey:
				return match{layer: l, account: true}, true
			case a.keyKey:
				return match{layer: l}, true
			}
		}
		if safe, kind := l.siteKey(key); kind != 0 {
			return match{layer: l, kind: kind, safe: safe}, true
		}
	}
	return match{}, false
}

// Load implements certmagic.Storage.
func (rt *ReadThrough) Load(ctx context.Context, key string) ([]byte, error) {
	m, ok := rt.match(key)
	if !ok {
		return rt.base.Load(ctx, key)
	}
	if m.kind == 0 {
		return rt.loadAccount(ctx, key, m)
	}
	cand := m.layer.lookup(m.safe)
	if cand == nil {
		return rt.base.Load(ctx, key)
	}
	stored, storageWins, err := rt.storageCertWins(ctx, m.layer, m.safe, cand)
	if err != nil {
		return nil, err
	}
	switch {
	case m.kind == kindCert && storageWins:
		return stored, nil
	case storageWins:
		return rt.base.Load(ctx, key)
	case m.kind == kindCert:
		return bytes.Clone(cand.entry.Certificate), nil
	case m.kind == kindKey:
		return bytes.Clone(cand.entry.Key), nil
	}
	// The metadata of the file's certificate: what certmagic stored for it
	// (ARI) when that is known to postdate the file, else Import's.
	if stored == nil {
		if info, err := rt.base.Stat(ctx, key); err == nil && info.Modified.After(m.layer.modified) {
			if meta, err := rt.base.Load(ctx, key); err == nil {
				return meta, nil
			}
		}
	}
	return bytes.Clone(cand.meta), nil
}

// storageCertWins loads the storage's certificate for the site and says
// whether it is used rather than the file's. stored is nil when storage has
// none.
func (rt *ReadThrough) storageCertWins(ctx context.Context, l *Layer, safe string, cand *candidate) (stored []byte, wins bool, err error) {
	certKey := l.certPrefix + safe + "/" + safe + ".crt"
	stored, err = rt.base.Load(ctx, certKey)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if bytes.Equal(stored, cand.entry.Certificate) {
		return stored, true, nil
	}
	chain, err := acmejson.ParseCertificatePEM(stored)
	if err != nil {
		return stored, false, nil
	}
	return stored, !chain[0].NotAfter.Before(cand.parsed.Leaf.NotAfter), nil
}

// loadAccount answers an account file: the storage's account when storage
// holds a registration for it, else the file's.
func (rt *ReadThrough) loadAccount(ctx context.Context, key string, m match) ([]byte, error) {
	if m.resolver {
		b, err := rt.base.Load(ctx, key)
		if errors.Is(err, fs.ErrNotExist) {
			return bytes.Clone(m.layer.resolverJSON), nil
		}
		return b, err
	}
	a := m.layer.account
	if m.account {
		b, err := rt.base.Load(ctx, key)
		if errors.Is(err, fs.ErrNotExist) {
			return bytes.Clone(a.regJSON), nil
		}
		return b, err
	}
	if rt.base.Exists(ctx, a.regKey) {
		return rt.base.Load(ctx, key)
	}
	return bytes.Clone(a.keyPEM), nil
}

// Exists implements certmagic.Storage.
func (rt *ReadThrough) Exists(ctx context.Context, key string) bool {
	if rt.base.Exists(ctx, key) {
		return true
	}
	m, ok := rt.match(key)
	if !ok {
		return false
	}
	return m.kind == 0 || m.layer.lookup(m.safe) != nil
}

// Stat implements certmagic.Storage.
func (rt *ReadThrough) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	info, err := rt.base.Stat(ctx, key)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return info, err
	}
	if _, ok := rt.match(key); !ok {
		if rt.isLayerDir(key) {
			return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
		}
		return info, err
	}
	b, lerr := rt.Load(ctx, key)
	if lerr != nil {
		return info, err
	}
	m, _ := rt.match(key)
	return certmagic.KeyInfo{Key: key, Modified: m.layer.modified, Size: int64(len(b)), IsTerminal: true}, nil
}

// isLayerDir reports whether key is a directory of some Layer key.
func (rt *ReadThrough) isLayerDir(key string) bool {
	key = strings.TrimSuffix(key, "/")
	for _, l := range rt.layers {
		for _, k := range l.keys() {
			if strings.HasPrefix(k, key+"/") {
				return true
			}
		}
	}
	return false
}

// List implements certmagic.Storage: the wrapped storage's keys under
// prefix and the Layers'.
func (rt *ReadThrough) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	base, err := rt.base.List(ctx, prefix, recursive)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	seen := make(map[string]bool, len(base))
	for _, k := range base {
		seen[k] = true
	}
	out := base
	dir := strings.TrimSuffix(prefix, "/")
	for _, l := range rt.layers {
		for _, k := range l.keys() {
			rest, ok := strings.CutPrefix(k, dir+"/")
			if dir == "" {
				rest, ok = k, true
			}
			if !ok {
				continue
			}
			if _, visible := rt.match(k); !visible {
				continue
			}
			if !recursive {
				first, _, _ := strings.Cut(rest, "/")
				k = path.Join(dir, first)
				if seen[k] {
					continue
				}
				seen[k] = true
				out = append(out, k)
				continue
			}
			// Recursive listings hold files and the directories above them.
			parts := strings.Split(rest, "/")
			for i := range parts {
				sub := path.Join(dir, strings.Join(parts[:i+1], "/"))
				if !seen[sub] {
					seen[sub] = true
					out = append(out, sub)
				}
			}
		}
	}
	if len(out) == 0 && err != nil {
		return nil, err
	}
	return out, nil
}

// Store implements certmagic.Storage: the value goes to the wrapped
// storage.
func (rt *ReadThrough) Store(ctx context.Context, key string, value []byte) error {
	if err := rt.base.Store(ctx, key, value); err != nil {
		return err
	}
	rt.mu.Lock()
	delete(rt.hidden, key)
	rt.mu.Unlock()
	return nil
}

// Delete implements certmagic.Storage: the key is deleted from the wrapped
// storage, and a Layer key is hidden from then on (the acme.json itself is
// never changed).
func (rt *ReadThrough) Delete(ctx context.Context, key string) error {
	_, layered := rt.match(key)
	err := rt.base.Delete(ctx, key)
	if layered {
		rt.mu.Lock()
		rt.hidden[key] = true
		rt.mu.Unlock()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	return err
}

// Lock implements certmagic.Locker with the wrapped storage's lock.
func (rt *ReadThrough) Lock(ctx context.Context, name string) error {
	return rt.base.Lock(ctx, name)
}

// Unlock implements certmagic.Locker with the wrapped storage's lock.
func (rt *ReadThrough) Unlock(ctx context.Context, name string) error {
	return rt.base.Unlock(ctx, name)
}

type readThroughTry struct{ *ReadThrough }

func (rt readThroughTry) TryLock(ctx context.Context, name string) (bool, error) {
	return rt.base.(certmagic.TryLocker).TryLock(ctx, name)
}

type readThroughRenew struct{ *ReadThrough }

func (rt readThroughRenew) RenewLockLease(ctx context.Context, lockKey string, d time.Duration) error {
	return rt.base.(certmagic.LockLeaseRenewer).RenewLockLease(ctx, lockKey, d)
}

type readThroughTryRenew struct{ readThroughTry }

func (rt readThroughTryRenew) RenewLockLease(ctx context.Context, lockKey string, d time.Duration) error {
	return rt.base.(certmagic.LockLeaseRenewer).RenewLockLease(ctx, lockKey, d)
}

// Interface guards
var (
	_ certmagic.Storage          = (*ReadThrough)(nil)
	_ certmagic.TryLocker        = readThroughTry{}
	_ certmagic.LockLeaseRenewer = readThroughRenew{}
	_ certmagic.TryLocker        = readThroughTryRenew{}
	_ certmagic.LockLeaseRenewer = readThroughTryRenew{}
)
