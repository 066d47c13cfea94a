package routers

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCaddyfileGolden records the site blocks written for every golden
// case. The root package's tests check that each adapts with Caddy's
// Caddyfile adapter and is caddy fmt-clean.
func TestCaddyfileGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			res := runGolden(t, c)
			got := Caddyfile(res.Static, &Dynamic{Routers: res.Routers, Services: res.Services}, CaddyfileOptions{
				Header:       []string{"Site blocks for the HTTP routers of " + c.name + "."},
				GlobalConfig: "/etc/traefik/traefik.yml",
			})
			golden := filepath.Join("testdata", "golden", c.name+".Caddyfile")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("missing golden (run go test -update): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run go test -update and review the diff):\n%s", golden, got)
			}
		})
	}
}
