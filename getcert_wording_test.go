package traefikacme

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestGetCertWarningWording: what the certificate manager says when its
// acme.json is missing or broken is true. A missing file (a typo, or
// Traefik has not written it yet) is a warning that says the file does
// not exist; "keeping previous certificates" appears only when there are
// previous certificates, and never before an error that fails
// provisioning.
func TestGetCertWarningWording(t *testing.T) {
	tests := []struct {
		desc    string
		content []byte // nil: no file; a directory when dir is set
		dir     bool
		fatal   bool
		want    string // the warning logged, "" for none
	}{
		{desc: "missing", want: "acme.json does not exist; no certificates served from it until it is created"},
		{desc: "does not parse", content: []byte(`{"le": [`), fatal: true},
		{desc: "a directory", dir: true, fatal: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "acme.json")
			switch {
			case tt.dir:
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
			case tt.content != nil:
				if err := os.WriteFile(path, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
				backdate(t, path, time.Minute)
			}
			core, logs := observer.New(zap.DebugLevel)
			w := newACMEJSONWatcher(path, nil, zap.New(core))
			err := w.initialLoad(t.Context(), time.Second)
			if (err != nil) != tt.fatal {
				t.Fatalf("initial load: %v, want fatal %v", err, tt.fatal)
			}
			if n := logs.FilterMessageSnippet("keeping previous").Len(); n != 0 {
				t.Errorf("logged %d times that previous certificates are kept; there were none", n)
			}
			warns := logs.FilterLevelExact(zap.WarnLevel).All()
			switch {
			case tt.want == "" && len(warns) > 0:
				t.Errorf("warned %q before a fatal error", warns[0].Message)
			case tt.want != "" && (len(warns) != 1 || warns[0].Message != tt.want):
				t.Errorf("warnings %v, want exactly %q", warns, tt.want)
			}
		})
	}

	// After a start with no file, a broken file says nothing is served.
	path := filepath.Join(t.TempDir(), "acme.json")
	core, logs := observer.New(zap.DebugLevel)
	w := newACMEJSONWatcher(path, nil, zap.New(core))
	if err := w.initialLoad(t.Context(), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"le": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	backdate(t, path, time.Minute)
	if res, _ := w.check(t.Context(), false); res != checkKept {
		t.Fatalf("check = %d, want kept", res)
	}
	if n := logs.FilterMessage("acme.json does not parse; no certificates served from it").Len(); n != 1 {
		t.Errorf("broken file with nothing served before: %d warnings, want 1", n)
	}
	if n := logs.FilterMessageSnippet("keeping previous").Len(); n != 0 {
		t.Errorf("logged that previous certificates are kept; there were none")
	}
}
