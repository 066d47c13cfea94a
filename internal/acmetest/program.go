package acmetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Program is a TB for programs such as the offline demo and the benchmark
// driver, which run the CA outside `go test`. Use it through Run: a Fatal
// inside ends Run with an error, and cleanups run when Run returns.
type Program struct {
	dir      string
	n        int
	cleanups []func()
	failed   bool
}

// NewProgram returns a Program whose TempDir calls create directories
// under dir.
func NewProgram(dir string) *Program { return &Program{dir: dir} }

// programFatal carries a Fatal message from the CA harness to Run.
type programFatal string

// Run calls f, turns a Fatal raised while it runs into the returned error,
// and then runs the registered cleanups, last first.
func (p *Program) Run(f func() error) (err error) {
	defer func() {
		for i := len(p.cleanups) - 1; i >= 0; i-- {
			p.cleanups[i]()
		}
		p.cleanups = nil
	}()
	defer func() {
		if r := recover(); r != nil {
			msg, ok := r.(programFatal)
			if !ok {
				panic(r)
			}
			err = errors.New(string(msg))
		}
	}()
	return f()
}

// Helper implements TB.
func (p *Program) Helper() {}

// Cleanup implements TB.
func (p *Program) Cleanup(f func()) { p.cleanups = append(p.cleanups, f) }

// Failed implements TB.
func (p *Program) Failed() bool { return p.failed }

// Fatal implements TB: it ends the enclosing Run with an error.
func (p *Program) Fatal(args ...any) {
	p.failed = true
	panic(programFatal(fmt.Sprint(args...)))
}

// Fatalf implements TB: it ends the enclosing Run with an error.
func (p *Program) Fatalf(format string, args ...any) {
	p.failed = true
	panic(programFatal(fmt.Sprintf(format, args...)))
}

// Logf implements TB, writing to standard error.
func (p *Program) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// TempDir implements TB: a new directory under the Program's directory.
func (p *Program) TempDir() string {
	p.n++
	d := filepath.Join(p.dir, fmt.Sprintf("tmp-%d", p.n))
	if err := os.MkdirAll(d, 0o700); err != nil {
		p.Fatalf("creating %s: %v", d, err)
	}
	return d
}

var _ TB = (*Program)(nil)
