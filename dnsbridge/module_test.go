package dnsbridge

import (
	"os"
	"strings"
	"testing"
)

// TestCoreModuleDoesNotRequireLego: the core module (../go.mod) never
// requires lego or the lego bridge, so a Caddy built without the bridge
// carries none of lego's provider SDKs.
func TestCoreModuleDoesNotRequireLego(t *testing.T) {
	data, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		for _, mod := range []string{"github.com/go-acme/lego", BridgeModule + " ", BridgeModule + "\t"} {
			if strings.Contains(line, mod) {
				t.Errorf("go.mod:%d requires %s: %q", i+1, strings.TrimSpace(mod), strings.TrimSpace(line))
			}
		}
	}
}
