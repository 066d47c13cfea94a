package migrate

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// knownCAs maps the host of an ACME account URL to the directory URL of
// the public CA that issues such URLs. Only CAs with a single ACME
// directory per host are listed: for them the account URL says which
// directory the account (and so its certificates) belongs to.
var knownCAs = map[string]string{
	"acme-v02.api.letsencrypt.org":         "https://acme-v02.api.letsencrypt.org/directory",
	"acme-staging-v02.api.letsencrypt.org": "https://acme-staging-v02.api.letsencrypt.org/directory",
	"acme.zerossl.com":                     "https://acme.zerossl.com/v2/DV90",
	"api.buypass.com":                      "https://api.buypass.com/acme/directory",
	"api.test4.buypass.no":                 "https://api.test4.buypass.no/acme/directory",
	"dv.acme-v02.api.pki.goog":             "https://dv.acme-v02.api.pki.goog/directory",
	"dv.acme-v02.test-api.pki.goog":        "https://dv.acme-v02.test-api.pki.goog/directory",
}

// ErrUnknownCA is wrapped by [CAFromAccount] when the CA of an account cannot
// be told from the file.
var ErrUnknownCA = errors.New("the CA cannot be told from the file")

// CAFromAccount returns the ACME directory URL of the CA a Traefik account
// is registered with, read from its registration URI (Traefik's own rule:
// an account belongs to the CA whose host its URI has). Let's Encrypt's
// ACMEv1 URIs count as their ACMEv2 successors. It fails, wrapping
// [ErrUnknownCA] and saying why, when there is no account or registration
// URI, or when the URI's host is not one of the public CAs whose directory
// URL is known (a private CA's directory path cannot be derived from an
// account URL); the caller then has to be told the CA.
//
// Certificates are stored under the issuer key of that CA, so a guess would
// file them under the wrong CA (staging certificates served as production
// ones): there is no default.
func CAFromAccount(a *acmejson.Account) (string, error) {
	if a == nil {
		return "", fmt.Errorf("%w: the resolver has no account", ErrUnknownCA)
	}
	if a.Registration == nil || a.Registration.URI == "" {
		return "", fmt.Errorf("%w: the account has no registration uri", ErrUnknownCA)
	}
	uri := acmejson.UpgradeACMEv1URL(a.Registration.URI)
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%w: the registration uri %q does not parse", ErrUnknownCA, a.Registration.URI)
	}
	if ca, ok := knownCAs[strings.ToLower(u.Hostname())]; ok && (u.Port() == "" || u.Port() == "443") {
		return ca, nil
	}
	return "", fmt.Errorf("%w: the account is registered at %s, whose directory URL is not known", ErrUnknownCA, u.Host)
}
