package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestDemo runs the demo once, as the README's first command does, and
// checks that it reports a verified certificate for every site and the
// answer to a real HTTPS request, and prints no curl line (Caddy is gone
// when -once exits, so one could never work).
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out, t.TempDir(), true); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	report := out.String()
	for _, s := range sites {
		if !strings.Contains(report, s.Name) || !strings.Contains(report, s.Challenge) {
			t.Errorf("report does not list %s via %s:\n%s", s.Name, s.Challenge, report)
		}
	}
	if strings.Contains(report, "curl --cacert") {
		t.Errorf("-once report offers a curl line that cannot work after exit:\n%s", report)
	}
	if !strings.Contains(report, "200 OK") || !strings.Contains(report, "hello from "+sites[0].Name) {
		t.Errorf("report has no answer to the HTTPS request:\n%s", report)
	}
}

// signalWriter is a concurrency-safe buffer that closes seen once the text
// written so far contains want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// curlLine matches the curl command the serving demo prints.
var curlLine = regexp.MustCompile(`curl --cacert (\S+) --resolve ([^:\s]+):(\d+):127\.0\.0\.1 https://([^:/\s]+):(\d+)/`)

// TestDemoServesTheCurlLine runs the demo in serving mode: the curl line it
// prints works while it serves (the request is made as curl would make it:
// the printed CA file, name and port).
func TestDemoServesTheCurlLine(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w := &signalWriter{want: "Serving; press Ctrl-C to stop.", seen: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- run(ctx, w, t.TempDir(), false) }()
	select {
	case <-w.seen:
	case err := <-done:
		t.Fatalf("demo ended before serving: %v\n%s", err, w.String())
	}
	m := curlLine.FindStringSubmatch(w.String())
	if m == nil {
		t.Fatalf("no curl line:\n%s", w.String())
	}
	caFile, name, port := m[1], m[2], m[3]
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	p := 0
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	status, body, err := httpsGet(ctx, net.JoinHostPort("127.0.0.1", port), name, p, roots)
	if err != nil || !strings.HasPrefix(status, "200") || !strings.Contains(body, "hello from "+name) {
		t.Errorf("the curl line's request: %q %q, %v", status, body, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("demo: %v", err)
	}
}
