package acmejson

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"syscall"
	"testing"
)

// mountOrSkip mounts (a tmpfs of size bytes, or a bind mount of source)
// onto target, unmounting at the end of the test. Without the privilege to
// mount, the test is skipped.
func mountOrSkip(t *testing.T, source, target, fstype string, flags uintptr, data string) {
	t.Helper()
	if err := syscall.Mount(source, target, fstype, flags, data); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("cannot mount (%v): needs root with CAP_SYS_ADMIN", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(target, 0); err != nil {
			t.Errorf("unmounting %s: %v", target, err)
		}
	})
}

// bindFile bind-mounts the host file onto a new file in a fresh folder, as
// `docker run -v host/acme.json:/x/acme.json` does, and returns its path.
func bindFile(t *testing.T, host string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "acme.json")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mountOrSkip(t, host, p, "", syscall.MS_BIND, "")
	return p
}

// TestBindMountedFileOnFullDisk uses a real single-file bind mount (rename
// gives EBUSY) of a file on a real, full tmpfs (writes give ENOSPC): a save
// fails and leaves the host file exactly as it was; once space is freed,
// the save goes through in place.
func TestBindMountedFileOnFullDisk(t *testing.T) {
	hostDir := t.TempDir()
	mountOrSkip(t, "tmpfs", hostDir, "tmpfs", 0, "size=256k")
	host := filepath.Join(hostDir, "acme.json")
	old := readTestdata(t, "traefik-v2-acme.json")
	if err := os.WriteFile(host, old, 0o600); err != nil {
		t.Fatal(err)
	}
	ctr := bindFile(t, host)
	// Fill the disk.
	filler := filepath.Join(hostDir, "filler")
	fh, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := fh.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	fh.Close()

	newF := largeFile(t, 10) // larger than the old file
	err = Save(ctr, newF)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("save on a full disk: %v", err)
	}
	if got, _ := os.ReadFile(host); !reflect.DeepEqual(got, old) {
		t.Fatal("host file changed by a failed save")
	}
	if f, err := Load(ctr); err != nil || !reflect.DeepEqual(f, mustParse(t, old)) {
		t.Fatalf("load after the failed save: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := Save(ctr, newF); err != nil {
		t.Fatal(err)
	}
	if f, err := Load(host); err != nil || !reflect.DeepEqual(f, newF) {
		t.Fatalf("host file after the save: %v", err)
	}
	if names := dirNames(t, filepath.Dir(ctr)); !reflect.DeepEqual(names, []string{"acme.json"}) {
		t.Errorf("files beside the mounted file: %v", names)
	}
}

// TestTwoContainersShareTheLock: two folders bind-mounting one host file
// (two containers) update it concurrently; since the lock is on the file,
// no update is lost.
func TestTwoContainersShareTheLock(t *testing.T) {
	host := copyFixture(t, "traefik-v2-acme.json", 0o600)
	paths := []string{bindFile(t, host), bindFile(t, host)}
	entry := childEntry(t)
	const perWriter = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*perWriter)
	for w, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				name := fmt.Sprintf("c%d-%d.example.test", w, i)
				errs <- Update(p, func(f *File) error {
					f.Ensure("shared").Upsert([]string{name}, entry.Certificate, entry.Key)
					return nil
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := Load(host)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f["shared"].Certificates); n != 2*perWriter {
		t.Fatalf("%d entries, want %d: updates were lost", n, 2*perWriter)
	}
}
