package migrate

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mholt/acmez/v3/acme"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// ErrAccountNotRegistered is returned by TraefikAccount for an account
// certmagic stored but never registered (it has no location).
var ErrAccountNotRegistered = errors.New("account has no location (it was never registered)")

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

// TraefikAccount converts an ACME account as certmagic stores it (its
// registration, decoded from the JSON at AccountStorageKeys' registration
// key, and its private key) into the "Account" object of Traefik's
// acme.json. It is the one conversion: the acme.json mirror and `caddy
// traefik export` both use it, so they write the same bytes.
//
// Email is email when it is set (Traefik writes the resolver's configured
// email), else the registration's primary contact without its "mailto:".
// Registration.body holds the registration fields in lego's field order;
// the account URL (certmagic's location) is Registration.uri. The key is
// written as base64 PKCS#1 DER.
//
// It fails with ErrAccountNotRegistered when reg has no location, and with
// an error wrapping acmejson.ErrNotRSAAccountKey for a key that is not RSA
// (Traefik reads only RSA account keys).
func TraefikAccount(reg acme.Account, key crypto.PrivateKey, email string) (*acmejson.Account, error) {
	if reg.Location == "" {
		return nil, ErrAccountNotRegistered
	}
	der, err := acmejson.EncodeAccountKey(key)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(legoAccount{
		Status:                 reg.Status,
		Contact:                reg.Contact,
		TermsOfServiceAgreed:   reg.TermsOfServiceAgreed,
		Orders:                 reg.Orders,
		ExternalAccountBinding: reg.ExternalAccountBinding,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding registration body: %w", err)
	}
	if email == "" {
		email = primaryContact(reg.Contact)
	}
	return &acmejson.Account{
		Email:        email,
		Registration: &acmejson.Registration{Body: body, URI: reg.Location},
		PrivateKey:   der,
	}, nil
}
