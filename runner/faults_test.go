package runner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/crawler"
	"github.com/harvest-dev/harvest/faultsite"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/runner"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// waits records the crawler's politeness and retry waits without waiting.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) take() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.d
	w.d = nil
	return d
}

// faultRig is a faultsite library, a seed of it, a real store and the
// crawler settings of each night.
type faultRig struct {
	t          *testing.T
	srv        *faultsite.Server
	site       *faultsite.Site
	seed       *seeds.Seed
	st         *store.Store
	now        time.Time
	waits      waits
	maxRetries int  // crawler.Config.MaxRetries
	guarded    bool // the crawler's own transport (address guard) instead of the site's
	base       string
}

func newFaultRig(t *testing.T, n int) *faultRig {
	t.Helper()
	site := faultsite.New(n)
	srv, err := site.Serve()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	r := &faultRig{t: t, srv: srv, site: site, now: time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC), base: srv.NamedURL()}
	r.seed, err = seeds.Parse("fault.yaml", faultsite.SeedYAML("fault-library", r.base))
	if err != nil {
		t.Fatal(err)
	}
	r.st, err = store.Open(context.Background(), filepath.Join(t.TempDir(), "faults.db"), store.Options{Now: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.st.Close() })
	return r
}

func (r *faultRig) clock() time.Time { return r.now }

// night runs the source once, a day after the previous run, and returns
// the run as stored with its page outcomes.
func (r *faultRig) night() (*store.Run, []store.PageOutcome) {
	r.t.Helper()
	r.now = r.now.Add(24 * time.Hour)
	cfg := crawler.Config{Now: r.clock, Sleep: r.waits.sleep, MaxRetries: r.maxRetries}
	if !r.guarded {
		cfg.Transport = r.srv.Transport()
	}
	res, err := runner.Run(context.Background(), runner.Deps{Crawler: runner.FromCrawler(crawler.New(cfg)), Store: r.st, Now: r.clock}, r.seed)
	if err != nil {
		r.t.Fatal(err)
	}
	run, pages, err := r.st.Run(context.Background(), res.Run.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return run, pages
}

// snapshot is every record of the store (removed ones too): key ->
// content hash, with "removed" appended to a removed record's hash.
func (r *faultRig) snapshot() map[string]string {
	r.t.Helper()
	snap := map[string]string{}
	err := r.st.EachRecord(context.Background(), store.RecordFilter{IncludeRemoved: true}, func(rec *record.Record) error {
		v := rec.ContentHash
		if rec.RemovedAt != nil {
			v += " removed"
		}
		snap[rec.Key] = v
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return snap
}

// faultCase is one failure of issue 4: what to break, and what the run
// must say about it.
type faultCase struct {
	name  string
	setup func(r *faultRig) // before night 1 (seed limits, robots.txt)
	// inject breaks the site (or the crawler's view of it) after night 1.
	inject func(r *faultRig)
	status store.Status
	// url is the URL the reason must name, relative to the site ("" for
	// none beyond the source).
	url string
	// cause are substrings of the reason (and of the failed page's error).
	cause []string
	// page is the listing page whose stored outcome must carry the error
	// (-1: no page outcome to check; the run stopped before any page).
	page int
	// waits, if set, checks the retry and politeness waits of a fault
	// night.
	waits func(t *testing.T, got []time.Duration)
}

func pageURL(base string, n int) string {
	if n == 0 {
		return base + "/list"
	}
	return fmt.Sprintf("%s/list?page=%d", base, n)
}

func page1(f faultsite.Fault) func(r *faultRig) {
	return func(r *faultRig) { r.site.Set(1, f) }
}

func everyPage(f faultsite.Fault) func(r *faultRig) {
	return func(r *faultRig) { r.site.SetAll(f) }
}

// shortTimeout applies f with a short limits.timeout and one retry, so
// that hangs cost little; night 1 and the healed night keep the seed's
// generous timeout, so a loaded machine cannot make them fail.
func shortTimeout(f func(r *faultRig)) func(r *faultRig) {
	return func(r *faultRig) {
		r.seed.Limits.Timeout = seeds.Duration(500 * time.Millisecond)
		r.maxRetries = 1
		f(r)
	}
}

// allEqual checks n waits of exactly d (the retries of each fault night).
func allEqual(n int, d time.Duration) func(t *testing.T, got []time.Duration) {
	return func(t *testing.T, got []time.Duration) {
		t.Helper()
		if len(got) != n || slices.ContainsFunc(got, func(g time.Duration) bool { return g != d }) {
			t.Errorf("waits = %v, want %d waits of %v", got, n, d)
		}
	}
}

func TestFaults(t *testing.T) {
	retries := crawler.DefaultMaxRetries
	cases := []faultCase{
		// The network.
		{name: "DNS failure blocks the run through robots.txt", inject: func(r *faultRig) { r.site.SetNetwork(faultsite.NoSuchHost) },
			status: store.StatusBlocked, url: "/robots.txt", cause: []string{"robots.txt unavailable", "no such host"}, page: -1},
		{name: "DNS failure without robots.txt fails the run", setup: noRobots, inject: func(r *faultRig) { r.site.SetNetwork(faultsite.NoSuchHost) },
			status: store.StatusFailed, url: "/list", cause: []string{"lookup " + faultsite.Host, "no such host"}, page: 0},
		{name: "connection refused", inject: func(r *faultRig) { r.site.SetNetwork(faultsite.Refused) },
			status: store.StatusBlocked, url: "/robots.txt", cause: []string{"robots.txt unavailable", "connection refused"}, page: -1},
		{name: "connection refused without robots.txt", setup: noRobots, inject: func(r *faultRig) { r.site.SetNetwork(faultsite.Refused) },
			status: store.StatusFailed, url: "/list", cause: []string{"connection refused"}, page: 0},
		{name: "connection reset mid-body", inject: page1(faultsite.Is(faultsite.Reset)),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"connection reset by peer", fmt.Sprintf("gave up after %d attempts", retries+1)}, page: 1},
		{name: "address turns private", setup: func(r *faultRig) { r.guarded = true; r.useLoopbackURL() },
			inject: func(r *faultRig) { r.seed.AllowPrivateNetworks = false },
			status: store.StatusFailed, url: "/robots.txt", cause: []string{"loopback address", "allow_private_networks"}, page: -1},

		// Time.
		{name: "server hangs before headers", inject: shortTimeout(page1(faultsite.Is(faultsite.Hang))),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"no complete response within limits.timeout (500ms)", "gave up after 2 attempts"}, page: 1},
		{name: "body trickles", inject: shortTimeout(page1(faultsite.Is(faultsite.Trickle))),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"no complete response within limits.timeout (500ms)", "gave up after 2 attempts"}, page: 1},

		// Bodies.
		{name: "truncated body", inject: page1(faultsite.Is(faultsite.Truncate)),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"truncated or corrupt body", "unexpected EOF"}, page: 1,
			waits: allEqual(0, 0)},
		{name: "broken chunked encoding", inject: page1(faultsite.Is(faultsite.BadChunked)),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"truncated or corrupt body", "chunk"}, page: 1, waits: allEqual(0, 0)},
		{name: "body over max_body", setup: maxBody, inject: page1(faultsite.Fault{Kind: faultsite.Oversize, Size: 2 << 20}),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"max_body", "1048576 bytes"}, page: 1, waits: allEqual(0, 0)},
		{name: "gzip bomb (Content-Encoding)", setup: maxBody, inject: page1(faultsite.Fault{Kind: faultsite.GzipBomb, Size: 8 << 20}),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"max_body", "after decompression"}, page: 1, waits: allEqual(0, 0)},
		{name: "gzip bomb (a .gz body labelled HTML)", setup: maxBody, inject: page1(faultsite.Fault{Kind: faultsite.GzipBody, Size: 8 << 20}),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"max_body", "after decompression"}, page: 1, waits: allEqual(0, 0)},
		{name: "empty 200 body", inject: page1(faultsite.Is(faultsite.Empty)),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"empty body"}, page: 1, waits: allEqual(0, 0)},
		{name: "content type not HTML", inject: everyPage(faultsite.Is(faultsite.NotHTML)),
			status: store.StatusFailed, url: "/list", cause: []string{`content type "application/json" is not HTML`}, page: 0, waits: allEqual(0, 0)},

		// Statuses.
		{name: "500", inject: page1(faultsite.HTTPStatus(500)),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"HTTP 500", fmt.Sprintf("gave up after %d attempts", retries+1)}, page: 1,
			waits: func(t *testing.T, got []time.Duration) {
				// Jittered exponential backoff: the n-th wait in [2ⁿs/2, 2ⁿs].
				if len(got) != retries {
					t.Fatalf("waits = %v, want %d backoffs", got, retries)
				}
				for i, d := range got {
					if hi := time.Second << i; d < hi/2 || d > hi {
						t.Errorf("backoff %d = %v, want in [%v, %v]", i, d, hi/2, hi)
					}
				}
			}},
		{name: "503", inject: page1(faultsite.HTTPStatus(503)),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"HTTP 503"}, page: 1},
		{name: "408", inject: page1(faultsite.HTTPStatus(408)),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"HTTP 408"}, page: 1},
		{name: "429 Retry-After seconds", inject: page1(faultsite.Retry(429, "7")),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"HTTP 429", "Too Many Requests"}, page: 1,
			waits: allEqual(retries, 7*time.Second)},
		{name: "503 Retry-After HTTP date", inject: func(r *faultRig) {
			r.site.Set(1, faultsite.Retry(503, r.now.Add(24*time.Hour+30*time.Second).Format("Mon, 02 Jan 2006 15:04:05 GMT")))
		}, status: store.StatusPartial, url: "/list?page=1", cause: []string{"HTTP 503"}, page: 1,
			waits: func(t *testing.T, got []time.Duration) {
				// The date is 30s after the first fault night; later nights see it in the past.
				if len(got) != retries || (got[0] != 30*time.Second && got[0] != 0) {
					t.Errorf("waits = %v, want %d waits of 30s (first night) or 0 (date passed)", got, retries)
				}
			}},
		{name: "Retry-After is capped", inject: page1(faultsite.Retry(429, "3600")),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"HTTP 429"}, page: 1, waits: allEqual(retries, time.Minute)},
		{name: "403 challenge on every page", inject: everyPage(faultsite.Is(faultsite.Challenge)),
			status: store.StatusBlocked, url: "/list", cause: []string{"HTTP 403", "challenge"}, page: 0, waits: allEqual(0, 0)},
		{name: "403 challenge on one page", inject: page1(faultsite.Is(faultsite.Challenge)),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"HTTP 403", "challenge"}, page: 1},
		{name: "200 maintenance page", inject: everyPage(faultsite.Is(faultsite.Maintenance)),
			status: store.StatusSuspect, url: "/list", cause: []string{"0 items", "min_items"}, page: -1},
		{name: "layout change on one page", inject: page1(faultsite.Is(faultsite.Layout)),
			status: store.StatusSuspect, url: "/list?page=1", cause: []string{"0 items", "listing container"}, page: -1},
		// The last page holds 2 of 10 items: not more than the removal
		// guard's 20%, so only the page check stands between a redesign
		// and two wrong removals.
		{name: "layout change on the last page", inject: func(r *faultRig) { r.site.Set(2, faultsite.Is(faultsite.Layout)) },
			status: store.StatusSuspect, url: "/list?page=2", cause: []string{"0 items", "listing container"}, page: -1},

		// Redirects.
		{name: "redirect loop", inject: page1(faultsite.Is(faultsite.RedirectLoop)),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"stopped after 10 redirects"}, page: 1, waits: allEqual(0, 0)},
		{name: "redirect to another host", inject: page1(faultsite.Is(faultsite.RedirectAway)),
			status: store.StatusPartial, url: "/list?page=1", cause: []string{"elsewhere.example", "allowed_hosts"}, page: 1, waits: allEqual(0, 0)},

		// robots.txt.
		{name: "robots.txt 5xx", inject: func(r *faultRig) { r.site.SetRobots(faultsite.HTTPStatus(503)) },
			status: store.StatusBlocked, url: "/robots.txt", cause: []string{"HTTP 503: robots.txt unavailable"}, page: -1},
		{name: "robots.txt hangs", inject: shortTimeout(func(r *faultRig) { r.site.SetRobots(faultsite.Is(faultsite.Hang)) }),
			status: store.StatusBlocked, url: "/robots.txt", cause: []string{"robots.txt unavailable", "limits.timeout (500ms)"}, page: -1},
		{name: "robots.txt disallows the start URL", inject: func(r *faultRig) { r.site.SetRobotsTxt("User-agent: *\nDisallow: /list\n") },
			status: store.StatusBlocked, url: "/list", cause: []string{"robots.txt", "disallows /list", "Disallow: /list"}, page: 0},
		{name: "robots.txt 404 allows everything", inject: func(r *faultRig) { r.site.SetRobots(faultsite.HTTPStatus(404)) },
			status: store.StatusComplete, page: -1},
		{name: "robots.txt Crawl-delay", inject: func(r *faultRig) { r.site.SetRobotsTxt("User-agent: *\nCrawl-delay: 5\n") },
			status: store.StatusComplete, page: -1,
			waits: func(t *testing.T, got []time.Duration) {
				// Three listing pages on a frozen clock start 5s apart.
				if fmt.Sprint(got) != "[5s 10s]" {
					t.Errorf("waits = %v, want [5s 10s]", got)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkFault(t, tc)
		})
	}
}

func noRobots(r *faultRig) {
	f := false
	r.seed.Politeness.Robots = &f
}

func maxBody(r *faultRig) { r.seed.Limits.MaxBody = 1 << 20 }

// useLoopbackURL points the seed at the site's loopback address instead
// of its name.
func (r *faultRig) useLoopbackURL() {
	r.base = r.srv.URL
	r.seed.StartURLs = []string{r.srv.URL + "/list"}
	r.seed.AllowedHosts = nil
	r.seed.ApplyDefaults()
}

// checkFault runs night 1 clean, then three nights (more than
// missing_runs) with the fault, then one healed night, checking the
// run's status and reason, the failed page's outcome, and that the store
// lost and removed nothing.
func checkFault(t *testing.T, tc faultCase) {
	r := newFaultRig(t, 10)
	if tc.setup != nil {
		tc.setup(r)
	}
	run, _ := r.night()
	if run.Status != store.StatusComplete || run.Added != 10 {
		t.Fatalf("night 1 = %s (%s), added %d; want complete with 10", run.Status, run.Reason, run.Added)
	}
	before := r.snapshot()
	r.waits.take()
	timeout, retries := r.seed.Limits.Timeout, r.maxRetries

	tc.inject(r)
	for night := 2; night <= 4; night++ {
		run, pages := r.night()
		if run.Status != tc.status {
			t.Fatalf("night %d: status %s (%s), want %s", night, run.Status, run.Reason, tc.status)
		}
		if run.Removed != 0 || run.Updated != 0 || run.Added != 0 {
			t.Fatalf("night %d: %s; a fault must change nothing", night, counts(*run))
		}
		if run.Source != "fault-library" {
			t.Errorf("night %d: run source %q", night, run.Source)
		}
		if tc.status != store.StatusComplete {
			if tc.status != store.StatusSuspect && !strings.Contains(run.Reason, "source fault-library") {
				t.Errorf("night %d: reason %q does not name the source", night, run.Reason)
			}
			if u := r.base + tc.url; tc.url != "" && !strings.Contains(run.Reason, u) {
				t.Errorf("night %d: reason %q does not name %s", night, run.Reason, u)
			}
			for _, c := range tc.cause {
				if !strings.Contains(run.Reason, c) {
					t.Errorf("night %d: reason %q does not say %q", night, run.Reason, c)
				}
			}
		}
		if tc.page >= 0 {
			u := pageURL(r.base, tc.page)
			i := slices.IndexFunc(pages, func(p store.PageOutcome) bool { return p.URL == u })
			if i < 0 {
				t.Fatalf("night %d: no stored outcome for %s in %+v", night, u, pages)
			}
			p := pages[i]
			if p.Err == "" || p.Items != 0 || p.Bytes != 0 {
				t.Errorf("night %d: outcome of %s = %+v; want an error, no items, no bytes kept", night, u, p)
			}
			for _, c := range tc.cause {
				if !strings.Contains(p.Err, c) {
					t.Errorf("night %d: page error %q does not say %q", night, p.Err, c)
				}
			}
			if run.PagesFailed == 0 {
				t.Errorf("night %d: PagesFailed = 0", night)
			}
		}
		if got := r.waits.take(); tc.waits != nil {
			tc.waits(t, got)
		}
	}
	if after := r.snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the store changed under the fault:\nbefore %v\nafter  %v", before, after)
	}

	r.site.Heal()
	r.site.SetRobotsTxt(faultsite.DefaultRobots)
	r.seed.AllowPrivateNetworks = true
	r.seed.Limits.Timeout, r.maxRetries = timeout, retries
	run, _ = r.night()
	if got := counts(*run); got != "complete +0 ~0 -0 ^0" {
		t.Errorf("healed night = %s (%s), want complete with no changes", got, run.Reason)
	}
	if n := len(r.snapshot()); n != 10 {
		t.Errorf("store holds %d records after healing, want 10", n)
	}
}
