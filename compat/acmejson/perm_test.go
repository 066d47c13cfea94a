//go:build unix

package acmejson

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTightenPermissions(t *testing.T) {
	tests := []struct {
		desc    string
		mode    os.FileMode
		missing bool
		want    os.FileMode
		changed bool
	}{
		{desc: "too open", mode: 0o644, want: 0o600, changed: true},
		{desc: "group only", mode: 0o640, want: 0o600, changed: true},
		{desc: "already tight", mode: 0o600, want: 0o600},
		{desc: "missing", missing: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "acme.json")
			if !tt.missing {
				if err := os.WriteFile(path, []byte("{}"), tt.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			changed, err := TightenPermissions(path, nil)
			if err != nil || changed != tt.changed {
				t.Fatalf("TightenPermissions = %v, %v; want %v", changed, err, tt.changed)
			}
			if tt.missing {
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Fatalf("a missing file was created: %v", err)
				}
				return
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != tt.want {
				t.Fatalf("mode = %v (%v), want %v", fi.Mode().Perm(), err, tt.want)
			}
		})
	}
}
