//go:build unix

package acmejson

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestLoadMissingAndEmpty(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		desc    string
		content *string
	}{
		{"missing", nil},
		{"size zero", ptr("")},
		{"white space", ptr("\n  \n")},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.desc, " ", "_")+".json")
			if tt.content != nil {
				if err := os.WriteFile(p, []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			f, info, err := LoadDetailed(p, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if f == nil || len(f) != 0 || info.Format != FormatEmpty || info.Exists != (tt.content != nil) {
				t.Fatalf("f=%v info=%+v", f, info)
			}
			if _, err := os.Stat(p); (err == nil) != (tt.content != nil) {
				t.Fatal("load created or removed the file")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestLoadErrorsNamePathAndOffset(t *testing.T) {
	p := filepath.Join(t.TempDir(), "acme.json")
	content := []byte(`{"le": {"Account": null, "Certificates": [}}`)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil {
		t.Fatal("no error")
	}
	var se *json.SyntaxError
	if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "byte offset 43") || !errors.As(err, &se) {
		t.Fatalf("error = %v", err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, content) {
		t.Fatal("file changed")
	}
	if err := Update(p, func(*File) error { t.Fatal("callback called"); return nil }); err == nil {
		t.Fatal("update of an invalid file succeeded")
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, content) {
		t.Fatal("file changed by update")
	}
	_, err = Load(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("directory: %v", err)
	}
}

// TestOpenPermissionsMultiResolver: Traefik, given a 0644 file with several
// resolvers, refuses the first and lets the others overwrite the file. We
// read everything, warn once, and tighten when asked.
func TestOpenPermissionsMultiResolver(t *testing.T) {
	orig := readTestdata(t, "traefik-v3-acme.json")
	want := mustParse(t, orig)
	if len(want) != 3 {
		t.Fatalf("fixture has %d resolvers", len(want))
	}
	tests := []struct {
		desc     string
		opts     LoadOptions
		wantMode os.FileMode
	}{
		{"warn only", LoadOptions{}, 0o644},
		{"tighten", LoadOptions{TightenPermissions: true}, 0o600},
		{"tighten but read-only", LoadOptions{TightenPermissions: true, ReadOnly: true}, 0o644},
	}
	const warning = "acme.json permissions are too open; traefik would refuse this file"
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			p := copyFixture(t, "traefik-v3-acme.json", 0o644)
			rec := &recorder{}
			tt.opts.Logger = slogOf(rec)
			f, info, err := LoadDetailed(p, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f, want) {
				t.Fatal("content differs")
			}
			if info.Mode != 0o644 || info.Tightened != (tt.wantMode == 0o600) {
				t.Errorf("info = %+v", info)
			}
			if _, err := Load(p, tt.opts); err != nil {
				t.Fatal(err)
			}
			if n := rec.count(warning); n != 1 {
				t.Errorf("warning logged %d times", n)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.wantMode {
				t.Errorf("mode = %o, want %o", fi.Mode().Perm(), tt.wantMode)
			}
			if got, _ := os.ReadFile(p); !bytes.Equal(got, orig) {
				t.Fatal("load changed the content")
			}
			// Whatever the mode was, a save keeps all three resolvers and
			// leaves the file at 0600.
			if err := Save(p, f); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
				t.Errorf("mode after save = %o", fi.Mode().Perm())
			}
			if got, _ := os.ReadFile(p); !bytes.Equal(got, orig) {
				t.Fatal("save changed the content")
			}
		})
	}
}

func TestSaveNewFileModeAndNoLeftovers(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "acme.json")
	f := mustParse(t, readTestdata(t, "traefik-v3.6.21-rich-acme.json"))
	if err := Save(p, f); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"acme.json"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %o", name, fi.Mode().Perm())
		}
	}
	if got := dirNames(t, dir); !reflect.DeepEqual(got, []string{"acme.json"}) {
		t.Errorf("files: %v", got)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, readTestdata(t, "traefik-v3.6.21-rich-acme.json")) {
		t.Error("content")
	}
}

func TestSaveMarshalErrorWritesNothing(t *testing.T) {
	p := copyFixture(t, "traefik-v2-acme.json", 0o600)
	f := mustParse(t, readTestdata(t, "traefik-v2-acme.json"))
	f["le-http"].Account.Registration.Body = json.RawMessage(`{"broken":`)
	if err := Save(p, f); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v", err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, readTestdata(t, "traefik-v2-acme.json")) {
		t.Fatal("file changed")
	}
	if got := dirNames(t, filepath.Dir(p)); !reflect.DeepEqual(got, []string{"acme.json"}) {
		t.Errorf("files: %v", got)
	}
}

func TestSaveFollowsSymlink(t *testing.T) {
	p := copyFixture(t, "traefik-v2-acme.json", 0o600)
	link := filepath.Join(t.TempDir(), "link.json")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	f := mustParse(t, readTestdata(t, "traefik-v2-acme.json"))
	delete(f, "le-tls")
	if err := Save(link, f); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("symlink replaced")
	}
	got, err := Load(p)
	if err != nil || len(got) != 2 {
		t.Fatalf("target not updated: %v %v", err, got.ResolverNames())
	}
}

func TestSaveRemovesStaleTemps(t *testing.T) {
	p := copyFixture(t, "traefik-v2-acme.json", 0o600)
	dir := filepath.Dir(p)
	stale := filepath.Join(dir, ".acme.json.tmp-123456")
	other := filepath.Join(dir, ".other.json.tmp-1")
	for _, n := range []string{stale, other} {
		if err := os.WriteFile(n, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Save(p, mustParse(t, readTestdata(t, "traefik-v2-acme.json"))); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, dir); !reflect.DeepEqual(got, []string{".other.json.tmp-1", "acme.json"}) {
		t.Errorf("files: %v", got)
	}
}

// TestSaveRenameBusyFallback simulates a bind-mounted acme.json, which
// rename cannot replace (EBUSY): Save rewrites it in place.
func TestSaveRenameBusyFallback(t *testing.T) {
	p := copyFixture(t, "traefik-v2-acme.json", 0o644)
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	renameFile = func(string, string) error { return &os.LinkError{Op: "rename", Err: syscall.EBUSY} }
	t.Cleanup(func() { renameFile = os.Rename })
	rec := &recorder{}
	f := mustParse(t, readTestdata(t, "traefik-v3-acme.json"))
	if err := Save(p, f, SaveOptions{Logger: slogOf(rec)}); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || after.Mode().Perm() != 0o600 {
		t.Errorf("not rewritten in place with 0600 (mode %o)", after.Mode().Perm())
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, readTestdata(t, "traefik-v3-acme.json")) {
		t.Error("content")
	}
	if rec.count("cannot replace acme.json atomically (bind-mounted file?); rewriting it in place") != 1 {
		t.Errorf("logs: %v", rec.msgs)
	}
	if got := dirNames(t, filepath.Dir(p)); !reflect.DeepEqual(got, []string{"acme.json"}) {
		t.Errorf("files: %v", got)
	}
	renameFile = func(string, string) error { return &os.LinkError{Op: "rename", Err: syscall.EACCES} }
	if err := Save(p, f); !errors.Is(err, syscall.EACCES) {
		t.Errorf("other rename errors are returned: %v", err)
	}
}

// TestUpdatePreservesOtherResolvers: Update changes what the callback
// changes; everything else comes back byte for byte.
func TestUpdatePreservesOtherResolvers(t *testing.T) {
	orig := readTestdata(t, "traefik-v3.6.21-rich-acme.json")
	p := copyFixture(t, "traefik-v3.6.21-rich-acme.json", 0o600)
	newEntry := mustParse(t, readTestdata(t, "traefik-v3-acme.json"))["le-tls"].Certificates[0]
	err := Update(p, func(f *File) error {
		(*f)["http-ec"].Upsert([]string{"t1.example.test"}, newEntry.Certificate, newEntry.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := mustParse(t, orig)
	want["http-ec"].Certificates = append(want["http-ec"].Certificates, &Certificate{
		Domain: Domain{Main: "t1.example.test"}, Certificate: newEntry.Certificate, Key: newEntry.Key, Store: DefaultStore,
	})
	wantBytes, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	gotBytes, _ := os.ReadFile(p)
	if !bytes.Equal(gotBytes, wantBytes) {
		t.Fatal("file is not the original plus one entry")
	}
	for _, rn := range []string{"dns-wild", "tls-rsa", "unused"} {
		if !reflect.DeepEqual(got[rn], mustParse(t, orig)[rn]) {
			t.Errorf("resolver %s changed", rn)
		}
	}
}

func TestUpdateNoWriteOnErrorOrNoChange(t *testing.T) {
	p := copyFixture(t, "traefik-v2-acme.json", 0o644)
	before, _ := os.Stat(p)
	sentinel := errors.New("stop")
	err := Update(p, func(f *File) error {
		delete(*f, "le-dns")
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v", err)
	}
	if err := Update(p, func(*File) error { return nil }); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(p)
	if !os.SameFile(before, after) || after.Mode().Perm() != 0o644 {
		t.Fatal("file was rewritten")
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, readTestdata(t, "traefik-v2-acme.json")) {
		t.Fatal("content changed")
	}
	// A missing file left empty is not created; one given content is.
	q := filepath.Join(t.TempDir(), "new.json")
	if err := Update(q, func(*File) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(q); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("empty update created the file")
	}
	if err := Update(q, func(f *File) error { *f = File{"le": nil}; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(q); string(got) != "{\n  \"le\": null\n}" {
		t.Fatalf("content %q", got)
	}
}

func TestUpdateConvertsV1(t *testing.T) {
	p := copyFixture(t, "traefik-v1-acme.json", 0o600)
	err := Update(p, func(f *File) error {
		if (*f)["le"] == nil {
			return errors.New("v1 content not under le")
		}
		return nil
	}, LoadOptions{Resolver: "le"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, readTestdata(t, "traefik-v1-converted.golden.json")) {
		t.Fatal("not converted")
	}
	if got, _ := os.ReadFile(p + ".v1.bak"); !bytes.Equal(got, readTestdata(t, "traefik-v1-acme.json")) {
		t.Fatal("backup")
	}
}

func TestIncompleteEntriesKeptAndReported(t *testing.T) {
	f := mustParse(t, readTestdata(t, "traefik-v2-acme.json"))
	f["le-dns"].Certificates[0].Key = nil
	f["le-tls"].Certificates = append(f["le-tls"].Certificates, nil)
	p := filepath.Join(t.TempDir(), "acme.json")
	if err := Save(p, f); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	got, info, err := LoadDetailed(p, LoadOptions{Logger: slogOf(rec)})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Incomplete) != 2 || info.Incomplete[0].Resolver != "le-dns" || info.Incomplete[1].Resolver != "le-tls" {
		t.Fatalf("incomplete = %v", info.Incomplete)
	}
	if rec.count("acme.json certificate entry is incomplete; kept but unusable") != 2 {
		t.Errorf("logs: %v", rec.msgs)
	}
	if len(got["le-dns"].Certificates) != 1 || len(got["le-tls"].Certificates) != 2 {
		t.Fatal("incomplete entries dropped")
	}
}
