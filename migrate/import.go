// Package migrate moves ACME accounts and certificates between a Traefik
// acme.json resolver entry ([acmejson.Resolver]) and certmagic storage, in
// the exact layout certmagic (and so Caddy) reads: [Import] for migrating to
// Caddy without re-issuing anything, [Export] for rolling back to Traefik.
//
// The package imports certmagic but not Caddy.
package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"
	"golang.org/x/net/idna"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// ImportOptions tunes [Import].
type ImportOptions struct {
	// IssuerKey is the certmagic issuer key certificates and the account are
	// stored under: the key of the ACME issuer Caddy will use for these
	// names (caddytls.ACMEIssuer.IssuerKey(), or [IssuerKeyFromCA] of its
	// CA). Caddy only finds certificates stored under the key of one of the
	// configured issuers.
	// Default: IssuerKeyFromCA(CA); one of IssuerKey and CA is required.
	IssuerKey string

	// CA is the ACME directory URL of the resolver (Traefik's caServer). It
	// is recorded in each certificate's metadata ("issuer_data.ca"), and an
	// account whose registration URI has another host is not imported
	// (Traefik discards such an account too).
	// Default: "" (no CA check, no "ca" in the metadata).
	CA string

	// Email is the email the account is stored under; it must be the email
	// the Caddy issuer is configured with, because certmagic looks accounts
	// up by it.
	// Default: the Traefik account's Email, else its first mailto contact,
	// else none ("default").
	Email string

	// Resolver is the name of the Traefik resolver imported. When set, its
	// own account is also recorded under [ResolverAccountKey] (unless it
	// cannot be used with CA), so that an export can give it back even
	// where certmagic keeps another resolver's account for the same CA and
	// email.
	// Default: "" (not recorded).
	Resolver string

	// OverwriteAccount replaces an account already in storage for the same
	// issuer key and email when it differs from the imported one.
	// Default: false (the existing account is kept and reported).
	OverwriteAccount bool

	// Concurrency is how many names are imported at once. Storage writes are
	// dominated by latency (FileStorage fsyncs four times per name: the lock
	// and three files), so many workers help even on one core: on a 2-core
	// machine 64 workers import several times faster than one.
	// Default: 64.
	Concurrency int

	// Logger receives progress and problems; keys are snake_case and no key
	// material is logged.
	// Default: nil (zap.NewNop()).
	Logger *zap.Logger

	// Now is the clock used to flag expired certificates.
	// Default: time.Now.
	Now func() time.Time
}

// Account import outcomes, for Report.Account.
const (
	AccountImported  = "imported"  // written to storage
	AccountUnchanged = "unchanged" // storage already held this exact account
	AccountKept      = "kept"      // storage holds a different account for the email; not overwritten
	AccountNone      = "none"      // the resolver has no account
	AccountSkipped   = "skipped"   // the account cannot be used (see AccountDetail)
)

// Skipped is something that was not imported or exported, and why.
type Skipped struct {
	// Names are the names concerned.
	Names []string
	// Reason says why, in lowercase words.
	Reason string
}

// Report says what [Import] did. Name lists are in file order.
type Report struct {
	// IssuerKey is the issuer key everything was stored under.
	IssuerKey string
	// Imported lists the names whose certificate was written.
	Imported []string
	// Unchanged lists the names whose certificate storage already held,
	// byte for byte, with its key and metadata.
	Unchanged []string
	// SkippedNewer lists the names not written because storage (or another
	// entry of the resolver) holds a certificate for the name that expires
	// at the same time or later.
	SkippedNewer []string
	// SkippedInvalid lists entries or names that cannot be imported:
	// undecodable PEM, a key that does not match the certificate, a
	// requested name the certificate does not cover.
	SkippedInvalid []Skipped
	// Expired lists the imported names whose certificate had already
	// expired (they are imported anyway; Caddy renews them).
	Expired []string
	// Account is one of AccountImported, AccountUnchanged, AccountKept,
	// AccountNone and AccountSkipped.
	Account string
	// AccountDetail explains Account (the storage key, or the reason).
	AccountDetail string
}

// String summarizes r on one line.
func (r Report) String() string {
	s := fmt.Sprintf("issuer %s: %s imported (%d expired), %d unchanged, %d skipped (newer in storage), %d skipped (invalid); account %s",
		r.IssuerKey, countNames(len(r.Imported)), len(r.Expired), len(r.Unchanged), len(r.SkippedNewer), len(r.SkippedInvalid), r.Account)
	if r.AccountDetail != "" {
		s += " (" + r.AccountDetail + ")"
	}
	return s
}

// Changed reports whether the import wrote anything: a certificate or the
// account.
func (r Report) Changed() bool {
	return len(r.Imported) > 0 || r.Account == AccountImported
}

// countNames is "1 name" or "N names".
func countNames(n int) string {
	if n == 1 {
		return "1 name"
	}
	return fmt.Sprintf("%d names", n)
}

// candidate is a decoded certificate entry and the names it is imported for.
type candidate struct {
	index  int
	entry  *acmejson.Certificate
	parsed *acmejson.Parsed
	names  []string // ASCII names the leaf covers, main first
	meta   []byte   // certmagic CertificateResource JSON
}

// nameJob is the import of one name.
type nameJob struct {
	name string
	cand *candidate
}

type nameOutcome int

const (
	outcomeImported nameOutcome = iota
	outcomeUnchanged
	outcomeNewer
)

// Import writes a Traefik resolver's account and certificates into storage
// in certmagic's layout under the issuer key, so that a Caddy whose issuer
// has that key uses them as its own managed certificates (renewing them in
// due course) and reuses the account, without contacting the CA.
//
// The account is written as certmagic's account files for (issuer key,
// email) (see [AccountStorageKeys]): the registration body as an acme.Account
// with status "valid" when the body has none and location = the
// registration URI, and the key as a PEM "RSA PRIVATE KEY". An existing,
// different account is kept unless ImportOptions.OverwriteAccount is set.
// An account without a registration URI, with a status other than valid, or
// registered with another CA host is not imported.
//
// Every certificate is written, for each of its requested names
// (domain.main and domain.sans, lower-cased, IDNA-encoded), as the three
// files certmagic.StorageKeys.SiteCert, SitePrivateKey and SiteMeta: the PEM
// chain and PEM key as stored in acme.json, and a CertificateResource whose
// "sans" are the requested names and whose "issuer_data" holds the CA and
// the account URL. A name is skipped when storage already holds a
// certificate for it that expires no earlier (a certificate Caddy renewed
// meanwhile is never replaced by an older one). Entries that do not decode,
// whose key does not match, or names the certificate does not cover are
// skipped and reported; expired certificates are imported. Each name is
// written under certmagic's storage lock "issue_cert_<name>", so Import may
// run next to a live Caddy. Import is idempotent.
//
// It returns an error (with the report so far) for storage failures and
// context cancellation; problems with the data itself are only reported.
func Import(ctx context.Context, storage certmagic.Storage, res *acmejson.Resolver, opts ImportOptions) (Report, error) {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("traefik_import")
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	issuerKey := opts.IssuerKey
	if issuerKey == "" {
		if opts.CA == "" {
			return Report{}, errors.New("importing acme.json resolver: an issuer key or a CA URL is required")
		}
		issuerKey = IssuerKeyFromCA(opts.CA)
	}
	rep := Report{IssuerKey: issuerKey, Account: AccountNone}
	if storage == nil {
		return rep, errors.New("importing acme.json resolver: storage is nil")
	}
	if res == nil {
		return rep, nil
	}
	log = log.With(zap.String("issuer", issuerKey))

	accountURL := ""
	if res.Account != nil && res.Account.Registration != nil {
		accountURL = res.Account.Registration.URI
	}
	if err := importAccount(ctx, storage, issuerKey, res.Account, opts, &rep, log); err != nil {
		return rep, err
	}
	if opts.Resolver != "" && res.Account != nil && rep.Account != AccountSkipped {
		if err := saveResolverAccount(ctx, storage, issuerKey, opts.Resolver, res.Account); err != nil {
			return rep, err
		}
	}

	metaData, err := issuerData(opts.CA, accountURL)
	if err != nil {
		return rep, err
	}

	// Decode every entry and choose, per name, the entry that expires last.
	decoded := decodeEntries(res.Certificates, metaData)
	var cands []*candidate
	best := map[string]*candidate{}
	var order []string
	for _, d := range decoded {
		cand, invalid := d.cand, d.invalid
		for _, s := range invalid {
			log.Warn("skipping invalid acme.json entry", zap.Strings("domain", s.Names), zap.String("reason", s.Reason))
			rep.SkippedInvalid = append(rep.SkippedInvalid, s)
		}
		if cand == nil {
			continue
		}
		cands = append(cands, cand)
		for _, n := range cand.names {
			cur, ok := best[n]
			switch {
			case !ok:
				order = append(order, n)
				best[n] = cand
			case !cand.parsed.Leaf.NotAfter.Before(cur.parsed.Leaf.NotAfter):
				best[n] = cand
				rep.SkippedNewer = append(rep.SkippedNewer, n)
			default:
				rep.SkippedNewer = append(rep.SkippedNewer, n)
			}
		}
	}

	jobs := make([]nameJob, len(order))
	for i, n := range order {
		jobs[i] = nameJob{name: n, cand: best[n]}
	}
	outcomes, err := runJobs(ctx, storage, issuerKey, jobs, opts.Concurrency)
	for i, j := range jobs {
		if i >= len(outcomes) || outcomes[i] == nil {
			continue
		}
		switch *outcomes[i] {
		case outcomeImported:
			rep.Imported = append(rep.Imported, j.name)
			if j.cand.parsed.Leaf.Expired(now()) {
				rep.Expired = append(rep.Expired, j.name)
			}
			log.Debug("imported certificate", zap.String("domain", j.name), zap.Time("not_after", j.cand.parsed.Leaf.NotAfter))
		case outcomeUnchanged:
			rep.Unchanged = append(rep.Unchanged, j.name)
		case outcomeNewer:
			rep.SkippedNewer = append(rep.SkippedNewer, j.name)
			log.Info("storage holds a certificate that expires no earlier; not replaced", zap.String("domain", j.name))
		}
	}
	if err != nil {
		return rep, fmt.Errorf("importing acme.json resolver: %w", err)
	}
	log.Info("imported acme.json resolver",
		zap.Int("imported", len(rep.Imported)), zap.Int("unchanged", len(rep.Unchanged)),
		zap.Int("skipped_newer", len(rep.SkippedNewer)), zap.Int("skipped_invalid", len(rep.SkippedInvalid)),
		zap.Int("expired", len(rep.Expired)), zap.String("account", rep.Account))
	return rep, nil
}

// decoded is the result of decodeEntry for one entry.
type decoded struct {
	cand    *candidate
	invalid []Skipped
}

// decodeEntries runs decodeEntry on every entry, on all CPUs (parsing is
// most of an import's CPU time when storage is already up to date), and
// returns the results in entry order.
func decodeEntries(entries []*acmejson.Certificate, issuerData json.RawMessage) []decoded {
	out := make([]decoded, len(entries))
	workers := min(runtime.GOMAXPROCS(0), len(entries))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(entries); i = int(next.Add(1) - 1) {
				out[i].cand, out[i].invalid = decodeEntry(i, entries[i], issuerData)
			}
		}()
	}
	wg.Wait()
	return out
}

// decodeEntry decodes one acme.json entry and builds its certmagic metadata.
// It returns nil and the reasons when nothing of the entry can be imported,
// or the candidate and the names that were left out.
func decodeEntry(index int, c *acmejson.Certificate, issuerData json.RawMessage) (*candidate, []Skipped) {
	requested := acmejson.NormalizeNames(c.Names())
	// The key is only copied into storage (certmagic parses it when it
	// loads the certificate): check it belongs to the leaf without paying
	// for RSA's precomputation twice per start.
	p, err := c.ParseWithoutKey()
	if err != nil {
		return nil, []Skipped{{Names: requested, Reason: fmt.Sprintf("entry %d: %v", index, err)}}
	}
	if len(requested) == 0 {
		// No domain recorded: use what the certificate says.
		requested = acmejson.NormalizeNames(p.Leaf.Names)
	}
	var skipped []Skipped
	cand := &candidate{index: index, entry: c, parsed: p}
	for _, n := range requested {
		ascii, err := idna.ToASCII(n)
		if err != nil {
			skipped = append(skipped, Skipped{Names: []string{n}, Reason: fmt.Sprintf("entry %d: converting name to ASCII: %v", index, err)})
			continue
		}
		ascii = strings.ToLower(ascii)
		if !p.Leaf.Covers(ascii) {
			skipped = append(skipped, Skipped{Names: []string{n}, Reason: fmt.Sprintf("entry %d: name is not in the certificate (which has %s)", index, strings.Join(p.Leaf.Names, ", "))})
			continue
		}
		if !slices.Contains(cand.names, ascii) {
			cand.names = append(cand.names, ascii)
		}
	}
	if len(cand.names) == 0 {
		if len(skipped) == 0 {
			skipped = append(skipped, Skipped{Reason: fmt.Sprintf("entry %d: no names", index)})
		}
		return nil, skipped
	}
	meta, err := json.MarshalIndent(certmagic.CertificateResource{SANs: cand.names, IssuerData: issuerData}, "", "\t")
	if err != nil {
		return nil, append(skipped, Skipped{Names: cand.names, Reason: fmt.Sprintf("entry %d: encoding metadata: %v", index, err)})
	}
	cand.meta = meta
	return cand, skipped
}

// issuerData is the "issuer_data" certmagic's ACME issuer records: an
// acme.Certificate. Traefik does not keep the certificate URL.
func issuerData(ca, accountURL string) (json.RawMessage, error) {
	if ca == "" && accountURL == "" {
		return nil, nil
	}
	b, err := json.Marshal(acme.Certificate{CA: ca, Account: accountURL})
	if err != nil {
		return nil, fmt.Errorf("encoding certificate issuer data: %w", err)
	}
	return b, nil
}

// defaultConcurrency is ImportOptions.Concurrency's default.
const defaultConcurrency = 64

// runJobs imports names with a pool of workers. outcomes[i] is nil for jobs
// that did not complete. The first error stops the remaining jobs.
func runJobs(ctx context.Context, storage certmagic.Storage, issuerKey string, jobs []nameJob, workers int) ([]*nameOutcome, error) {
	if workers <= 0 {
		workers = defaultConcurrency
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outcomes := make([]*nameOutcome, len(jobs))
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range min(workers, max(len(jobs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				o, err := importName(ctx, storage, issuerKey, jobs[i])
				if err != nil {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("%s: %w", jobs[i].name, err)
						cancel()
					})
					continue
				}
				outcomes[i] = &o
			}
		}()
	}
	for i := range jobs {
		if ctx.Err() != nil {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return outcomes, firstErr
}

// importName writes the three certmagic files of one name under its lock.
//
// A name whose storage already holds the same certificate with its key and
// metadata is reported unchanged without taking the lock: this is what every
// start after the first finds for every name, and a lock costs a file
// creation and removal (FileStorage) or two round trips (Redis) per name.
// Skipping it is safe because that check writes nothing: should certmagic be
// renewing the name concurrently, it replaces the files itself under the
// lock, and the import would not have written anything either (it never
// replaces a certificate that expires later).
func importName(ctx context.Context, storage certmagic.Storage, issuerKey string, j nameJob) (nameOutcome, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if unchanged(ctx, storage, issuerKey, j) {
		return outcomeUnchanged, nil
	}
	lock := certLockKey(j.name)
	if err := storage.Lock(ctx, lock); err != nil {
		return 0, fmt.Errorf("acquiring storage lock %s: %w", lock, err)
	}
	defer func() {
		// Release even when ctx is cancelled, as certmagic does.
		_ = storage.Unlock(context.WithoutCancel(ctx), lock)
	}()
	certKey := certmagic.StorageKeys.SiteCert(issuerKey, j.name)
	keyKey := certmagic.StorageKeys.SitePrivateKey(issuerKey, j.name)
	metaKey := certmagic.StorageKeys.SiteMeta(issuerKey, j.name)

	existing, err := storage.Load(ctx, certKey)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return 0, fmt.Errorf("loading %s: %w", certKey, err)
	case bytes.Equal(existing, j.cand.entry.Certificate):
		if storage.Exists(ctx, keyKey) && storage.Exists(ctx, metaKey) {
			return outcomeUnchanged, nil
		}
		// A previous import was interrupted: write all three again.
	default:
		if chain, err := acmejson.ParseCertificatePEM(existing); err == nil &&
			!chain[0].NotAfter.Before(j.cand.parsed.Leaf.NotAfter) {
			return outcomeNewer, nil
		}
	}
	// The order and rollback are certmagic's (saveCertResource, storeTx).
	all := []struct {
		key   string
		value []byte
	}{
		{keyKey, j.cand.entry.Key},
		{certKey, j.cand.entry.Certificate},
		{metaKey, j.cand.meta},
	}
	for i, kv := range all {
		if err := storage.Store(ctx, kv.key, kv.value); err != nil {
			for k := i - 1; k >= 0; k-- {
				_ = storage.Delete(context.WithoutCancel(ctx), all[k].key)
			}
			return 0, fmt.Errorf("storing %s: %w", kv.key, err)
		}
	}
	return outcomeImported, nil
}

// unchanged reports whether storage holds exactly j's certificate, its key
// and its metadata. Any error reads as "not known to be unchanged".
func unchanged(ctx context.Context, storage certmagic.Storage, issuerKey string, j nameJob) bool {
	existing, err := storage.Load(ctx, certmagic.StorageKeys.SiteCert(issuerKey, j.name))
	return err == nil && bytes.Equal(existing, j.cand.entry.Certificate) &&
		storage.Exists(ctx, certmagic.StorageKeys.SitePrivateKey(issuerKey, j.name)) &&
		storage.Exists(ctx, certmagic.StorageKeys.SiteMeta(issuerKey, j.name))
}

// importAccount writes the account files, or reports why not.
func importAccount(ctx context.Context, storage certmagic.Storage, issuerKey string, a *acmejson.Account, opts ImportOptions, rep *Report, log *zap.Logger) error {
	if a == nil {
		rep.Account, rep.AccountDetail = AccountNone, ""
		return nil
	}
	files, reason, err := convertAccount(issuerKey, a, opts)
	if err != nil {
		return err
	}
	if reason != "" {
		rep.Account, rep.AccountDetail = AccountSkipped, reason
		log.Warn("not importing acme.json account", zap.String("reason", reason))
		return nil
	}
	regKey, keyKey, regJSON, keyPEM := files.regKey, files.keyKey, files.regJSON, files.keyPEM

	lock := accountLockKey(files.primaryContact)
	if err := storage.Lock(ctx, lock); err != nil {
		return fmt.Errorf("acquiring storage lock %s: %w", lock, err)
	}
	defer func() { _ = storage.Unlock(context.WithoutCancel(ctx), lock) }()

	existingKey, keyErr := storage.Load(ctx, keyKey)
	if keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist) {
		return fmt.Errorf("loading %s: %w", keyKey, keyErr)
	}
	existingReg, regErr := storage.Load(ctx, regKey)
	if regErr != nil && !errors.Is(regErr, fs.ErrNotExist) {
		return fmt.Errorf("loading %s: %w", regKey, regErr)
	}
	sameKey := keyErr == nil && bytes.Equal(bytes.TrimSpace(existingKey), bytes.TrimSpace(keyPEM))
	var stored acme.Account
	sameReg := regErr == nil && json.Unmarshal(existingReg, &stored) == nil && stored.Location == files.location
	switch {
	case sameKey && sameReg:
		rep.Account, rep.AccountDetail = AccountUnchanged, regKey
		return nil
	case (keyErr == nil && !sameKey || regErr == nil && !sameReg) && !opts.OverwriteAccount:
		rep.Account = AccountKept
		rep.AccountDetail = fmt.Sprintf("storage already holds a different account at %s; not overwritten", regKey)
		log.Warn("storage already holds a different acme account; keeping it", zap.String("path", regKey))
		return nil
	}
	// Registration first, key last: certmagic needs both, and reads the
	// key to match an account (GetAccount).
	if err := storage.Store(ctx, regKey, regJSON); err != nil {
		return fmt.Errorf("storing %s: %w", regKey, err)
	}
	if err := storage.Store(ctx, keyKey, keyPEM); err != nil {
		_ = storage.Delete(context.WithoutCancel(ctx), regKey)
		return fmt.Errorf("storing %s: %w", keyKey, err)
	}
	rep.Account, rep.AccountDetail = AccountImported, regKey
	log.Info("imported acme account", zap.String("path", regKey))
	return nil
}

// accountFiles is a Traefik account converted to certmagic's two account
// files.
type accountFiles struct {
	regKey, keyKey  string // storage keys (AccountStorageKeys)
	regJSON, keyPEM []byte // their content
	location        string // the account URL
	primaryContact  string // certmagic's lock name part
}

// convertAccount converts a Traefik account into certmagic's account files
// for issuerKey. A non-empty reason says why the account cannot be used
// (Traefik would not use it either, or it was never registered); err is for
// encoding failures.
func convertAccount(issuerKey string, a *acmejson.Account, opts ImportOptions) (files accountFiles, reason string, err error) {
	key, err := a.Key()
	if err != nil {
		return files, err.Error(), nil
	}
	if a.Registration == nil || a.Registration.URI == "" {
		return files, "account has no registration uri (it was never registered)", nil
	}
	var body acme.Account
	if len(bytes.TrimSpace(a.Registration.Body)) > 0 {
		if err := json.Unmarshal(a.Registration.Body, &body); err != nil {
			return files, fmt.Sprintf("decoding registration body: %v", err), nil
		}
	}
	if body.Status == "" {
		body.Status = "valid"
	}
	if body.Status != "valid" {
		return files, fmt.Sprintf("account status is %q", body.Status), nil
	}
	if opts.CA != "" {
		regURL, err := url.Parse(a.Registration.URI)
		caURL, caErr := url.Parse(opts.CA)
		// Traefik compares host names only; the port is compared too here,
		// because an account URL of another port belongs to another server
		// (which rejects the account's key ID).
		if err != nil || caErr != nil || !strings.EqualFold(hostPort(regURL), hostPort(caURL)) {
			return files, "registration uri host differs from the CA host (traefik discards such an account too)", nil
		}
	}
	body.Location = a.Registration.URI

	email := opts.Email
	if email == "" {
		email = a.Email
	}
	if email == "" {
		email = primaryContact(body.Contact)
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if len(body.Contact) == 0 && email != "" {
		body.Contact = []string{"mailto:" + email}
	}

	regJSON, err := json.MarshalIndent(body, "", "\t")
	if err != nil {
		return files, "", fmt.Errorf("encoding account registration: %w", err)
	}
	keyPEM, err := certmagic.PEMEncodePrivateKey(key)
	if err != nil {
		return files, "", fmt.Errorf("encoding account key: %w", err)
	}
	files.regKey, files.keyKey = AccountStorageKeys(issuerKey, email)
	files.regJSON, files.keyPEM = regJSON, keyPEM
	files.location = body.Location
	files.primaryContact = primaryContact(body.Contact)
	return files, "", nil
}

// primaryContact is certmagic's getPrimaryContact: the first contact
// without its scheme.
func primaryContact(contacts []string) string {
	if len(contacts) == 0 {
		return ""
	}
	c := contacts[0]
	if i := strings.Index(c, ":"); i >= 0 {
		c = c[i+1:]
	}
	return c
}

// hostPort returns u's host and port, with the scheme's default port when
// none is given.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		default:
			port = "443"
		}
	}
	return u.Hostname() + ":" + port
}
