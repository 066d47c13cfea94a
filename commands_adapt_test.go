package traefikacme

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// runAdaptCmd runs caddy traefik adapt in-process with args and returns
// what it printed and its warnings.
func runAdaptCmd(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var out, warn bytes.Buffer
	c := cmdIO{out: &out, progress: &warn, now: func() time.Time { return cmdTestNow }}
	parent := &cobra.Command{Use: "traefik"}
	addTraefikCommands(parent, c)
	cmd, _, err := parent.Find([]string{"adapt"})
	if err != nil || cmd == parent {
		t.Fatalf("finding subcommand adapt: %v", err)
	}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("parsing flags %v: %v", args, err)
	}
	code, err := c.adaptRouters(t.Context(), caddycmd.Flags{FlagSet: cmd.Flags()})
	if err != nil || code != 0 {
		t.Fatalf("caddy traefik adapt %v: exit %d: %v", args, code, err)
	}
	return out.String(), warn.String()
}

// TestTraefikAdaptCommand checks caddy traefik adapt against goldens, and
// that its output adapts with Caddy's Caddyfile adapter and is caddy
// fmt-clean.
func TestTraefikAdaptCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		warn string // a warning that must be printed
	}{
		{
			name: "fixture-rich",
			args: []string{"--config", "compat/routers/testdata/fixtures/traefik-v3.6.21-rich-static.yml", "--dynamic", richFixtureDynamic},
			warn: "/etc/traefik/dyn.yml",
		},
		{
			name: "compose-labels",
			args: []string{"--config", "compat/routers/testdata/compose/labels.yml"},
			warn: "no loadbalancer.server.port",
		},
		{
			name: "dynamic-only",
			args: []string{"--dynamic", "compat/routers/testdata/dynamic/routers.toml", "--dynamic", "compat/routers/testdata/dynamic/shared-host.yml", "--compose", "compat/routers/testdata/compose/exposed.yml"},
			warn: "providers.docker is not enabled",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, warn := runAdaptCmd(t, tt.args...)
			if !strings.Contains(warn, tt.warn) {
				t.Errorf("warnings %q do not mention %q", warn, tt.warn)
			}
			golden := filepath.Join("testdata", "commands", "adapt-"+tt.name+".Caddyfile")
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden (run with -update): %v", err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s:\n%s", golden, out)
			}
			if formatted := caddyfile.Format([]byte(out)); !bytes.Equal(formatted, []byte(out)) {
				t.Errorf("output is not caddy fmt-clean; caddy fmt gives:\n%s", formatted)
			}
			if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(out), map[string]any{"filename": "Caddyfile"}); err != nil {
				t.Errorf("output does not adapt: %v", err)
			}
		})
	}
}

func TestTraefikAdaptCommandNeedsASource(t *testing.T) {
	c := cmdIO{out: new(bytes.Buffer)}
	parent := &cobra.Command{Use: "traefik"}
	addTraefikCommands(parent, c)
	cmd, _, _ := parent.Find([]string{"adapt"})
	code, err := c.adaptRouters(t.Context(), caddycmd.Flags{FlagSet: cmd.Flags()})
	if code != 1 || err == nil || !strings.Contains(err.Error(), "--config, --compose or --dynamic") {
		t.Fatalf("exit %d, error %v; want 1 and a message naming the flags", code, err)
	}
}

// TestTraefikAdaptHelp checks the registered command's help for adapt.
func TestTraefikAdaptHelp(t *testing.T) {
	reg := caddycmd.Commands()["traefik"]
	cmd := &cobra.Command{Use: reg.Name + " " + reg.Usage, Short: reg.Short, Long: reg.Long}
	reg.CobraFunc(cmd)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"adapt", "--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("executing: %v", err)
	}
	for _, w := range []string{"--config", "--service", "--compose", "--dynamic", "Nothing is written", "caddy fmt-clean"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("help does not mention %q:\n%s", w, out.String())
		}
	}
}
