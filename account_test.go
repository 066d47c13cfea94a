package traefikacme

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// TestMirrorAndExportWriteSameAccount pins the one account conversion: the
// cert_obtained mirror and `caddy traefik export` write the same "Account"
// bytes for the same stored account.
func TestMirrorAndExportWriteSameAccount(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := certmagic.PEMEncodePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	const ca = "https://127.0.0.1:14000/dir"
	issuerKey := migrate.IssuerKeyFromCA(ca)
	tests := []struct {
		name  string
		email string
		reg   acme.Account
	}{
		{"plain", "ops@example.test", acme.Account{Status: "valid", Contact: []string{"mailto:ops@example.test"}, TermsOfServiceAgreed: true, Location: "https://127.0.0.1:14000/my-account/1"}},
		{"orders and eab", "eab@example.test", acme.Account{Status: "valid", Contact: []string{"mailto:eab@example.test"}, TermsOfServiceAgreed: true,
			Orders: "https://127.0.0.1:14000/list-orderz/2", ExternalAccountBinding: json.RawMessage(`{"protected":"e30","payload":"e30","signature":"c2ln"}`),
			Location: "https://127.0.0.1:14000/my-account/2"}},
		{"configured email in another case", "Ops@Example.test", acme.Account{Status: "valid", Contact: []string{"mailto:ops@example.test"}, TermsOfServiceAgreed: true, Location: "https://127.0.0.1:14000/my-account/4"}},
		{"no contact", "nocontact@example.test", acme.Account{Status: "valid", TermsOfServiceAgreed: true, Location: "https://127.0.0.1:14000/my-account/3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storage := &certmagic.FileStorage{Path: t.TempDir()}
			regJSON, err := json.Marshal(tt.reg)
			if err != nil {
				t.Fatal(err)
			}
			regKey, keyKey := migrate.AccountStorageKeys(issuerKey, tt.email)
			if err := storage.Store(t.Context(), regKey, regJSON); err != nil {
				t.Fatal(err)
			}
			if err := storage.Store(t.Context(), keyKey, keyPEM); err != nil {
				t.Fatal(err)
			}

			s := &stores{storage: storage, logger: zap.NewNop()}
			mirrored, err := s.accountFromStorage(t.Context(), &resolverStore{name: "le", issuerKey: issuerKey, res: &config.ACME{CAServer: ca, Email: tt.email}})
			if err != nil || mirrored == nil {
				t.Fatalf("mirror: account %v, error %v", mirrored, err)
			}
			res, rep, err := migrate.Export(t.Context(), storage, issuerKey, migrate.ExportOptions{Email: tt.email})
			if err != nil || res.Account == nil {
				t.Fatalf("export: account %v (%s: %s), error %v", res.Account, rep.Account, rep.AccountDetail, err)
			}
			m, err := json.Marshal(mirrored)
			if err != nil {
				t.Fatal(err)
			}
			e, err := json.Marshal(res.Account)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m, e) {
				t.Errorf("mirror and export write different accounts:\nmirror: %s\nexport: %s", m, e)
			}
			if mirrored.Email != tt.email {
				t.Errorf("email %q, want the configured %q", mirrored.Email, tt.email)
			}
		})
	}
}
