package migrate

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// ExportOptions tunes [Export].
type ExportOptions struct {
	// Names restricts the export to certificates that cover at least one
	// of these names (compared after lower-casing).
	// Default: nil (every certificate under the issuer key).
	Names []string

	// Email selects the account to export.
	// Default: "" (the only account stored under the issuer key, or the
	// most recently modified one, as certmagic picks it).
	Email string

	// Logger receives problems; keys are snake_case and no key material is
	// logged.
	// Default: nil (zap.NewNop()).
	Logger *zap.Logger
}

// AccountExported is ExportReport.Account when the account was exported.
const AccountExported = "exported"

// ExportReport says what [Export] did.
type ExportReport struct {
	// Names lists the names of the exported certificates, in entry order.
	Names []string
	// Skipped lists the storage folders that could not be exported.
	Skipped []Skipped
	// Account is AccountExported, AccountNone (no account stored) or
	// AccountSkipped (see AccountDetail; for example an EC account key,
	// which Traefik cannot read).
	Account string
	// AccountDetail explains Account.
	AccountDetail string
	// IssuedBy maps the main name of each exported certificate to the URL
	// of the ACME account that obtained it, from the certificate metadata
	// (issuer_data.account), when storage records it.
	IssuedBy map[string]string
}

// legoAccount is the account object as Traefik (lego) writes it in
// Registration.body, with lego's field order.
type legoAccount struct {
	Status                 string          `json:"status,omitempty"`
	Contact                []string        `json:"contact,omitempty"`
	TermsOfServiceAgreed   bool            `json:"termsOfServiceAgreed,omitempty"`
	Orders                 string          `json:"orders,omitempty"`
	OnlyReturnExisting     bool            `json:"onlyReturnExisting,omitempty"`
	ExternalAccountBinding json.RawMessage `json:"externalAccountBinding,omitempty"`
}

// exportGroup is one certificate, possibly stored under several names.
type exportGroup struct {
	chain, key []byte
	leaf       acmejson.LeafInfo
	sans       []string // from the first metadata file that has them
	account    string   // issuer_data.account of the first metadata that has it
	dirs       []string // storage folder names (Safe form) holding it
}

// Export builds a Traefik resolver entry from what certmagic stores under
// issuerKey, for rolling back to Traefik: one certificate entry per distinct
// certificate (a certificate stored under several names, as [Import] writes
// it, becomes one entry), with domain.main and domain.sans taken from the
// certificate metadata's "sans" restricted to the names it is stored under,
// certificate = the PEM chain and key = the PEM key as stored, Store
// "default"; entries are sorted by main name. The account (see
// ExportOptions.Email) is included only when its key is RSA, since Traefik
// reads account keys as PKCS#1 RSA only; otherwise Account is nil and the
// report says why. Folders without a readable certificate and matching key
// are skipped and reported. Certificates is never nil.
func Export(ctx context.Context, storage certmagic.Storage, issuerKey string, opts ExportOptions) (*acmejson.Resolver, ExportReport, error) {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("traefik_export").With(zap.String("issuer", issuerKey))
	rep := ExportReport{Account: AccountNone}
	res := &acmejson.Resolver{Certificates: []*acmejson.Certificate{}}
	if storage == nil {
		return nil, rep, errors.New("exporting to acme.json: storage is nil")
	}
	if issuerKey == "" {
		return nil, rep, errors.New("exporting to acme.json: issuer key is empty")
	}

	account, status, detail, err := exportAccount(ctx, storage, issuerKey, opts.Email)
	if err != nil {
		return nil, rep, fmt.Errorf("exporting to acme.json: %w", err)
	}
	res.Account, rep.Account, rep.AccountDetail = account, status, detail
	if status == AccountSkipped {
		log.Warn("not exporting acme account", zap.String("reason", detail))
	}

	groups, skipped, err := loadGroups(ctx, storage, issuerKey)
	if err != nil {
		return nil, rep, fmt.Errorf("exporting to acme.json: %w", err)
	}
	for _, s := range skipped {
		log.Warn("skipping stored certificate", zap.Strings("domain", s.Names), zap.String("reason", s.Reason))
	}
	rep.Skipped = skipped

	want := acmejson.NormalizeNames(opts.Names)
	type entry struct {
		names []string
		g     *exportGroup
	}
	var entries []entry
	for _, g := range groups {
		names, unmapped := groupNames(g)
		for _, d := range unmapped {
			rep.Skipped = append(rep.Skipped, Skipped{Names: []string{d}, Reason: "storage folder matches no name of its certificate"})
		}
		if len(names) == 0 {
			continue
		}
		if len(want) > 0 && !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(want, n) }) {
			continue
		}
		entries = append(entries, entry{names, g})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.names[0], b.names[0]) })
	for _, e := range entries {
		c := &acmejson.Certificate{
			Domain:      acmejson.Domain{Main: e.names[0]},
			Certificate: e.g.chain,
			Key:         e.g.key,
			Store:       acmejson.DefaultStore,
		}
		if len(e.names) > 1 {
			c.Domain.SANs = slices.Clone(e.names[1:])
		}
		res.Certificates = append(res.Certificates, c)
		rep.Names = append(rep.Names, e.names...)
		if e.g.account != "" {
			if rep.IssuedBy == nil {
				rep.IssuedBy = map[string]string{}
			}
			rep.IssuedBy[e.names[0]] = e.g.account
		}
	}
	return res, rep, nil
}

// loadGroups reads every certificate folder under the issuer key and groups
// folders holding the same certificate.
func loadGroups(ctx context.Context, storage certmagic.Storage, issuerKey string) ([]*exportGroup, []Skipped, error) {
	sites, err := storage.List(ctx, certmagic.StorageKeys.CertsPrefix(issuerKey), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing certificates: %w", err)
	}
	slices.Sort(sites)
	var (
		groups  []*exportGroup
		byChain = map[string]*exportGroup{}
		skipped []Skipped
	)
	for _, site := range sites {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		dir := path.Base(site)
		chain, err := storage.Load(ctx, certmagic.StorageKeys.SiteCert(issuerKey, dir))
		if errors.Is(err, fs.ErrNotExist) {
			skipped = append(skipped, Skipped{Names: []string{dir}, Reason: "no certificate file"})
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("loading certificate %s: %w", dir, err)
		}
		key, err := storage.Load(ctx, certmagic.StorageKeys.SitePrivateKey(issuerKey, dir))
		if errors.Is(err, fs.ErrNotExist) {
			skipped = append(skipped, Skipped{Names: []string{dir}, Reason: "no private key file"})
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("loading private key %s: %w", dir, err)
		}
		p, err := (&acmejson.Certificate{Certificate: chain, Key: key}).Parse()
		if err != nil {
			skipped = append(skipped, Skipped{Names: []string{dir}, Reason: err.Error()})
			continue
		}
		var res certmagic.CertificateResource
		if meta, err := storage.Load(ctx, certmagic.StorageKeys.SiteMeta(issuerKey, dir)); err == nil {
			_ = json.Unmarshal(meta, &res) // metadata is optional
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("loading metadata %s: %w", dir, err)
		}
		id := string(bytes.TrimSpace(chain))
		g := byChain[id]
		if g == nil {
			g = &exportGroup{chain: chain, key: key, leaf: p.Leaf}
			byChain[id] = g
			groups = append(groups, g)
		}
		if len(g.sans) == 0 {
			g.sans = acmejson.NormalizeNames(res.SANs)
		}
		if g.account == "" && len(res.IssuerData) > 0 {
			var data struct {
				Account string `json:"account"`
			}
			if json.Unmarshal(res.IssuerData, &data) == nil {
				g.account = data.Account
			}
		}
		g.dirs = append(g.dirs, dir)
	}
	return groups, skipped, nil
}

// groupNames returns the names a certificate is served for: its metadata
// SANs (in order) that it is stored under, then the certificate's own names
// matching the other folders. Folders matching no name are returned apart.
func groupNames(g *exportGroup) (names, unmapped []string) {
	used := map[string]bool{}
	add := func(n string) {
		d := certmagic.StorageKeys.Safe(n)
		if slices.Contains(g.dirs, d) && !used[d] {
			used[d] = true
			names = append(names, n)
		}
	}
	for _, n := range g.sans {
		add(n)
	}
	for _, n := range g.leaf.Names {
		add(n)
	}
	for _, d := range g.dirs {
		if !used[d] {
			unmapped = append(unmapped, d)
		}
	}
	return names, unmapped
}

// exportAccount reads the account stored for email (or the one certmagic
// would pick) and converts it to Traefik's form.
func exportAccount(ctx context.Context, storage certmagic.Storage, issuerKey, email string) (*acmejson.Account, string, string, error) {
	detail := ""
	if email == "" {
		folder, n, err := latestAccountFolder(ctx, storage, issuerKey)
		if err != nil {
			return nil, "", "", err
		}
		if folder == "" {
			return nil, AccountNone, "no account stored for this issuer", nil
		}
		email = folder
		if n > 1 {
			detail = fmt.Sprintf("%d accounts stored; exported the most recently modified (%s)", n, folder)
		}
	}
	regKey, keyKey := AccountStorageKeys(issuerKey, email)
	regJSON, err := storage.Load(ctx, regKey)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, AccountNone, "no account stored at " + regKey, nil
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("loading %s: %w", regKey, err)
	}
	keyPEM, err := storage.Load(ctx, keyKey)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, AccountSkipped, "account has no private key at " + keyKey, nil
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("loading %s: %w", keyKey, err)
	}
	var reg acme.Account
	if err := json.Unmarshal(regJSON, &reg); err != nil {
		return nil, AccountSkipped, fmt.Sprintf("decoding %s: %v", regKey, err), nil
	}
	key, err := certmagic.PEMDecodePrivateKey(keyPEM)
	if err != nil {
		return nil, AccountSkipped, fmt.Sprintf("decoding account key %s: %v (redacted)", keyKey, err), nil
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, AccountSkipped, fmt.Sprintf("account key is %s; traefik can only read RSA account keys (PKCS#1), so traefik will register a new account", acmejson.KeyTypeName(key)), nil
	}
	if reg.Location == "" {
		return nil, AccountSkipped, "account has no location (it was never registered)", nil
	}
	der, err := acmejson.EncodeAccountKey(rsaKey)
	if err != nil {
		return nil, "", "", err
	}
	body, err := json.Marshal(legoAccount{
		Status:                 reg.Status,
		Contact:                reg.Contact,
		TermsOfServiceAgreed:   reg.TermsOfServiceAgreed,
		Orders:                 reg.Orders,
		ExternalAccountBinding: reg.ExternalAccountBinding,
	})
	if err != nil {
		return nil, "", "", fmt.Errorf("encoding registration body: %w", err)
	}
	accountEmail := primaryContact(reg.Contact)
	if accountEmail == "" && email != emptyEmail {
		accountEmail = email
	}
	if detail == "" {
		detail = regKey
	}
	return &acmejson.Account{
		Email:        accountEmail,
		Registration: &acmejson.Registration{Body: body, URI: reg.Location},
		PrivateKey:   der,
	}, AccountExported, detail, nil
}

// latestAccountFolder returns the name of the account folder certmagic
// would use without a configured email (the most recently modified one),
// and how many there are.
func latestAccountFolder(ctx context.Context, storage certmagic.Storage, issuerKey string) (string, int, error) {
	folders, err := storage.List(ctx, accountsPrefix(issuerKey), false)
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("listing accounts: %w", err)
	}
	var (
		best  string
		bestI certmagic.KeyInfo
		n     int
	)
	for _, f := range folders {
		info, err := storage.Stat(ctx, f)
		if err != nil || info.IsTerminal {
			continue
		}
		n++
		if best == "" || info.Modified.After(bestI.Modified) {
			best, bestI = f, info
		}
	}
	if best == "" {
		return "", 0, nil
	}
	return path.Base(best), n, nil
}
