package routers

import (
	"fmt"
	"strings"
	"testing"
)

// benchDynamic is a dynamic file with n routers over three resolvers,
// every fourth with tls.domains, every tenth sharing a wildcard.
func benchDynamic(n int) []byte {
	var b strings.Builder
	b.WriteString("http:\n  routers:\n")
	for i := range n {
		fmt.Fprintf(&b, "    r%d:\n      rule: Host(`svc%d.example.com`) || Host(`www.svc%d.example.com`) && PathPrefix(`/x`)\n      service: s\n      tls:\n        certResolver: le%d\n", i, i, i, i%3)
		if i%4 == 0 {
			fmt.Fprintf(&b, "        domains:\n          - main: svc%d.example.com\n            sans: [\"*.svc%d.example.com\"]\n", i, i)
		}
	}
	b.WriteString("  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:8080\n")
	return []byte(b.String())
}

// BenchmarkCertificates measures reading a 5,000-router dynamic file and
// working out the certificates per resolver, as the app does at
// Provision.
func BenchmarkCertificates(b *testing.B) {
	data := benchDynamic(5000)
	static := &Static{EntryPoints: map[string]EntryPoint{"websecure": {}}}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		dyn, err := ParseFile("dyn.yml", data)
		if err != nil {
			b.Fatal(err)
		}
		plan := Certificates(static, dyn)
		if len(plan.Certificates) != 5000 {
			b.Fatalf("%d certificates, want 5000", len(plan.Certificates))
		}
	}
}

// BenchmarkParseRule measures the rule parser on a typical rule.
func BenchmarkParseRule(b *testing.B) {
	rule := "(Host(`a.example.com`) || Host(`b.example.com`)) && PathPrefix(`/api`) && !Header(`X-Internal`, `1`)"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRule(rule, HTTPRule); err != nil {
			b.Fatal(err)
		}
	}
}
