package daemon

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/crawler"
	"github.com/harvest-dev/harvest/faultsite"
	"github.com/harvest-dev/harvest/runner"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// library is a small listing site: items over pages of perPage with a
// "next" pager. A test can make pages fail, or hold a page until it
// releases it (or the request is cancelled).
type library struct {
	mu      sync.Mutex
	items   []string
	perPage int
	status  int                   // when not 0, every list page answers this
	hold    map[int]chan struct{} // page -> closed to let the page through
	arrived chan int              // page numbers as requests arrive (buffered)
	hits    int
}

func newLibrary(n int) *library {
	l := &library{perPage: 4, hold: map[int]chan struct{}{}, arrived: make(chan int, 1000)}
	for i := 1; i <= n; i++ {
		l.items = append(l.items, fmt.Sprintf("Publication %d", i))
	}
	return l
}

func (l *library) set(f func(l *library)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l)
}

// drain forgets the arrivals seen so far.
func (l *library) drain() {
	for {
		select {
		case <-l.arrived:
		default:
			return
		}
	}
}

func (l *library) listHits() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hits
}

func (l *library) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/robots.txt" {
		fmt.Fprint(w, "User-agent: *\nDisallow: /admin/\n")
		return
	}
	if r.URL.Path != "/list" {
		http.NotFound(w, r)
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	l.mu.Lock()
	l.hits++
	hold := l.hold[page]
	status := l.status
	l.mu.Unlock()
	select {
	case l.arrived <- page:
	default:
	}
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		http.Error(w, "server trouble", status)
		return
	}
	l.mu.Lock()
	from := min(page*l.perPage, len(l.items))
	to := min(from+l.perPage, len(l.items))
	items := append([]string(nil), l.items[from:to]...)
	more := to < len(l.items)
	l.mu.Unlock()
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>Library</title></head><body><h1 class="page-title">Trafficking</h1>`)
	for i, it := range items {
		fmt.Fprintf(&b, `<div class="views-row"><h3><a href="/pub/%d-%d">%s</a></h3><div class="views-field-body">About %s</div>`+
			`<div class="field"><div class="field__label">Country</div><div class="field__item">Mexico</div></div></div>`,
			page, i, html.EscapeString(it), html.EscapeString(it))
	}
	if more {
		fmt.Fprintf(&b, `<ul class="pager"><li class="pager__item--next"><a href="/list?page=%d">Next</a></li></ul>`, page+1)
	}
	b.WriteString(`</body></html>`)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, b.String())
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// fixture is one library site, its seed, a database file and a clock.
type fixture struct {
	t     *testing.T
	lib   *library
	srv   *httptest.Server
	seed  *seeds.Seed
	clock *fakeClock
	db    string
}

func newFixture(t *testing.T, items int, schedule string) *fixture {
	t.Helper()
	lib := newLibrary(items)
	srv := httptest.NewServer(lib)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, lib: lib, srv: srv, clock: &fakeClock{t: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)},
		db: filepath.Join(t.TempDir(), "harvest.db")}
	f.seed = f.newSeed("lib", schedule)
	return f
}

func (f *fixture) newSeed(id, schedule string) *seeds.Seed {
	f.t.Helper()
	s, err := seeds.Parse(id+".yaml", faultsite.SeedYAML(id, f.srv.URL, fmt.Sprintf("name: \"Library %s\"\nschedule: %q\n", id, schedule)))
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) open(opts store.Options) *store.Store {
	f.t.Helper()
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	st, err := store.Open(context.Background(), f.db, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { st.Close() })
	return st
}

func testCrawler() runner.Crawler {
	return runner.FromCrawler(crawler.New(crawler.Config{MaxRetries: -1,
		Sleep: func(context.Context, time.Duration) error { return nil }}))
}

func (f *fixture) daemon(st *store.Store, mod func(*Config), ss ...*seeds.Seed) *Daemon {
	f.t.Helper()
	if len(ss) == 0 {
		ss = []*seeds.Seed{f.seed}
	}
	cfg := Config{Seeds: ss, Store: st, Crawler: testCrawler(), Now: f.clock.Now, Grace: time.Second}
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(d.Shutdown)
	return d
}

func runOnce(t *testing.T, d *Daemon) []Outcome {
	t.Helper()
	outs, err := d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		if o.Err != nil {
			t.Fatalf("run of %s: %v", o.Source, o.Err)
		}
	}
	return outs
}

func schedule(t *testing.T, st *store.Store, id string) store.SourceSchedule {
	t.Helper()
	sc, err := st.Schedule(context.Background(), id)
	if err != nil || sc == nil {
		t.Fatalf("schedule of %s: %v, %v", id, sc, err)
	}
	return *sc
}
