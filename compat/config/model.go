// Package config models Traefik's static configuration for ACME certificate
// resolvers (certificatesResolvers.<name>.acme) and entry points, with
// Traefik's defaults and validation rules.
//
// The model has two spellings. The `traefik` struct tags carry Traefik's own
// key names (matched case-insensitively, as Traefik's paerser does), used when
// reading traefik.yml, traefik.toml, CLI flags and TRAEFIK_* env. The `json`
// tags carry the snake_case names of the Caddy JSON configuration of the
// traefik_acme app.
//
// This package imports only the standard library and one YAML and one TOML
// decoder; it knows nothing of Caddy or certmagic.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Let's Encrypt directory URLs, as Traefik knows them.
const (
	// LetsEncryptProduction is Traefik's default caServer.
	LetsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory"
	// LetsEncryptStaging is Let's Encrypt's staging directory.
	LetsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// Key types accepted by Traefik's keyType option, in Traefik's spelling.
const (
	KeyTypeEC256   = "EC256"
	KeyTypeEC384   = "EC384"
	KeyTypeRSA2048 = "RSA2048"
	KeyTypeRSA4096 = "RSA4096"
	KeyTypeRSA8192 = "RSA8192"
)

// KeyTypes lists the allowed keyType values in the order Traefik documents them.
var KeyTypes = []string{KeyTypeEC256, KeyTypeEC384, KeyTypeRSA2048, KeyTypeRSA4096, KeyTypeRSA8192}

// DefaultCertificatesDuration is Traefik's default certificatesDuration, in hours.
const DefaultCertificatesDuration = 2160

// Static is the part of Traefik's static configuration this module reads:
// entry points and certificate resolvers.
type Static struct {
	// EntryPoints maps an entry point name to its definition.
	EntryPoints map[string]*EntryPoint `json:"entrypoints,omitempty" traefik:"entryPoints"`

	// CertificatesResolvers maps a resolver name to its definition.
	CertificatesResolvers map[string]*CertificateResolver `json:"resolvers,omitempty" traefik:"certificatesResolvers"`

	// Problems maps the name of a resolver that Traefik loads but could not
	// obtain a certificate with (no challenge, dnsChallenge without
	// provider, httpChallenge on an undefined entry point …) to the error
	// that says why, naming the resolver and the Traefik key. Such a
	// resolver stays in CertificatesResolvers: Traefik fails only when a
	// router asks it for a certificate, so a broken resolver that nothing
	// uses must not stop anything. See ResolverProblem.
	Problems map[string]error `json:"-" traefik:"-"`

	// internalEntryPoint is set when the source enables something that
	// Traefik serves on its internal entry point (api.insecure …).
	internalEntryPoint bool
}

// ResolverProblem returns the error of a resolver that cannot obtain
// certificates (see Problems), or nil when it can or is not defined.
func (s *Static) ResolverProblem(name string) error {
	if s == nil {
		return nil
	}
	return s.Problems[name]
}

// DefaultEntryPointName and DefaultEntryPointAddress are the entry point
// Traefik creates when the configuration defines none.
const (
	DefaultEntryPointName    = "http"
	DefaultEntryPointAddress = ":80"
)

// InternalEntryPointName and InternalEntryPointAddress are Traefik's
// internal entry point, created for api.insecure, ping, the Prometheus
// metrics and providers.rest.insecure when they do not name another one.
const (
	InternalEntryPointName    = "traefik"
	InternalEntryPointAddress = ":8080"
)

// EntryPoint is a Traefik entry point: a named listening address.
type EntryPoint struct {
	// Address is the listen address, such as ":80" or "127.0.0.1:8080".
	Address string `json:"address,omitempty" traefik:"address"`
}

// Port returns the TCP port of the entry point's address, or 0 if the address
// has none that parses.
func (e *EntryPoint) Port() int {
	if e == nil {
		return 0
	}
	addr := strings.TrimSuffix(strings.TrimSuffix(e.Address, "/tcp"), "/udp")
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	if port == "" || strings.Trim(port, "0123456789") != "" {
		return 0
	}
	p, err := strconv.Atoi(port)
	if err != nil || p > 65535 {
		return 0
	}
	return p
}

// CertificateResolver is one entry of certificatesResolvers. Only the acme
// kind is supported (Traefik v3 also knows tailscale).
type CertificateResolver struct {
	// ACME configures an ACME certificate resolver.
	ACME *ACME `json:"acme,omitempty" traefik:"acme"`
}

// ACME is certificatesResolvers.<name>.acme: Traefik's acme.Configuration.
type ACME struct {
	// Email is the address used to register the ACME account. Default: "".
	Email string `json:"email,omitempty" traefik:"email"`

	// CAServer is the ACME directory URL. Legacy ACME v1 URLs of Let's
	// Encrypt are rewritten to v2, as Traefik does.
	// Default: https://acme-v02.api.letsencrypt.org/directory
	CAServer string `json:"ca_server,omitempty" traefik:"caServer"`

	// Storage is the path of the resolver's acme.json file. Caddy's storage
	// stays the source of truth; this file is imported at start and kept up
	// to date with every certificate Caddy obtains. Default: acme.json
	Storage string `json:"storage,omitempty" traefik:"storage"`

	// KeyType is the certificate key type: EC256, EC384, RSA2048, RSA4096 or
	// RSA8192 (case-sensitive, as in Traefik). Default: RSA4096
	KeyType string `json:"key_type,omitempty" traefik:"keyType"`

	// PreferredChain is the Common Name of the root (the issuer of the last
	// certificate of the chain) of the chain to prefer when the CA offers
	// alternates. Default: "" (the CA's default chain).
	PreferredChain string `json:"preferred_chain,omitempty" traefik:"preferredChain"`

	// EAB holds External Account Binding credentials. Both fields are needed.
	EAB *EAB `json:"eab,omitempty" traefik:"eab"`

	// CertificatesDuration is the lifetime, in hours, of the certificates the
	// CA issues. It chooses when certificates are renewed (Traefik's renewal
	// table); it does not ask the CA for that lifetime. Default: 2160
	CertificatesDuration int `json:"certificates_duration,omitempty" traefik:"certificatesDuration"`

	// CACertificates are paths of PEM files with extra root certificates
	// trusted when talking to the ACME server. When unset, the
	// LEGO_CA_CERTIFICATES env var (paths separated by ':') is used.
	CACertificates []string `json:"ca_certificates,omitempty" traefik:"caCertificates"`

	// CASystemCertPool starts the trusted pool from the system roots when
	// CACertificates are set. When unset, LEGO_CA_SYSTEM_CERT_POOL is used.
	// Default: false
	CASystemCertPool bool `json:"ca_system_cert_pool,omitempty" traefik:"caSystemCertPool"`

	// CAServerName is the TLS server name used to verify the ACME server.
	// When unset, LEGO_CA_SERVER_NAME is used. Default: "" (the URL's host).
	CAServerName string `json:"ca_server_name,omitempty" traefik:"caServerName"`

	// ClientTimeout bounds a whole HTTP transaction with the CA.
	// Default: 2m
	ClientTimeout Duration `json:"client_timeout,omitempty" traefik:"clientTimeout"`

	// ClientResponseHeaderTimeout bounds the wait for the CA's response
	// headers. Default: 30s
	ClientResponseHeaderTimeout Duration `json:"client_response_header_timeout,omitempty" traefik:"clientResponseHeaderTimeout"`

	// CertificateTimeout bounds the wait for an order to be finalized and
	// the certificate issued. Default: 30s
	CertificateTimeout Duration `json:"certificate_timeout,omitempty" traefik:"certificateTimeout"`

	// Profile is the ACME certificate profile to request. Default: "" (the
	// CA's default profile).
	Profile string `json:"profile,omitempty" traefik:"profile"`

	// EmailAddresses are email addresses added to the CSR as SANs.
	EmailAddresses []string `json:"email_addresses,omitempty" traefik:"emailAddresses"`

	// DisableCommonName leaves the Common Name out of the CSR.
	// Default: false
	DisableCommonName bool `json:"disable_common_name,omitempty" traefik:"disableCommonName"`

	// HTTPChallenge enables the HTTP-01 challenge.
	HTTPChallenge *HTTPChallenge `json:"http_challenge,omitempty" traefik:"httpChallenge,allowEmpty"`

	// TLSChallenge enables the TLS-ALPN-01 challenge.
	TLSChallenge *TLSChallenge `json:"tls_challenge,omitempty" traefik:"tlsChallenge,allowEmpty"`

	// DNSChallenge enables the DNS-01 challenge.
	DNSChallenge *DNSChallenge `json:"dns_challenge,omitempty" traefik:"dnsChallenge,allowEmpty"`

	// OrderRateLimit replaces certmagic's limit on new orders per ACME
	// account (10 per 10 s) for this resolver's account: raise it for a
	// private CA or a test CA that can take more. Not a Traefik option
	// (lego has no such limiter); Caddyfile and JSON only. Default: nil
	// (certmagic's limit, which is right for Let's Encrypt).
	OrderRateLimit *RateLimit `json:"order_rate_limit,omitempty" traefik:"-"`
}

// RateLimit is a sliding-window limit: at most Events in any Window.
type RateLimit struct {
	// Events is the number of orders allowed per window, at least 1.
	Events int `json:"events"`

	// Window is the length of the sliding window, more than 0.
	Window Duration `json:"window"`
}

// EAB holds External Account Binding credentials.
type EAB struct {
	// KID is the key identifier given by the CA.
	KID string `json:"kid,omitempty" traefik:"kid"`

	// HMACEncoded is the base64url-encoded HMAC key given by the CA. Secret:
	// it is never logged or shown in errors.
	HMACEncoded string `json:"hmac_encoded,omitempty" traefik:"hmacEncoded,secret"`
}

// HTTPChallenge configures HTTP-01.
type HTTPChallenge struct {
	// EntryPoint names the entry point that answers HTTP-01 challenges. Its
	// port is where Caddy answers them.
	EntryPoint string `json:"entry_point,omitempty" traefik:"entryPoint"`

	// Delay waits this long after the challenge is ready before asking the
	// CA to validate it. Default: 0
	Delay Duration `json:"delay,omitempty" traefik:"delay"`
}

// TLSChallenge configures TLS-ALPN-01.
type TLSChallenge struct {
	// Delay waits this long after the challenge is ready before asking the
	// CA to validate it. Default: 0
	Delay Duration `json:"delay,omitempty" traefik:"delay"`
}

// DNSChallenge configures DNS-01.
type DNSChallenge struct {
	// Provider is the lego DNS provider code, such as cloudflare. Its
	// credentials come from lego's environment variables.
	Provider string `json:"provider,omitempty" traefik:"provider"`

	// Resolvers are the host:port DNS resolvers used for the zone lookup and
	// the propagation checks.
	Resolvers []string `json:"resolvers,omitempty" traefik:"resolvers"`

	// DelayBeforeCheck is deprecated since Traefik v3.3: use
	// Propagation.DelayBeforeChecks. It is copied there.
	DelayBeforeCheck Duration `json:"delay_before_check,omitempty" traefik:"delayBeforeCheck"`

	// DisablePropagationCheck is deprecated since Traefik v3.3: use
	// Propagation.DisableChecks. It is copied there.
	DisablePropagationCheck bool `json:"disable_propagation_check,omitempty" traefik:"disablePropagationCheck"`

	// Propagation tunes the propagation checks.
	Propagation *Propagation `json:"propagation,omitempty" traefik:"propagation,allowEmpty"`

	// Env sets lego environment variables for this resolver's provider
	// only, overriding the process environment. Values may use Caddy
	// placeholders such as {env.MY_TOKEN}. Not a Traefik option.
	Env map[string]string `json:"env,omitempty" traefik:"-"`
}

// Propagation tunes DNS propagation checks (Traefik v3.3+).
type Propagation struct {
	// DelayBeforeChecks waits this long after the record is created before
	// checking for it. Default: 0
	DelayBeforeChecks Duration `json:"delay_before_checks,omitempty" traefik:"delayBeforeChecks"`

	// DisableChecks skips all propagation checks (after the delay).
	DisableChecks bool `json:"disable_checks,omitempty" traefik:"disableChecks"`

	// DisableANSChecks skips the check against the authoritative name
	// servers.
	DisableANSChecks bool `json:"disable_ans_checks,omitempty" traefik:"disableANSChecks"`

	// RequireAllRNS requires the record on all recursive name servers.
	RequireAllRNS bool `json:"require_all_rns,omitempty" traefik:"requireAllRNS"`
}

// Warning is a non-fatal finding about a configuration, such as a
// deprecated option that was mapped to its replacement.
type Warning struct {
	// Path is the full Traefik key path at fault.
	Path string
	// Message says what happened and what to do.
	Message string
}

func (w Warning) String() string { return w.Path + ": " + w.Message }

// SetDefaults fills unset options with Traefik's defaults
// (acme.Configuration.SetDefaults): caServer, storage, keyType,
// certificatesDuration and the client timeouts. Then it does what Traefik's
// static configuration does before a resolver is used
// (static.Configuration.SetEffectiveConfiguration and the ACME provider),
// returning a warning for each change, naming the key:
//
//   - legacy Let's Encrypt v1 directory URLs are rewritten to v2
//     (RewriteLegacyCAServer);
//   - the deprecated dnsChallenge.delayBeforeCheck, when above 0, is copied
//     over propagation.delayBeforeChecks (the deprecated one wins, as in
//     Traefik), and dnsChallenge.disablePropagationCheck sets
//     propagation.disableChecks. The deprecated fields keep their values,
//     as in Traefik; only Propagation is read afterwards;
//   - a keyType other than the five Traefik knows (EC256, EC384, RSA2048,
//     RSA4096, RSA8192, case-sensitive) becomes RSA4096, the key type
//     Traefik then uses;
//   - a negative delay is kept but waits for nothing, as in lego: a
//     warning says so.
//
// path is the resolver's key path (certificatesResolvers.<name>.acme).
func (a *ACME) SetDefaults(path string) []Warning {
	var warns []Warning
	if a.CAServer == "" {
		a.CAServer = LetsEncryptProduction
	}
	if rewritten, ok := RewriteLegacyCAServer(a.CAServer); ok {
		warns = append(warns, Warning{Path: path + ".caServer", Message: fmt.Sprintf("%s refers to a v01 endpoint of Let's Encrypt's ACME API; using %s, as Traefik does", a.CAServer, rewritten)})
		a.CAServer = rewritten
	}
	if a.Storage == "" {
		a.Storage = "acme.json"
	}
	switch {
	case a.KeyType == "":
		a.KeyType = KeyTypeRSA4096
	case !contains(KeyTypes, a.KeyType):
		warns = append(warns, Warning{Path: path + ".keyType", Message: fmt.Sprintf("unknown key type %q (allowed: %s, case-sensitive); using RSA4096, as Traefik does", a.KeyType, strings.Join(KeyTypes, ", "))})
		a.KeyType = KeyTypeRSA4096
	}
	if a.CertificatesDuration == 0 {
		a.CertificatesDuration = DefaultCertificatesDuration
	}
	if a.ClientTimeout == 0 {
		a.ClientTimeout = Duration(2 * time.Minute)
	}
	if a.ClientResponseHeaderTimeout == 0 {
		a.ClientResponseHeaderTimeout = Duration(30 * time.Second)
	}
	if a.CertificateTimeout == 0 {
		a.CertificateTimeout = Duration(30 * time.Second)
	}
	negative := func(key string, d Duration) {
		if d < 0 {
			warns = append(warns, Warning{Path: path + "." + key, Message: fmt.Sprintf("negative (%s): waits for nothing, as in Traefik", d)})
		}
	}
	if h := a.HTTPChallenge; h != nil {
		negative("httpChallenge.delay", h.Delay)
	}
	if t := a.TLSChallenge; t != nil {
		negative("tlsChallenge.delay", t.Delay)
	}
	if d := a.DNSChallenge; d != nil {
		warns = append(warns, d.setEffective(path+".dnsChallenge")...)
		if p := d.Propagation; p != nil {
			negative("dnsChallenge.propagation.delayBeforeChecks", p.DelayBeforeChecks)
		}
	}
	return warns
}

// setEffective copies the deprecated DNS options into Propagation as
// Traefik's SetEffectiveConfiguration does: disablePropagationCheck sets
// disableChecks; delayBeforeCheck, when above 0, replaces
// delayBeforeChecks (a negative or zero one is ignored).
func (d *DNSChallenge) setEffective(path string) []Warning {
	var warns []Warning
	if d.DisablePropagationCheck {
		if d.Propagation == nil {
			d.Propagation = &Propagation{}
		}
		d.Propagation.DisableChecks = true
		warns = append(warns, Warning{Path: path + ".disablePropagationCheck", Message: "deprecated since Traefik v3.3; use dnsChallenge.propagation.disableChecks"})
	}
	switch {
	case d.DelayBeforeCheck > 0:
		msg := "deprecated since Traefik v3.3; use dnsChallenge.propagation.delayBeforeChecks"
		if d.Propagation != nil && d.Propagation.DelayBeforeChecks != 0 && d.Propagation.DelayBeforeChecks != d.DelayBeforeCheck {
			msg += fmt.Sprintf(". It is set together with propagation.delayBeforeChecks (%s); the deprecated %s wins, as in Traefik", d.Propagation.DelayBeforeChecks, d.DelayBeforeCheck)
		}
		if d.Propagation == nil {
			d.Propagation = &Propagation{}
		}
		d.Propagation.DelayBeforeChecks = d.DelayBeforeCheck
		warns = append(warns, Warning{Path: path + ".delayBeforeCheck", Message: msg})
	case d.DelayBeforeCheck < 0:
		warns = append(warns, Warning{Path: path + ".delayBeforeCheck", Message: fmt.Sprintf("negative (%s) and deprecated since Traefik v3.3: ignored, as Traefik ignores it", d.DelayBeforeCheck)})
	}
	return warns
}

// RewriteLegacyCAServer maps Let's Encrypt's ACME v1 directory URLs to v2
// with Traefik's exact rule (getSafeACMECAServer): a URL that starts with
// https://acme-v01.api.letsencrypt.org gets its first "v01" replaced by
// "v02"; one that starts with https://acme-staging.api.letsencrypt.org gets
// that prefix replaced by https://acme-staging-v02.api.letsencrypt.org. The
// rest of the URL (path, query) is kept. It reports whether it changed the
// URL.
func RewriteLegacyCAServer(ca string) (string, bool) {
	const (
		v1Production = "https://acme-v01.api.letsencrypt.org"
		v1Staging    = "https://acme-staging.api.letsencrypt.org"
	)
	switch {
	case strings.HasPrefix(ca, v1Production):
		return strings.Replace(ca, "v01", "v02", 1), true
	case strings.HasPrefix(ca, v1Staging):
		return "https://acme-staging-v02.api.letsencrypt.org" + ca[len(v1Staging):], true
	}
	return ca, false
}

// ResolverError is one problem of a resolver found by Validate. Its Error
// is `resolver "<name>": <key>: <message>`; it never contains a secret.
type ResolverError struct {
	// Resolver is the resolver's name.
	Resolver string
	// Key is the Traefik option at fault, relative to the resolver's acme
	// block, such as dnsChallenge.provider ("acme" for the block itself).
	Key string
	// Message says what is wrong and what to do.
	Message string
}

func (e *ResolverError) Error() string {
	return fmt.Sprintf("resolver %q: %s: %s", e.Resolver, e.Key, e.Message)
}

// ProblemKeys returns the Traefik keys named by the ResolverErrors in err
// (one error, or several joined with errors.Join), in order, each once.
func ProblemKeys(err error) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if re, ok := err.(*ResolverError); ok {
			if !seen[re.Key] {
				seen[re.Key] = true
				out = append(out, re.Key)
			}
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// Validate checks one resolver after SetDefaults. name is the resolver's
// name and entryPoints the defined entry points (nil means "not known here":
// the entry point reference is not checked). Every error names the resolver
// and the Traefik option at fault: it is a *ResolverError, or several
// joined with errors.Join (see ProblemKeys).
func (a *ACME) Validate(name string, entryPoints map[string]*EntryPoint) error {
	var errs []error
	fail := func(opt, format string, args ...any) {
		errs = append(errs, &ResolverError{Resolver: name, Key: opt, Message: fmt.Sprintf(format, args...)})
	}
	if a.CAServer != "" {
		u, err := url.Parse(a.CAServer)
		if err != nil || u.Scheme == "" || u.Host == "" {
			fail("caServer", "%q is not an absolute URL", a.CAServer)
		}
	}
	if a.KeyType != "" && !contains(KeyTypes, a.KeyType) {
		// SetDefaults normalises it; only a resolver that skipped
		// SetDefaults gets here.
		fail("keyType", "unknown key type %q; allowed: %s", a.KeyType, strings.Join(KeyTypes, ", "))
	}
	if a.EAB != nil && (a.EAB.KID == "") != (a.EAB.HMACEncoded == "") {
		if a.EAB.KID == "" {
			fail("eab.kid", "missing: eab needs both kid and hmacEncoded")
		} else {
			fail("eab.hmacEncoded", "missing: eab needs both kid and hmacEncoded")
		}
	}
	if a.CertificatesDuration < 1 {
		fail("certificatesDuration", "must be at least 1 hour, got %d", a.CertificatesDuration)
	}
	for _, d := range []struct {
		opt string
		v   Duration
	}{
		{"clientTimeout", a.ClientTimeout},
		{"clientResponseHeaderTimeout", a.ClientResponseHeaderTimeout},
		{"certificateTimeout", a.CertificateTimeout},
	} {
		if d.v < 0 {
			fail(d.opt, "must not be negative, got %s", d.v)
		}
	}
	if r := a.OrderRateLimit; r != nil && (r.Events < 1 || r.Window <= 0) {
		fail("order_rate_limit", "needs at least 1 event per window and a window longer than 0, got %d per %s", r.Events, r.Window)
	}
	if a.ClientTimeout > 0 && a.ClientResponseHeaderTimeout > a.ClientTimeout {
		fail("clientTimeout", "%s must be at least clientResponseHeaderTimeout (%s)", a.ClientTimeout, a.ClientResponseHeaderTimeout)
	}
	if a.HTTPChallenge == nil && a.TLSChallenge == nil && a.DNSChallenge == nil {
		fail("acme", "no challenge configured: set one of httpChallenge, tlsChallenge or dnsChallenge")
	}
	if h := a.HTTPChallenge; h != nil {
		if h.EntryPoint == "" {
			fail("httpChallenge.entryPoint", "required to enable the HTTP-01 challenge")
		} else if entryPoints != nil {
			ep, ok := entryPoints[h.EntryPoint]
			if !ok {
				fail("httpChallenge.entryPoint", "entry point %q is not defined; defined: %s", h.EntryPoint, listOrNone(keys(entryPoints)))
			} else if ep.Port() == 0 {
				fail("httpChallenge.entryPoint", "entry point %q has no port in its address %q", h.EntryPoint, ep.Address)
			}
		}
	}
	if d := a.DNSChallenge; d != nil {
		if d.Provider == "" {
			fail("dnsChallenge.provider", "required to enable the DNS-01 challenge (a lego provider code such as cloudflare)")
		}
		for i, r := range d.Resolvers {
			if !validResolver(r) {
				fail(fmt.Sprintf("dnsChallenge.resolvers[%d]", i), "%q is not a host or host:port", r)
			}
		}
	}
	return errors.Join(errs...)
}

// validResolver reports whether r is a DNS resolver address lego and
// certmagic can use: host:port, or a host alone (port 53 is added when it
// is used, as lego's ParseNameservers and certmagic do). An empty entry
// (a trailing comma) is skipped by both.
func validResolver(r string) bool {
	if r == "" {
		return true
	}
	host, port, err := net.SplitHostPort(r)
	if err != nil {
		host, port = r, "53"
		if ip := net.ParseIP(strings.Trim(r, "[]")); ip != nil {
			return true
		}
	}
	if host == "" || strings.ContainsAny(host, " /\\@") {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p > 0 && p <= 65535
}

// RenewalWindow returns how long before expiry Traefik renews a certificate
// of the given certificatesDuration (hours), per Traefik v3.6+'s table.
func RenewalWindow(certificatesDurationHours int) time.Duration {
	h := certificatesDurationHours
	switch {
	case h >= 8760:
		return 4 * 30 * 24 * time.Hour
	case h >= 2160:
		return 30 * 24 * time.Hour
	case h >= 720:
		return 10 * 24 * time.Hour
	case h >= 144:
		return 2 * 24 * time.Hour
	case h >= 24:
		return 6 * time.Hour
	default:
		return 20 * time.Minute
	}
}

// RenewalRatio expresses RenewalWindow as a fraction of the certificate
// lifetime (certmagic's renewal window ratio): renew when the remaining
// lifetime is below ratio × lifetime.
func RenewalRatio(certificatesDurationHours int) float64 {
	if certificatesDurationHours < 1 {
		certificatesDurationHours = DefaultCertificatesDuration
	}
	life := time.Duration(certificatesDurationHours) * time.Hour
	r := float64(RenewalWindow(certificatesDurationHours)) / float64(life)
	if r >= 1 {
		r = 0.99
	}
	return r
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}
