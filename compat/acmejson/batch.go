package acmejson

import (
	"context"
	"sync"
)

// Batcher coalesces concurrent updates of one acme.json file. Each call of
// [Batcher.Update] returns once its change is on disk, like [Update], but
// changes submitted while a write is in progress are applied together by
// the next write: one load and one save of the whole file for all of them.
//
// That is what makes mirroring cheap when many certificates arrive at once:
// a write of a 5,000-certificate file costs a quarter of a second (parsing,
// encoding and fsyncing ~30 MB), so 100 certificates obtained together would
// otherwise wait for each other for 25 s; batched, each waits for at most
// two writes.
//
// A Batcher is safe for concurrent use. Writers in other processes (or
// other Batchers for the same path) are serialised by the file's lock, as
// with Update.
type Batcher struct {
	path string
	opts LoadOptions

	mu      sync.Mutex // guards pending
	pending []*batchOp

	writeMu sync.Mutex // held by the goroutine writing a batch
}

// batchOp is one submitted change and, once written, its outcome.
type batchOp struct {
	fn   func(*File) error
	err  error
	done chan struct{}
}

// NewBatcher returns a Batcher for the file at path, loaded with opts (see
// [Update]).
func NewBatcher(path string, opts LoadOptions) *Batcher {
	return &Batcher{path: path, opts: opts}
}

// Path returns the file the Batcher writes.
func (b *Batcher) Path() string { return b.path }

// Update applies fn to the file, batched with concurrent calls, and returns
// when the batch holding fn is saved (or failed). Functions of one batch
// run in submission order on the same freshly loaded File. fn must not
// replace the File, and must return its error before changing anything: a
// failing fn gets its own error back and the rest of the batch is written
// without it. An error loading or saving the file is returned to every
// caller of the batch.
func (b *Batcher) Update(fn func(*File) error) error {
	return b.UpdateContext(context.Background(), fn)
}

// UpdateContext is [Batcher.Update] with a context: the wait for the
// file's lock (see [UpdateContext]) ends when ctx of the caller that
// writes the batch is done, and then every change of that batch gets the
// error.
func (b *Batcher) UpdateContext(ctx context.Context, fn func(*File) error) error {
	op := &batchOp{fn: fn, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, op)
	b.mu.Unlock()

	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	select {
	case <-op.done:
		// The previous writer took this op into its batch.
		return op.err
	default:
	}
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	b.mu.Unlock()

	opErrs := make([]error, len(batch))
	err := UpdateContext(ctx, b.path, func(f *File) error {
		for i, o := range batch {
			opErrs[i] = o.fn(f)
		}
		return nil
	}, b.opts)
	for i, o := range batch {
		o.err = opErrs[i]
		if err != nil {
			o.err = err
		}
		close(o.done)
	}
	return op.err
}
