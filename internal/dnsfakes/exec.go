package dnsfakes

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// ExecScript is a POSIX shell script for lego's exec protocol that appends
// each invocation's arguments (tab-separated, one line per call) to a log
// file and exits with a fixed code.
type ExecScript struct {
	// Path is the script, for EXEC_PATH.
	Path string
	// LogPath is the file the script appends to.
	LogPath string
}

// NewExecScript writes the script into t.TempDir(). exitCode is what every
// run returns; a non-zero code also prints "exec failed" on stderr.
func NewExecScript(t testing.TB, exitCode int) *ExecScript {
	t.Helper()
	dir := t.TempDir()
	s := &ExecScript{Path: filepath.Join(dir, "dns-hook.sh"), LogPath: filepath.Join(dir, "calls.log")}
	script := fmt.Sprintf(`#!/bin/sh
tab=$(printf '\t')
line=''
sep=''
for a in "$@"; do line="$line$sep$a"; sep="$tab"; done
printf '%%s\n' "$line" >> %s
if [ %d -ne 0 ]; then echo "exec failed" >&2; fi
exit %d
`, shellQuote(s.LogPath), exitCode, exitCode)
	if err := os.WriteFile(s.Path, []byte(script), 0o700); err != nil {
		t.Fatalf("writing exec script: %v", err)
	}
	return s
}

// Calls returns the arguments of every run so far.
func (s *ExecScript) Calls(t testing.TB) [][]string {
	t.Helper()
	data, err := os.ReadFile(s.LogPath)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("reading exec log: %v", err)
	}
	var calls [][]string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line != "" {
			calls = append(calls, strings.Split(line, "\t"))
		}
	}
	return calls
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// execForwardEnv makes a test binary started by an ExecForwarder script
// forward its arguments instead of running tests (see init).
const execForwardEnv = "DNSFAKES_EXEC_FORWARD_URL"

// init turns the current test binary into an exec-protocol hook when it is
// started by an ExecForwarder script: it posts its arguments to the
// forwarder and exits with 0 on success, 1 on failure. Nothing happens
// unless DNSFAKES_EXEC_FORWARD_URL is set, which only those scripts do.
func init() {
	if target := os.Getenv(execForwardEnv); target != "" {
		os.Exit(forwardExec(target, os.Args[1:]))
	}
}

// forwardExec posts args to target and returns the process exit code.
func forwardExec(target string, args []string) int {
	body, _ := json.Marshal(args)
	resp, err := http.Post(target, "application/json", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnsfakes exec forwarder:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "dnsfakes exec forwarder: HTTP", resp.Status)
		return 1
	}
	return 0
}

// ExecForwarder is an exec-protocol program that applies every call to a
// Sink, for end-to-end tests: its script re-runs the current test binary,
// whose dnsfakes init posts the arguments back to this process. It needs
// no tool besides /bin/sh. The calling test binary must import dnsfakes
// (it does, to call NewExecForwarder).
type ExecForwarder struct {
	// Path is the script, for EXEC_PATH.
	Path string

	mu    sync.Mutex
	calls [][]string
}

// NewExecForwarder creates the script in t.TempDir() and the loopback
// endpoint it reports to. Both lego modes are understood:
// "present|cleanup <fqdn> <value>" and "present|cleanup -- <domain> <token>
// <keyAuth>".
func NewExecForwarder(t testing.TB, sink Sink) *ExecForwarder {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("finding the test binary: %v", err)
	}
	f := &ExecForwarder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var args []string
		if err := json.NewDecoder(r.Body).Decode(&args); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		action, fqdn, value, ok := parseExecArgs(args)
		if !ok {
			http.Error(w, "unexpected arguments", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.calls = append(f.calls, args)
		f.mu.Unlock()
		if sink != nil {
			if action == "present" {
				sink.AddTXT(fqdn, value)
			} else {
				sink.DeleteTXT(fqdn, value)
			}
		}
	}))
	t.Cleanup(srv.Close)
	f.Path = filepath.Join(t.TempDir(), "dns-forward.sh")
	script := fmt.Sprintf("#!/bin/sh\n%s=%s exec %s \"$@\"\n", execForwardEnv, shellQuote(srv.URL), shellQuote(self))
	if err := os.WriteFile(f.Path, []byte(script), 0o700); err != nil {
		t.Fatalf("writing exec forwarder script: %v", err)
	}
	return f
}

// Calls returns the arguments of every forwarded run.
func (f *ExecForwarder) Calls() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// parseExecArgs decodes both lego exec argument shapes.
func parseExecArgs(args []string) (action, fqdn, value string, ok bool) {
	if len(args) == 0 || (args[0] != "present" && args[0] != "cleanup") {
		return "", "", "", false
	}
	switch {
	case len(args) == 3:
		return args[0], args[1], args[2], true
	case len(args) == 5 && args[1] == "--":
		sum := sha256.Sum256([]byte(args[4]))
		fqdn = "_acme-challenge." + strings.TrimPrefix(strings.TrimSuffix(args[2], "."), "*.") + "."
		return args[0], fqdn, base64.RawURLEncoding.EncodeToString(sum[:]), true
	}
	return "", "", "", false
}
