//go:build unix

package acmejson

import (
	"bufio"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Child processes are this test binary re-executed with these variables set.
const (
	envChildRole = "ACMEJSON_TEST_CHILD"
	envChildFile = "ACMEJSON_TEST_FILE"
	envChildTag  = "ACMEJSON_TEST_TAG"
	envChildN    = "ACMEJSON_TEST_N"
)

func childCommand(t *testing.T, test, role, file, tag string, n int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envChildRole+"="+role, envChildFile+"="+file, envChildTag+"="+tag, envChildN+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	return cmd
}

// childEntry is the certificate entry children add: one real P-256 leaf
// (without its intermediate, to keep the file small) and its key; names
// differ per entry.
func childEntry(t testing.TB) *Certificate {
	c := *mustParse(t, readTestdata(t, "traefik-v3.6.21-rich-acme.json"))["http-ec"].Certificates[1]
	block, _ := pem.Decode(c.Certificate)
	c.Certificate = pem.EncodeToMemory(block)
	return &c
}

// crashChild loads the file and saves it n times, adding one entry per save
// and printing "saved <name>" once each save has returned.
func crashChild(t *testing.T) {
	path, tag := os.Getenv(envChildFile), os.Getenv(envChildTag)
	n, _ := strconv.Atoi(os.Getenv(envChildN))
	f, err := Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child load:", err)
		os.Exit(3)
	}
	entry := childEntry(t)
	r := f.Ensure("crash")
	for i := range n {
		name := fmt.Sprintf("%s-%d.example.test", tag, i)
		r.Upsert([]string{name}, entry.Certificate, entry.Key)
		if err := Save(path, f); err != nil {
			fmt.Fprintln(os.Stderr, "child save:", err)
			os.Exit(4)
		}
		if _, err := fmt.Fprintf(os.Stdout, "saved %s\n", name); err != nil {
			os.Exit(5)
		}
	}
}

// TestCrashSafety kills a process that keeps saving a large file (SIGKILL at
// random points, several times) and checks after each kill that the file
// loads and that no entry, old or confirmed, is lost.
func TestCrashSafety(t *testing.T) {
	if os.Getenv(envChildRole) == "crash" {
		crashChild(t)
		return
	}
	const (
		bulk         = 200  // ~1.1 MB file
		minKills     = 6    // SIGKILLs
		minConfirmed = 1000 // saves confirmed across all children
		perChild     = 400  // saves a child attempts before it is killed
	)
	path := filepath.Join(t.TempDir(), "acme.json")
	base := largeFile(t, bulk)
	if err := Save(path, base); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() < 1<<20 {
		t.Fatalf("file is only %d bytes", fi.Size())
	}
	baseNames := allNames(base)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	confirmed := map[string]bool{}
	kills := 0
	for run := 0; kills < minKills || len(confirmed) < minConfirmed; run++ {
		if run > 60 {
			t.Fatalf("gave up after %d runs (%d kills, %d confirmed saves)", run, kills, len(confirmed))
		}
		tag := fmt.Sprintf("r%d", run)
		cmd := childCommand(t, "TestCrashSafety", "crash", path, tag, perChild)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of confirmed saves plus a random delay,
		// so that the kill lands in different phases of a save.
		killAfter := 20 + rng.IntN(250)
		sc := bufio.NewScanner(out)
		seen := 0
		killed := false
		for sc.Scan() {
			name, ok := strings.CutPrefix(sc.Text(), "saved ")
			if !ok {
				continue
			}
			confirmed["crash/"+name] = true
			seen++
			if seen == killAfter && !killed {
				spinFor(time.Duration(rng.IntN(3000)) * time.Microsecond)
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		if killed {
			kills++
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child did not die of SIGKILL: %v", err)
			}
		} else if err != nil {
			t.Fatalf("child failed: %v", err)
		}

		f, err := Load(path)
		if err != nil {
			t.Fatalf("after kill %d: load failed: %v", kills, err)
		}
		got := allNames(f)
		for n := range baseNames {
			if !got[n] {
				t.Fatalf("after kill %d: base entry %s lost", kills, n)
			}
		}
		for n := range confirmed {
			if !got[n] {
				t.Fatalf("after kill %d: confirmed entry %s lost", kills, n)
			}
		}
		if extra := len(got) - len(baseNames) - len(confirmed); extra < 0 || extra > 1 {
			t.Fatalf("after kill %d: %d unexpected entries", kills, extra)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %o", fi.Mode().Perm())
		}
		// Children resume from what is on disk, so entries accumulate; keep
		// the test's notion of the truth in step.
		for n := range got {
			if !baseNames[n] {
				confirmed[n] = true
			}
		}
	}
	t.Logf("%d kills, %d saves confirmed", kills, len(confirmed))
	// A final save removes any temporary file a killed writer left behind.
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(path, f); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, filepath.Dir(path)); len(names) != 1 {
		t.Errorf("leftover files: %v", names)
	}
}

// spinFor busy-waits for d: a short, randomized delay before a kill, not a
// synchronization.
func spinFor(d time.Duration) {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
	}
}

// updateChild adds n entries, one Update each.
func updateChild(t *testing.T) {
	path, tag := os.Getenv(envChildFile), os.Getenv(envChildTag)
	n, _ := strconv.Atoi(os.Getenv(envChildN))
	entry := childEntry(t)
	for i := range n {
		name := fmt.Sprintf("%s-%d.example.test", tag, i)
		err := Update(path, func(f *File) error {
			f.Ensure("shared").Upsert([]string{name}, entry.Certificate, entry.Key)
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "child update:", err)
			os.Exit(4)
		}
	}
}

// TestConcurrentUpdates runs two processes that each add 500 different
// certificates to the same resolver of one file through Update; none may be
// lost.
func TestConcurrentUpdates(t *testing.T) {
	if os.Getenv(envChildRole) == "update" {
		updateChild(t)
		return
	}
	const perChild = 500
	path := copyFixture(t, "traefik-v3.6.21-rich-acme.json", 0o600)
	var cmds []*exec.Cmd
	for _, tag := range []string{"a", "b"} {
		cmd := childCommand(t, "TestConcurrentUpdates", "update", path, tag, perChild)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	shared := f["shared"]
	if shared == nil || len(shared.Certificates) != 2*perChild {
		t.Fatalf("shared has %d entries, want %d", len(shared.Certificates), 2*perChild)
	}
	got := allNames(f)
	for _, tag := range []string{"a", "b"} {
		for i := range perChild {
			if n := fmt.Sprintf("shared/%s-%d.example.test", tag, i); !got[n] {
				t.Fatalf("%s lost", n)
			}
		}
	}
	orig := mustParse(t, readTestdata(t, "traefik-v3.6.21-rich-acme.json"))
	for rn, r := range orig {
		if !reflect.DeepEqual(f[rn], r) {
			t.Errorf("resolver %s changed", rn)
		}
	}
}
