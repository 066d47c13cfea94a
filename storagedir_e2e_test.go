package traefikacme

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

// TestStorageInMissingDirectory: a resolver's storage in a directory that
// does not exist (a volume path before anything was written to it) is
// accepted; the first certificate mirrored creates the directory with mode
// 0700, says so in the log, and lands in the file.
func TestStorageInMissingDirectory(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	dir := filepath.Join(t.TempDir(), "letsencrypt", "certs")
	acmeFile := filepath.Join(dir, "acme.json")
	env.Extra["acme"] = acmeFile
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		resolver alpn {
			email ops@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			storage {{index .Extra "acme"}}
			key_type EC256
			tls_challenge
		}
	}
}
dir.example.test {
	tls {
		issuer traefik alpn
	}
}
`)
	env.waitCert(t, "dir.example.test", ca.RootPool(), obtainTimeout, nil)
	waitFor(t, "dir.example.test mirrored into the new directory", obtainTimeout, func() bool {
		f, err := acmejson.Load(acmeFile, acmejson.LoadOptions{ReadOnly: true})
		return err == nil && f["alpn"] != nil && f["alpn"].Find("dir.example.test") >= 0
	})
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory has mode %04o, want 0700", fi.Mode().Perm())
	}
	if !env.logContains("created the missing directory of acme.json", dir) {
		t.Error("the creation of the directory is not in Caddy's log")
	}
}
