package routers

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDynamicFile checks that no dynamic configuration file or compose
// file makes the readers or the certificate rules panic.
func FuzzDynamicFile(f *testing.F) {
	for _, p := range []string{
		"fixtures/traefik-v3.6.21-rich-dynamic.yml",
		"compose/labels.yml",
		"compose/exposed.yml",
		"dynamic/routers.toml",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, filepath.Ext(p) == ".toml")
	}
	static := &Static{EntryPoints: map[string]EntryPoint{"websecure": {AsDefault: true, TLS: &TLS{CertResolver: "le"}}, "web": {}}}
	f.Fuzz(func(t *testing.T, data []byte, toml bool) {
		name := "dyn.yml"
		if toml {
			name = "dyn.toml"
		}
		if dyn, err := ParseFile(name, data); err == nil {
			Certificates(static, dyn)
			Caddyfile(static, dyn, CaddyfileOptions{})
		}
		if dyn, err := ParseCompose(data, nil, ComposeOptions{Project: "p"}); err == nil {
			Certificates(static, dyn)
			Caddyfile(static, dyn, CaddyfileOptions{})
		}
	})
}
