package dnsbridge

// acme-dns (alias acmedns): libdns/acmedns v0.5.0. lego:
// providers/dns/acmedns.

import (
	"encoding/json"
	"errors"
	"os"
	"strings"

	"github.com/libdns/acmedns"
)

const (
	acmednsNS             = "ACME_DNS_"
	acmednsEnvAPIBase     = acmednsNS + "API_BASE"
	acmednsEnvStoragePath = acmednsNS + "STORAGE_PATH"
	acmednsEnvStorageURL  = acmednsNS + "STORAGE_BASE_URL"
	acmednsEnvAllowList   = acmednsNS + "ALLOWLIST"
)

func init() {
	register(Spec{
		Code:       "acme-dns",
		Aliases:    []string{"acmedns"},
		Namespaces: []string{acmednsNS},
		Required:   [][]string{{acmednsEnvAPIBase}, {acmednsEnvStoragePath}},
		Optional:   []string{acmednsEnvStorageURL, acmednsEnvAllowList},
		FileVars:   true,
		Defaults:   Timing{PropagationTimeout: seconds(60), PollingInterval: seconds(2)},
		Module:     "github.com/libdns/acmedns",
		Notes: "Uses the accounts already stored in lego's JSON storage file (`ACME_DNS_STORAGE_PATH`, keyed by domain). " +
			"New accounts are not registered: register once with lego or acme-dns-client and create the CNAME. " +
			"`ACME_DNS_STORAGE_BASE_URL` (HTTP storage) is not supported; `ACME_DNS_ALLOWLIST` only matters for registration.",
	}, buildACMEDNS)
}

// acmednsAccount is one entry of lego's (goacmedns') storage file.
type acmednsAccount struct {
	FullDomain string `json:"fulldomain"`
	SubDomain  string `json:"subdomain"`
	Username   string `json:"username"`
	Password   string `json:"password"`
	ServerURL  string `json:"server_url"`
}

func buildACMEDNS(e *envReader, _ Options) (Provider, error) {
	if e.isSet(acmednsEnvStorageURL) {
		e.failf("%s (HTTP account storage) is not supported; export the accounts to a JSON file and set %s",
			acmednsEnvStorageURL, acmednsEnvStoragePath)
	}
	base := strings.TrimSuffix(e.require(acmednsEnvAPIBase), "/")
	path := e.require(acmednsEnvStoragePath)
	if err := e.err(); err != nil {
		return nil, err
	}

	data, err := os.ReadFile(path)
	if err != nil {
		e.failf("reading %s: %w", acmednsEnvStoragePath, err)
		return nil, e.err()
	}
	var accounts map[string]acmednsAccount
	if err := json.Unmarshal(data, &accounts); err != nil {
		// The decoder's messages never quote values, but keep only the
		// position to be safe: the file holds passwords.
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			e.failf("parsing %s %s: invalid JSON at offset %d", acmednsEnvStoragePath, path, syn.Offset)
		} else {
			e.failf("parsing %s %s: want an object mapping domains to acme-dns accounts", acmednsEnvStoragePath, path)
		}
		return nil, e.err()
	}
	if len(accounts) == 0 {
		e.failf("%s %s holds no acme-dns accounts; register the domains first", acmednsEnvStoragePath, path)
		return nil, e.err()
	}

	configs := make(map[string]acmedns.DomainConfig, len(accounts))
	for domain, a := range accounts {
		server := a.ServerURL
		if server == "" {
			server = base
		}
		cfg := acmedns.DomainConfig{
			Username: a.Username, Password: a.Password, Subdomain: a.SubDomain,
			FullDomain: a.FullDomain, ServerURL: server,
		}
		configs[strings.TrimSuffix(domain, ".")] = cfg
	}
	// The libdns provider looks accounts up by the name without "*.";
	// lego may have stored a wildcard under "*.example.com".
	for domain := range accounts {
		domain = strings.TrimSuffix(domain, ".")
		if bare, ok := strings.CutPrefix(domain, "*."); ok {
			if _, exists := configs[bare]; !exists {
				configs[bare] = configs[domain]
			}
		}
	}
	return &acmedns.Provider{Configs: configs}, nil
}
