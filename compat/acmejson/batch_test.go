package acmejson

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestBatcherCoalesces holds the first write until every other update is
// queued: the 49 others must then be written together, in one load and
// one save, and every caller must find its change on disk when Update
// returns.
func TestBatcherCoalesces(t *testing.T) {
	path := copyFixture(t, "traefik-v3-acme.json", 0o600)
	before, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sample := before["le-tls"].Certificates[0]
	b := NewBatcher(path, LoadOptions{})

	const n = 50
	var (
		mu      sync.Mutex
		batches = map[*Resolver]int{} // the "le-tls" resolver of each loaded File
		release = make(chan struct{})
		first   = make(chan struct{})
		wg      sync.WaitGroup
		errs    = make([]error, n)
	)
	update := func(i int) {
		defer wg.Done()
		errs[i] = b.Update(func(f *File) error {
			mu.Lock()
			batches[(*f)["le-tls"]]++
			mu.Unlock()
			if i == 0 {
				close(first)
				<-release
			}
			(*f).Ensure("le-tls").Upsert([]string{fmt.Sprintf("batch%d.example.test", i)}, sample.Certificate, sample.Key)
			return nil
		})
		if errs[i] == nil {
			f, err := Load(path)
			if err != nil || !slices.ContainsFunc(f["le-tls"].Certificates, func(c *Certificate) bool {
				return c.Domain.Main == fmt.Sprintf("batch%d.example.test", i)
			}) {
				errs[i] = fmt.Errorf("update %d returned before its entry was on disk (load error %v)", i, err)
			}
		}
	}
	wg.Add(1)
	go update(0)
	<-first
	for i := 1; i < n; i++ {
		wg.Add(1)
		go update(i)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		b.mu.Lock()
		queued := len(b.pending)
		b.mu.Unlock()
		if queued == n-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d updates queued", queued, n-1)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var sizes []int
	for _, c := range batches {
		sizes = append(sizes, c)
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{1, n - 1}) {
		t.Errorf("batch sizes %v, want [1 %d]", sizes, n-1)
	}
	after, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(after["le-tls"].Certificates), len(before["le-tls"].Certificates)+n; got != want {
		t.Errorf("%d certificates after, want %d", got, want)
	}
}

// TestBatcherIsolatesFailures: a failing function gets its error back, the
// rest of its batch is written, and a later batch is unaffected.
func TestBatcherIsolatesFailures(t *testing.T) {
	path := copyFixture(t, "traefik-v3-acme.json", 0o600)
	before, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sample := before["le-tls"].Certificates[0]
	b := NewBatcher(path, LoadOptions{})
	boom := errors.New("boom")
	tests := []struct {
		name string
		fail bool
	}{
		{"ok1.example.test", false},
		{"bad.example.test", true},
		{"ok2.example.test", false},
	}
	for _, tt := range tests {
		err := b.Update(func(f *File) error {
			if tt.fail {
				return boom
			}
			f.Ensure("le-tls").Upsert([]string{tt.name}, sample.Certificate, sample.Key)
			return nil
		})
		if tt.fail != errors.Is(err, boom) {
			t.Fatalf("%s: error %v", tt.name, err)
		}
	}
	after, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range after["le-tls"].Certificates {
		names = append(names, c.Domain.Main)
	}
	if !slices.Contains(names, "ok1.example.test") || !slices.Contains(names, "ok2.example.test") || slices.Contains(names, "bad.example.test") {
		t.Errorf("names in the file: %v", names)
	}
}
