//go:build unix && !aix

package export_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/store"
	"golang.org/x/sys/unix"
)

// pausingSource is a store whose first read for the feed of all sources
// (no source filter) reads, then tells read and waits for resume before
// it yields what it read: a refresh caught between its read and its
// writes.
type pausingSource struct {
	*store.Store
	once         sync.Once
	read, resume chan struct{}
}

func (p *pausingSource) EachChange(ctx context.Context, f store.ChangeFilter, fn func(*store.Change) error) error {
	pause := false
	if len(f.Sources) == 0 {
		p.once.Do(func() { pause = true })
	}
	if !pause {
		return p.Store.EachChange(ctx, f, fn)
	}
	var got []store.Change
	if err := p.Store.EachChange(ctx, f, func(c *store.Change) error {
		got = append(got, *c)
		return nil
	}); err != nil {
		return err
	}
	close(p.read)
	<-p.resume // the test resumes it once the other refresh ended or waited a while
	for i := range got {
		if err := fn(&got[i]); err != nil {
			return err
		}
	}
	return nil
}

// TestFeedFilesOfRunsFinishingTogether: run A of source a reads the store
// for the feed of all sources; run B of source b then commits a new
// publication and refreshes the feeds; A writes what it read. The feed
// of all sources must still list B's publication: B's refresh waits for
// A's to end, then reads the store again.
func TestFeedFilesOfRunsFinishingTogether(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := t0
	st := openStore(t, func() time.Time { return clock })
	add := func(source, key, title string) {
		t.Helper()
		clock = clock.Add(time.Hour)
		r := record.Record{Key: "https://example.int/" + key, URL: "https://example.int/" + key, Title: title}
		r.Normalize()
		if _, err := st.ApplyRun(ctx, store.RunInput{Source: source, StartedAt: clock, FinishedAt: clock,
			Status: store.StatusComplete, Records: []record.Record{r}}); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	add("a", "a1", "Publication of A")
	pa := &pausingSource{Store: st, read: make(chan struct{}), resume: make(chan struct{})}
	errA := make(chan error, 1)
	go func() { errA <- export.WriteFeedFiles(ctx, out, "a", pa, clock) }()
	<-pa.read // A has read the store: it holds no trace of b1

	add("b", "b1", "Publication of B")
	errB := make(chan error, 1)
	go func() { errB <- export.WriteFeedFiles(ctx, out, "b", st, clock) }()
	select {
	case err := <-errB: // B did not wait for A
		close(pa.resume)
		t.Logf("B's refresh ended while A's was between its read and its writes (err %v)", err)
	case <-time.After(100 * time.Millisecond):
		close(pa.resume)
		if err := <-errB; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-errA; err != nil {
		t.Fatal(err)
	}
	for _, name := range export.FeedFiles {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "Publication of B") || !strings.Contains(string(b), "Publication of A") {
			t.Errorf("%s of all sources lacks a publication after both runs' refreshes:\n%s", name, b)
		}
	}
}

// TestFeedFilesWaitForTheLock: a refresh waits while another process
// holds the feeds' lock, and gives up with the context's error.
func TestFeedFilesWaitForTheLock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, fixedNow)
	out := filepath.Join(dir, "out")
	unlock := holdFeedsLock(t, out)
	cctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := export.WriteFeedFiles(cctx, out, "a", st, t0)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("refresh while the lock is held: err %v after %v; want it to wait, then the context's error", err, time.Since(start))
	}
	if export.HaveFeedFiles(out, "a") {
		t.Fatal("feeds were written without the lock")
	}
	unlock()
	if err := export.WriteFeedFiles(ctx, out, "a", st, t0); err != nil || !export.HaveFeedFiles(out, "a") {
		t.Fatalf("refresh after the lock is released: %v", err)
	}
}

// holdFeedsLock takes the feeds' lock of outDir as another process
// would (its own open file), until unlock.
func holdFeedsLock(t *testing.T, outDir string) (unlock func()) {
	t.Helper()
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(outDir, ".feeds.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN) }
}

// TestFeedFilesWithoutALock: where the lock file cannot be opened at all
// (here a link to a directory that does not exist), the feeds are
// refreshed without the lock, as before there was one.
func TestFeedFilesWithoutALock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, fixedNow)
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "no", "such", "dir"), filepath.Join(out, ".feeds.lock")); err != nil {
		t.Fatal(err)
	}
	if err := export.WriteFeedFiles(ctx, out, "a", st, t0); err != nil || !export.HaveFeedFiles(out, "a") {
		t.Fatalf("refresh with no lock to be had: %v", err)
	}
}
