package acmejson

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestMissingDirectoryCreatedAtFirstWrite: a resolver's storage in a
// directory that does not exist yet (a volume path typed before the volume
// is mounted, say) is created with mode 0700 by the first write that has
// something to write, and logged; reads and empty updates create nothing.
func TestMissingDirectoryCreatedAtFirstWrite(t *testing.T) {
	write := func(f *File) error {
		f.Ensure("le").Upsert([]string{"a.example.org"}, []byte("cert"), []byte("key"))
		return nil
	}
	tests := []struct {
		desc  string
		write func(path string, rec *recorder) error
	}{
		{"Update", func(p string, rec *recorder) error {
			return Update(p, write, LoadOptions{Logger: slogOf(rec)})
		}},
		{"Batcher", func(p string, rec *recorder) error {
			return NewBatcher(p, LoadOptions{Logger: slogOf(rec)}).Update(write)
		}},
		{"Save", func(p string, rec *recorder) error {
			f := File{}
			_ = write(&f)
			return Save(p, f, SaveOptions{Logger: slogOf(rec)})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "letsencrypt", "certs")
			p := filepath.Join(dir, "acme.json")

			// Reading and an update that writes nothing create nothing.
			if _, err := Load(p); err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := Update(p, func(*File) error { return nil }); err != nil {
				t.Fatalf("empty Update: %v", err)
			}
			if _, err := os.Stat(filepath.Join(root, "letsencrypt")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("directory exists before the first write (stat: %v)", err)
			}

			rec := &recorder{}
			if err := tt.write(p, rec); err != nil {
				t.Fatalf("first write: %v", err)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("directory mode %04o, want 0700", fi.Mode().Perm())
			}
			f, err := Load(p)
			if err != nil {
				t.Fatal(err)
			}
			if f["le"].Find("a.example.org") != 0 {
				t.Errorf("the written certificate is not in the file")
			}
			if rec.count("created the missing directory of acme.json") != 1 {
				t.Errorf("log = %v, want one message about the created directory", rec.msgs)
			}
		})
	}
}
