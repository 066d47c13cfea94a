package migrate

import (
	"net/url"
	"path"
	"strings"

	"github.com/caddyserver/certmagic"
)

// IssuerKeyFromCA returns the certmagic issuer key of an ACME CA directory
// URL, exactly as certmagic's ACMEIssuer.IssuerKey() computes it: the URL's
// host, plus "-" and the path with "/" and "\" turned into "-" and trimmed
// of "-" when the path is not empty ("https://acme-v02.api.letsencrypt.org/directory"
// → "acme-v02.api.letsencrypt.org-directory"). A string that does not parse
// as a URL is returned as is. An empty caURL stands for certmagic's (and
// Traefik's) default CA, Let's Encrypt production, as NewACMEIssuer
// defaults it.
//
// The key is used raw in events and passed through certmagic.StorageKeys.Safe
// in storage paths (which, for example, lower-cases it and turns ":" into
// "-").
func IssuerKeyFromCA(caURL string) string {
	if caURL == "" {
		caURL = certmagic.LetsEncryptProductionCA
	}
	key := caURL
	if u, err := url.Parse(key); err == nil {
		key = u.Host
		if u.Path != "" {
			const hyphen = "-"
			p := strings.Trim(strings.NewReplacer("/", hyphen, "\\", hyphen).Replace(u.Path), hyphen)
			if p != "" {
				key += hyphen + p
			}
		}
	}
	return key
}

// emptyEmail is certmagic's folder and file name for an account without an
// email address.
const emptyEmail = "default"

// AccountStorageKeys returns the storage keys certmagic uses for the ACME
// account of email under issuerKey (certmagic's unexported
// storageKeyUserReg and storageKeyUserPrivateKey):
// "acme/<Safe(issuerKey)>/users/<Safe(email)>/<Safe(username)>.json" and
// ".key", where username is the part of the lower-cased email before "@"
// and an empty email is "default".
func AccountStorageKeys(issuerKey, email string) (reg, key string) {
	if email == "" {
		email = emptyEmail
	}
	email = strings.ToLower(email)
	username := emailUsername(email)
	prefix := path.Join(accountsPrefix(issuerKey), certmagic.StorageKeys.Safe(email))
	name := certmagic.StorageKeys.Safe(username)
	regName, keyName := name, name
	if username == "" {
		regName, keyName = certmagic.StorageKeys.Safe("registration"), certmagic.StorageKeys.Safe("private")
	}
	return path.Join(prefix, regName+".json"), path.Join(prefix, keyName+".key")
}

// accountsPrefix is certmagic's "acme/<Safe(issuerKey)>/users".
func accountsPrefix(issuerKey string) string {
	return path.Join("acme", certmagic.StorageKeys.Safe(issuerKey), "users")
}

// emailUsername is certmagic's: the part before "@", the rest after a
// leading "@", or the whole string without "@".
func emailUsername(email string) string {
	at := strings.Index(email, "@")
	switch {
	case at == -1:
		return email
	case at == 0:
		return email[1:]
	default:
		return email[:at]
	}
}

// certLockKey is the name of the storage lock certmagic holds while it
// obtains or renews the certificate for name.
func certLockKey(name string) string {
	return "issue_cert_" + name
}

// accountLockKey is the name of the storage lock certmagic holds while it
// registers an account with the given primary contact (certmagic's
// accountRegLockKey).
func accountLockKey(primaryContact string) string {
	if primaryContact == "" {
		return "register_acme_account"
	}
	return "register_acme_account_" + primaryContact
}
