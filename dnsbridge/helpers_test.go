package dnsbridge

import (
	"os"
	"path/filepath"
	"testing"
)

// mapLookup is a LookupFunc over a fixed map.
func mapLookup(m map[string]string) LookupFunc {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// writeFile writes content to name in a fresh temp dir and returns the path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatalf("writing %s: %v", p, err)
	}
	return p
}

// isolateAWS points the AWS SDK at empty shared files and clears every SDK
// variable of the process environment, so tests never read the machine's
// ~/.aws or credentials.
func isolateAWS(t *testing.T) (configFile, credFile string) {
	t.Helper()
	configFile = writeFile(t, "config", "")
	credFile = writeFile(t, "credentials", "")
	t.Setenv("AWS_CONFIG_FILE", configFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	for _, k := range []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ROUTE_53", "AWS_ROLE_ARN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_EC2_METADATA_DISABLED",
	} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return configFile, credFile
}

// acmeDNSStorage writes a lego acme-dns storage file with one account.
func acmeDNSStorage(t *testing.T) string {
	t.Helper()
	return writeFile(t, "acme-dns.json", `{
  "*.example.com": {
    "fulldomain": "d420c923-bbd7-4056-ab64-c3ca54c9b3cf.auth.example.org",
    "subdomain": "d420c923-bbd7-4056-ab64-c3ca54c9b3cf",
    "username": "c36f50e8-4632-44f0-83fe-e070fef28a10",
    "password": "htB9mR9DYgcu9bX_afHF62erXaH2TS7bg9KW3F7Z",
    "allowfrom": []
  }
}`)
}

// validDummy returns a syntactically valid value for a required variable
// whose format the bridge checks; other variables get a plain dummy.
func validDummy(t *testing.T, name string) string {
	t.Helper()
	switch name {
	case "HTTPREQ_ENDPOINT", "ACME_DNS_API_BASE", "PDNS_API_URL":
		return "http://127.0.0.1:1"
	case "ACME_DNS_STORAGE_PATH":
		return acmeDNSStorage(t)
	case "DNSUPDATE_NAMESERVER", "RFC2136_NAMESERVER":
		return "127.0.0.1"
	case "DNSUPDATE_TSIG_SECRET", "RFC2136_TSIG_SECRET":
		return "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
	}
	return "dummy-" + name
}
