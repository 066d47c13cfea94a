//go:build unix

package acmejson

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// inPlaceSteps are the fault points of a write that falls back to the
// in-place path, in order.
var inPlaceSteps = []string{
	"create_temp", "write_temp", "sync_temp", "rename_copy", "sync_dir", "open",
	"reserve", "mark", "sync_mark", "write_in_place", "truncate", "chmod", "sync_file",
	"unmark", "sync_unmark", "remove_copy",
}

// busyRename makes every rename over the target fail with EBUSY, as on a
// single bind-mounted file, for the rest of the test.
func busyRename(t *testing.T) {
	t.Helper()
	renameFile = func(string, string) error { return &os.LinkError{Op: "rename", Err: syscall.EBUSY} }
	t.Cleanup(func() { renameFile = os.Rename })
}

// injectFault makes step fail with ENOSPC after n bytes, for the rest of
// the test or until the returned function is called.
func injectFault(t *testing.T, step string, n int) (clear func()) {
	t.Helper()
	fault = func(s string) (int, error) {
		if s == step {
			return n, syscall.ENOSPC
		}
		return 0, nil
	}
	clear = func() { fault = nil }
	t.Cleanup(clear)
	return clear
}

// parses reports whether the file at p exists and parses.
func parses(p string) bool {
	data, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	_, _, err = Parse(data, "")
	return err == nil
}

// TestInPlaceWriteUnderFullDisk fails each step of the in-place path with
// ENOSPC (short writes at random offsets for the steps that write), over
// files that grow and shrink, and checks after every run that the user has
// a parseable acme.json or its intact copy, that Load returns the old or
// the new content (warning when it reads the copy), and that the next
// write repairs everything.
func TestInPlaceWriteUnderFullDisk(t *testing.T) {
	busyRename(t)
	small := mustParse(t, readTestdata(t, "traefik-v2-acme.json"))
	large := largeFile(t, 20)
	const rounds = 4 // × 16 steps = 64 runs; -count=4 gives 256
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	runs, torn := 0, 0
	for round := range rounds {
		for _, step := range inPlaceSteps {
			runs++
			oldF, newF := small, large
			if round%2 == 1 {
				oldF, newF = large, small
			}
			oldB, _ := oldF.Marshal()
			newB, _ := newF.Marshal()
			p := filepath.Join(t.TempDir(), "acme.json")
			if err := os.WriteFile(p, oldB, 0o600); err != nil {
				t.Fatal(err)
			}
			n := rng.IntN(len(newB))
			clear := injectFault(t, step, n)
			err := Save(p, newF)
			clear()
			if step == "remove_copy" {
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
			} else if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("run %d, %s: err = %v", runs, step, err)
			}
			copyPath := p + InPlaceCopySuffix
			if !parses(p) && !parses(copyPath) {
				t.Fatalf("run %d, %s at byte %d: neither the file nor its copy parses", runs, step, n)
			}
			rec := &recorder{}
			got, info, err := LoadDetailed(p, LoadOptions{Logger: slogOf(rec)})
			if err != nil {
				t.Fatalf("run %d, %s: load: %v", runs, step, err)
			}
			if !reflect.DeepEqual(got, oldF) && !reflect.DeepEqual(got, newF) {
				t.Fatalf("run %d, %s: content is neither the old nor the new file", runs, step)
			}
			if !parses(p) {
				torn++
				if info.Recovered != copyPath || rec.count("acme.json does not parse; using the copy an interrupted in-place rewrite left beside it") != 1 {
					t.Fatalf("run %d, %s: recovered from %q, logs %v", runs, step, info.Recovered, rec.msgs)
				}
			}
			// The next write (disk no longer full) repairs the file.
			err = Update(p, func(f *File) error { f.Ensure("after"); return nil })
			if err != nil {
				t.Fatalf("run %d, %s: update after the fault: %v", runs, step, err)
			}
			if !parses(p) || dirNames(t, filepath.Dir(p))[0] != "acme.json" || len(dirNames(t, filepath.Dir(p))) != 1 {
				t.Fatalf("run %d, %s: not repaired: %v", runs, step, dirNames(t, filepath.Dir(p)))
			}
		}
	}
	if torn == 0 {
		t.Fatal("no run left a torn file; the test exercises nothing")
	}
	t.Logf("%d runs under ENOSPC, %d left a torn file that was recovered from its copy, 0 lost", runs, torn)
}

// inPlaceCrashChild is crashChild on a file that rename cannot replace.
// It prints "writing" when rename is refused, just before the in-place
// rewrite, so that the parent can aim its kill at the rewrite.
func inPlaceCrashChild(t *testing.T) {
	renameFile = func(string, string) error {
		fmt.Println("writing")
		return &os.LinkError{Op: "rename", Err: syscall.EBUSY}
	}
	crashChild(t)
}

// TestInPlaceCrashSafety kills (SIGKILL) a process that keeps rewriting a
// file in place at random points (25 times a run), and checks after
// each kill that the file or its copy parses, that Load recovers every
// confirmed entry, and that the next process repairs the file.
func TestInPlaceCrashSafety(t *testing.T) {
	if os.Getenv(envChildRole) == "inplace" {
		inPlaceCrashChild(t)
		return
	}
	kills := 25 // -count=8 gives 200
	if testing.Short() {
		kills = 5
	}
	path := filepath.Join(t.TempDir(), "acme.json")
	base := largeFile(t, 100) // ~600 kB: a write takes long enough to be hit
	if err := Save(path, base); err != nil {
		t.Fatal(err)
	}
	baseNames := allNames(base)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 71))
	confirmed := map[string]bool{}
	torn := 0
	for run := 0; run < kills; run++ {
		cmd := childCommand(t, "TestInPlaceCrashSafety", "inplace", path, fmt.Sprintf("r%d", run), 1000)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill during an in-place rewrite after one to four saves, at a
		// random point: a delay drawn across the time a save takes.
		killAt := 1 + rng.IntN(4)
		sc := bufio.NewScanner(out)
		writes := 0
		var last, prev time.Time
		for sc.Scan() {
			line := sc.Text()
			if name, ok := strings.CutPrefix(line, "saved "); ok {
				confirmed["crash/"+name] = true
				prev, last = last, time.Now()
				continue
			}
			if line != "writing" {
				continue
			}
			if writes++; writes == killAt {
				d := time.Millisecond
				if !prev.IsZero() {
					d = last.Sub(prev)
				}
				spinFor(time.Duration(rng.Int64N(int64(d) + 1)))
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("run %d: child did not die of SIGKILL: %v", run, cmd.ProcessState)
		}
		if !parses(path) {
			if !parses(path + InPlaceCopySuffix) {
				t.Fatalf("run %d: neither the file nor its copy parses", run)
			}
			torn++
		}
		f, err := Load(path)
		if err != nil {
			t.Fatalf("run %d: load: %v", run, err)
		}
		got := allNames(f)
		for n := range baseNames {
			if !got[n] {
				t.Fatalf("run %d: base entry %s lost", run, n)
			}
		}
		for n := range confirmed {
			if !got[n] {
				t.Fatalf("run %d: confirmed entry %s lost", run, n)
			}
		}
		for n := range got {
			if !baseNames[n] {
				confirmed[n] = true
			}
		}
	}
	t.Logf("%d kills during in-place rewrites, %d left a torn file recovered from its copy, 0 lost", kills, torn)
	// The next write repairs the file and removes the copy.
	busyRename(t)
	if err := Update(path, func(f *File) error { f.Ensure("after"); return nil }); err != nil {
		t.Fatal(err)
	}
	if !parses(path) {
		t.Fatal("not repaired")
	}
	if _, err := os.Stat(path + InPlaceCopySuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("copy left: %v", err)
	}
}

// TestLoadRecoversOnlyFromACopy: a file that does not parse is an error
// unless an interrupted in-place rewrite left a parseable copy.
func TestLoadRecoversOnlyFromACopy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "acme.json")
	torn := readTestdata(t, "traefik-v3-acme.json")[:1000]
	if err := os.WriteFile(p, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil {
		t.Fatal("torn file without a copy loaded")
	}
	if err := Save(p, File{"x": nil}); err == nil || !strings.Contains(err.Error(), "not an acme.json") {
		t.Fatalf("save over a torn file without a copy: %v", err)
	}
	if err := os.WriteFile(p+InPlaceCopySuffix, readTestdata(t, "traefik-v3-acme.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, info, err := LoadDetailed(p, LoadOptions{})
	if err != nil || info.Recovered == "" || !reflect.DeepEqual(got, mustParse(t, readTestdata(t, "traefik-v3-acme.json"))) {
		t.Fatalf("recovery: %v %+v", err, info)
	}
	// An Update that changes nothing still repairs the file.
	if err := Update(p, func(*File) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, readTestdata(t, "traefik-v3-acme.json")) {
		t.Fatal("not repaired")
	}
	if names := dirNames(t, filepath.Dir(p)); !reflect.DeepEqual(names, []string{"acme.json"}) {
		t.Fatalf("files: %v", names)
	}
}

// holdChild takes the lock on the file (as Update does) and keeps it
// until its stdin closes.
func holdChild(t *testing.T) {
	path := os.Getenv(envChildFile)
	lk, err := lockTarget(context.Background(), path, path, nil, "hold")
	if err != nil {
		fmt.Fprintln(os.Stderr, "child lock:", err)
		os.Exit(3)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	lk.release(path, true)
}

// events is a slog.Handler sending each record to a channel.
type events chan slog.Record

func (e events) Enabled(context.Context, slog.Level) bool { return true }
func (e events) Handle(_ context.Context, r slog.Record) error {
	e <- r
	return nil
}
func (e events) WithAttrs([]slog.Attr) slog.Handler { return e }
func (e events) WithGroup(string) slog.Handler      { return e }

func attrsOf(r slog.Record) map[string]string {
	m := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	return m
}

// TestLockWaitLoggedAndCancellable: while another process holds the lock,
// Update logs who waits for what (and who holds it), and gives up when its
// context is cancelled. The holder locks through a second name of the same
// file (a hard link, as two containers bind-mounting one host file see it),
// so the test also shows that both names take the same lock.
func TestLockWaitLoggedAndCancellable(t *testing.T) {
	if os.Getenv(envChildRole) == "hold" {
		holdChild(t)
		return
	}
	p := copyFixture(t, "traefik-v2-acme.json", 0o600)
	other := filepath.Join(t.TempDir(), "acme.json")
	if err := os.Link(p, other); err != nil {
		t.Fatal(err)
	}
	cmd := childCommand(t, "TestLockWaitLoggedAndCancellable", "hold", other, "", 0)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "locked\n" {
		t.Fatalf("child: %q", line)
	}
	old := lockWaitLogAfter
	lockWaitLogAfter = 0
	t.Cleanup(func() { lockWaitLogAfter = old })

	ev := make(events, 16)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- UpdateContext(ctx, p, func(f *File) error { t.Error("ran under a held lock"); return nil },
			LoadOptions{Logger: slog.New(ev), Operation: "export"})
	}()
	r := <-ev
	if r.Message != "waiting for the acme.json lock held by another process" {
		t.Fatalf("message %q", r.Message)
	}
	a := attrsOf(r)
	if a["path"] != p || a["operation"] != "export" || a["pid"] != strconv.Itoa(os.Getpid()) ||
		(a["holder_pid"] != strconv.Itoa(cmd.Process.Pid) && isLinux()) {
		t.Errorf("attributes %v (holder %d)", a, cmd.Process.Pid)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	// Once the holder is gone, the same update goes through; written in
	// place, as through a bind mount, the other name sees it.
	stdin.Close()
	_ = cmd.Wait()
	busyRename(t)
	if err := Update(p, func(f *File) error { f.Ensure("after"); return nil }); err != nil {
		t.Fatal(err)
	}
	if f, err := Load(other); err != nil || f["after"] == nil || len(f) != 4 {
		t.Fatalf("through the other name: %v %v", err, f.ResolverNames())
	}
}

func isLinux() bool { return runtime.GOOS == "linux" }

// TestSpecialFilesRefused: a named pipe, a device or an oversize file at the
// path is refused at once with a clear error by every entry point, and
// never replaced.
func TestSpecialFilesRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want error
		text string
	}{
		{fifo, ErrNotRegular, "is a named pipe (FIFO)"},
		{"/dev/zero", ErrNotRegular, "is a character device"},
		{"/dev/null", ErrNotRegular, "is a character device"},
		{dir, ErrNotRegular, "is a directory"},
		{big, ErrTooLarge, "larger than"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			before, err := os.Lstat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) || !strings.Contains(err.Error(), tt.path) && what != "ReadFile" {
					t.Errorf("%s: err = %v", what, err)
				}
			}
			_, err = Load(tt.path)
			check("Load", err)
			_, _, err = ReadFile(tt.path)
			check("ReadFile", err)
			check("Update", Update(tt.path, func(f *File) error { t.Error("fn called"); return nil }))
			if tt.want == ErrNotRegular {
				check("Save", Save(tt.path, File{"le": nil}))
			}
			after, err := os.Lstat(tt.path)
			if err != nil || !os.SameFile(before, after) || before.Mode() != after.Mode() {
				t.Errorf("file replaced or changed: %v", err)
			}
		})
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"big.json", "fifo.json"}) {
		t.Errorf("files: %v", names)
	}
}

// TestOwnerKept: a write as root keeps the owner and group of the file,
// whichever way it writes (Save, Update, Batcher, in place).
func TestOwnerKept(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	owner := func(t *testing.T, p string) (uint32, uint32) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return st.Uid, st.Gid
	}
	entry := childEntry(t)
	tests := []struct {
		desc  string
		write func(p string) error
	}{
		{"save", func(p string) error { return Save(p, mustParse(t, readTestdata(t, "traefik-v3-acme.json"))) }},
		{"update", func(p string) error {
			return Update(p, func(f *File) error {
				f.Ensure("x").Upsert([]string{"a.test"}, entry.Certificate, entry.Key)
				return nil
			})
		}},
		{"batcher", func(p string) error {
			return NewBatcher(p, LoadOptions{}).Update(func(f *File) error { f.Ensure("y"); return nil })
		}},
		{"in place", func(p string) error {
			busyRename(t)
			return Save(p, mustParse(t, readTestdata(t, "traefik-v3-acme.json")))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			p := copyFixture(t, "traefik-v2-acme.json", 0o600)
			if err := os.Chown(p, 1000, 1000); err != nil {
				t.Fatal(err)
			}
			if err := tt.write(p); err != nil {
				t.Fatal(err)
			}
			if uid, gid := owner(t, p); uid != 1000 || gid != 1000 {
				t.Errorf("owner %d:%d after %s", uid, gid, tt.desc)
			}
			if b, _ := os.ReadFile(p); bytes.Equal(b, readTestdata(t, "traefik-v2-acme.json")) {
				t.Error("nothing written")
			}
		})
	}
}

// TestNoSideEffectsOnOtherFiles: pointed at a file that is not an
// acme.json (through a symbolic link, as `export` onto the wrong path
// would be), writes refuse and leave it exactly as it was: no chmod, no
// lock file, no temporary file.
func TestNoSideEffectsOnOtherFiles(t *testing.T) {
	other := filepath.Join(t.TempDir(), "notes.txt")
	content := []byte("my notes, not json\n")
	if err := os.WriteFile(other, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(other, 0o644); err != nil {
		t.Fatal(err)
	}
	linkDir := t.TempDir()
	link := filepath.Join(linkDir, "acme.json")
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	opts := LoadOptions{TightenPermissions: true}
	if err := Update(link, func(f *File) error { t.Error("fn called"); return nil }, opts); err == nil {
		t.Error("update of a non-acme.json succeeded")
	}
	if err := Save(link, File{"le": nil}); err == nil || !strings.Contains(err.Error(), "not an acme.json") {
		t.Errorf("save over a non-acme.json: %v", err)
	}
	if _, err := Load(link, opts); err == nil {
		t.Error("load of a non-acme.json succeeded")
	}
	fi, err := os.Stat(other)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode changed: %v %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(other); !bytes.Equal(b, content) {
		t.Error("content changed")
	}
	if names := dirNames(t, filepath.Dir(other)); !reflect.DeepEqual(names, []string{"notes.txt"}) {
		t.Errorf("files beside the target: %v", names)
	}
	if names := dirNames(t, linkDir); !reflect.DeepEqual(names, []string{"acme.json"}) {
		t.Errorf("files beside the link: %v", names)
	}
	// An acme.json with open permissions is tightened, once known to be one.
	p := copyFixture(t, "traefik-v2-acme.json", 0o644)
	if err := Update(p, func(*File) error { return nil }, opts); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("acme.json not tightened: %v", fi.Mode())
	}
}

// TestDanglingSymlink: a write through a link whose target does not exist
// creates the target; the link stays a link. Writes through a live link
// replace the target.
func TestDanglingSymlink(t *testing.T) {
	tests := []struct {
		desc     string
		relative bool
		write    func(link string) error
	}{
		{"save absolute", false, func(l string) error { return Save(l, File{"le": nil}) }},
		{"update relative", true, func(l string) error {
			return Update(l, func(f *File) error { f.Ensure("le"); return nil })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			targetDir, linkDir := t.TempDir(), t.TempDir()
			target := filepath.Join(targetDir, "real.json")
			dest := target
			if tt.relative {
				var err error
				if dest, err = filepath.Rel(linkDir, target); err != nil {
					t.Fatal(err)
				}
			}
			link := filepath.Join(linkDir, "acme.json")
			if err := os.Symlink(dest, link); err != nil {
				t.Fatal(err)
			}
			if f, err := Load(link); err != nil || len(f) != 0 {
				t.Fatalf("dangling link loads as %v, %v", f, err)
			}
			for i := range 2 { // the second write goes through a live link
				if err := tt.write(link); err != nil {
					t.Fatal(err)
				}
				if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Fatalf("write %d replaced the link", i)
				}
				if f, err := Load(target); err != nil || len(f) != 1 {
					t.Fatalf("write %d: target holds %v, %v", i, f, err)
				}
			}
			if names := dirNames(t, linkDir); !reflect.DeepEqual(names, []string{"acme.json"}) {
				t.Errorf("files beside the link: %v", names)
			}
		})
	}
}

// hugeRSAKeyDER is a PKCS#1 RSAPrivateKey with a modulus of bits bits (not a
// real key: only its size matters).
func hugeRSAKeyDER(t *testing.T, bits int) []byte {
	t.Helper()
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(1))
	k := struct {
		Version      int
		N            *big.Int
		E            int
		D, P, Q      *big.Int
		Dp, Dq, Qinv *big.Int
	}{0, n, 65537, n, n, n, n, n, n}
	der, err := asn1.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestRSACapOnEveryKeyPath: account keys (PKCS#1 and PKCS#8), certificate
// keys in every encoding, and certificates' public keys over 16,384 bits
// are refused before crypto/x509 works on them, by the decoders and by
// File.Problems (what inspect reports).
func TestRSACapOnEveryKeyPath(t *testing.T) {
	const refused = "16385-bit RSA key refused (more than 16384 bits)"
	pkcs1 := hugeRSAKeyDER(t, 16385)
	pkcs8, err := asn1.Marshal(struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}{0, pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}, pkcs1})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), refused) {
			t.Errorf("%s: err = %v", what, err)
		}
	}
	_, err = DecodeAccountKey(pkcs1)
	check("account key PKCS#1", err)
	_, err = DecodeAccountKey(pkcs8)
	check("account key PKCS#8", err)
	for _, k := range []struct {
		typ string
		der []byte
	}{{"RSA PRIVATE KEY", pkcs1}, {"PRIVATE KEY", pkcs8}} {
		_, err = ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: k.typ, Bytes: k.der}))
		check("certificate key "+k.typ, err)
	}

	// A certificate whose public key is that large, signed by a small key.
	signer, err := rsa.GenerateKey(crand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"huge.example.test"},
		NotBefore: pinnedNow.Add(-time.Hour), NotAfter: pinnedNow.Add(time.Hour)}
	hugePub := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 16384), E: 65537}
	hugePub.N.Add(hugePub.N, big.NewInt(1))
	certDER, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, hugePub, signer)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseCertificatePEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}))
	check("certificate public key", err)

	// What inspect reports: the problems of a file holding such keys.
	f := mustParse(t, readTestdata(t, "traefik-v2-acme.json"))
	f["le-http"].Account.PrivateKey = pkcs1
	f["le-http"].Certificates[0].Key = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: pkcs1})
	var reasons []string
	for _, p := range f.Problems(pinnedNow) {
		if p.Resolver == "le-http" {
			reasons = append(reasons, p.Reason)
		}
	}
	if len(reasons) != 2 || !strings.Contains(reasons[0], refused) || !strings.Contains(reasons[1], refused) {
		t.Errorf("problems: %q", reasons)
	}
}

// TestInPlaceFailureKeepsEarlierCopy: when a rewrite was interrupted (the
// file torn, its copy beside it) and the next rewrite fails before touching
// the file, the copy — now the newer content — stays.
func TestInPlaceFailureKeepsEarlierCopy(t *testing.T) {
	busyRename(t)
	p := filepath.Join(t.TempDir(), "acme.json")
	good := readTestdata(t, "traefik-v3-acme.json")
	if err := os.WriteFile(p, append([]byte{0}, good[1:len(good)/2]...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+InPlaceCopySuffix, good, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"sync_dir", "open", "reserve"} {
		injectFault(t, step, 0)
		err := Update(p, func(f *File) error { f.Ensure("more-" + step); return nil })
		fault = nil
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("%s: %v", step, err)
		}
		f, err := Load(p)
		if err != nil {
			t.Fatalf("after a failure at %s: %v", step, err)
		}
		if f["more-"+step] == nil || len(f) < 4 {
			t.Fatalf("after a failure at %s: %v", step, f.ResolverNames())
		}
	}
}
