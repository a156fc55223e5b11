package runner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/crawler"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/runner"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// cancelAfterCrawler cancels the run's context once the fetcher has
// returned a listing page whose URL contains after (a shutdown arriving
// mid-run).
type cancelAfterCrawler struct {
	inner  runner.Crawler
	after  string
	cancel context.CancelFunc
}

func (c cancelAfterCrawler) Open(ctx context.Context, s *seeds.Seed) (runner.Fetcher, error) {
	f, err := c.inner.Open(ctx, s)
	if err != nil {
		return nil, err
	}
	return cancelAfterFetcher{f, c}, nil
}

type cancelAfterFetcher struct {
	inner runner.Fetcher
	c     cancelAfterCrawler
}

func (f cancelAfterFetcher) Fetch(ctx context.Context, u string, v crawler.Validators) (*crawler.Page, error) {
	p, err := f.inner.Fetch(ctx, u, v)
	if strings.Contains(u, f.c.after) {
		f.c.cancel()
	}
	return p, err
}

// runCancelledAfter runs h's seed one night later, cancelling the run
// once a fetched URL contains after, and checks the run is stored as
// partial.
func runCancelledAfter(t *testing.T, h *harness, after string) *runner.Result {
	t.Helper()
	h.now = h.now.Add(24 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cr := crawler.New(crawler.Config{Now: time.Now, Sleep: func(context.Context, time.Duration) error { return nil }})
	res, err := runner.Run(ctx, runner.Deps{
		Crawler: cancelAfterCrawler{inner: runner.FromCrawler(cr), after: after, cancel: cancel},
		Store:   h.st, Now: h.clock,
	}, h.seed)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Status != store.StatusPartial {
		t.Fatalf("cancelled run = %s (%s), want partial", counts(res.Run), res.Run.Reason)
	}
	return res
}

// A detail-follow source whose run is cancelled mid-walk (a daemon
// shutdown, Ctrl-C): the run is stored as partial with what it saw, and
// the records whose detail pages were not read keep the detail values
// the store holds — a cut-short run is never read as "the publisher was
// erased".
func TestCancelledDetailRunKeepsDetailFields(t *testing.T) {
	h := newHarness(t, 10, "detail:\n  fields:\n    publisher: {label: Publisher}\n")
	if r := h.night(); r.Run.Status != store.StatusComplete || r.Run.Added != 10 {
		t.Fatalf("night 1 = %s", counts(r.Run))
	}
	// Night 2: one summary on the first listing page is edited (the page
	// is parsed again, its four records held for the detail pass); the
	// run is cancelled once the second listing page is fetched.
	h.lib.set(func(l *library) { l.items[0].summary = "Edited" })
	res := runCancelledAfter(t, h, "page=1")
	if res.Run.Updated > 1 {
		t.Errorf("cancelled run with one edited item updated %d records (%s)", res.Run.Updated, counts(res.Run))
	}
	recs := publishers(t, h)
	for k, pub := range recs {
		if pub != "IOM" {
			t.Errorf("record %s: publisher %q after the cancelled run, want IOM", k, pub)
		}
	}
}

func publishers(t *testing.T, h *harness) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := h.st.EachRecord(context.Background(), store.RecordFilter{}, func(r *record.Record) error {
		out[r.Key] = r.Extra["publisher"]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The same when the cancellation comes during the detail pass: the
// edited items whose detail pages were not fetched yet keep the detail
// values the store holds, as after a failed detail page.
func TestDetailPassCancelledKeepsDetailFields(t *testing.T) {
	h := newHarness(t, 10, "detail:\n  fields:\n    publisher: {label: Publisher}\n")
	if r := h.night(); r.Run.Status != store.StatusComplete || r.Run.Added != 10 {
		t.Fatalf("night 1 = %s", counts(r.Run))
	}
	h.lib.set(func(l *library) {
		for i := range l.items {
			l.items[i].summary += " (edited)"
		}
	})
	h.seed.Politeness.Concurrency = 1
	runCancelledAfter(t, h, "/pub/")
	lost := 0
	for _, pub := range publishers(t, h) {
		if pub != "IOM" {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of 10 records lost their publisher in a run cancelled during the detail pass", lost)
	}
}

// A key listed on two pages: the first listing wins, with or without a
// detail follow (records held until the detail pass), on the first run
// and after the first page is edited.
func TestDuplicateKeyAcrossPagesFirstWins(t *testing.T) {
	for _, extra := range []string{"", "detail:\n  fields:\n    publisher: {label: Publisher}\n"} {
		t.Run(fmt.Sprint(extra != ""), func(t *testing.T) {
			h := newHarness(t, 10, extra)
			h.lib.set(func(l *library) { l.items[6].slug, l.items[6].title = l.items[1].slug, "Later copy" })
			title := func() string {
				var got string
				h.st.EachRecord(context.Background(), store.RecordFilter{}, func(r *record.Record) error {
					if strings.HasSuffix(r.Key, "/pub/"+h.lib.items[1].slug) {
						got = r.Title
					}
					return nil
				})
				return got
			}
			r1 := h.night()
			if got := title(); got != "Publication 2" || r1.Run.Added != 9 {
				t.Fatalf("night 1: %s, title %q; want 9 added and the first listing's title", counts(r1.Run), got)
			}
			h.lib.set(func(l *library) { l.items[0].summary = "Edited" }) // page 0 parsed again, page 1 not modified
			r2 := h.night()
			if got := title(); got != "Publication 2" || r2.Run.Updated != 1 {
				t.Fatalf("night 2: %s, title %q; want 1 updated and the first listing's title", counts(r2.Run), got)
			}
			// Another item of page 1 edited: page 1 parsed again, page 0
			// not modified. Neither listing of the key changed.
			h.lib.set(func(l *library) { l.items[5].summary = "Edited too" })
			r3 := h.night()
			if got := title(); got != "Publication 2" || r3.Run.Updated != 1 {
				t.Errorf("night 3: %s, title %q; want 1 updated (pub-06) and the first listing's title kept", counts(r3.Run), got)
			}
			for _, c := range r3.Changes {
				if strings.HasSuffix(c.Key, "/pub/"+h.lib.items[1].slug) {
					t.Errorf("night 3: spurious %s of %s: %+v", c.Kind, c.Key, c.Fields)
				}
			}
		})
	}
}

// A run whose context is already cancelled when it starts is recorded
// as partial ("The run is recorded even when ctx was cancelled",
// verdictOfOpen's "cancelled before the first page"), not lost.
func TestRunCancelledBeforeStartIsRecorded(t *testing.T) {
	h := newHarness(t, 10)
	h.night()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cr := crawler.New(crawler.Config{Now: time.Now, Sleep: func(context.Context, time.Duration) error { return nil }})
	res, err := runner.Run(ctx, runner.Deps{Crawler: runner.FromCrawler(cr), Store: h.st, Now: h.clock}, h.seed)
	if err != nil {
		t.Fatalf("run cancelled before it started: %v", err)
	}
	if res.Run.Status != store.StatusPartial || res.Run.Removed != 0 {
		t.Errorf("run = %s (%s)", counts(res.Run), res.Run.Reason)
	}
}

// A run cancelled mid-walk keeps what it saw (partial: updates of the
// pages read, nothing removed), staged page by page.
func TestCancelledRunKeepsWhatItSaw(t *testing.T) {
	h := newHarness(t, 10)
	h.night()
	h.night()
	h.lib.set(func(l *library) {
		l.items[0].summary = "Edited"
		l.items[9].summary = "Edited" // page 2, never reached
	})
	for range 3 {
		if res := runCancelledAfter(t, h, "page=1"); res.Run.Removed != 0 {
			t.Fatalf("cancelled run removed records: %s (%s)", counts(res.Run), res.Run.Reason)
		}
	}
	if n := len(h.currentKeys()); n != 10 {
		t.Errorf("%d current records after cancelled runs, want 10", n)
	}
}
