package runner_test

import (
	"context"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/crawler"
	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/faultsite"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/runner"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// library is a small listing site whose content and faults a test changes
// between runs: items spread over pages of perPage, a "next" pager.
type library struct {
	mu         sync.Mutex
	items      []item
	perPage    int
	fail       map[int]int    // page -> HTTP status to answer instead
	failDetail map[string]int // slug -> HTTP status of its detail page
	layout     string         // "" normal; "redesign": items no longer in div.views-row
	hits       map[string]int
}

type item struct{ slug, title, summary, country, publisher string }

func newLibrary(n int) *library {
	l := &library{perPage: 4, fail: map[int]int{}, failDetail: map[string]int{}, hits: map[string]int{}}
	for i := 1; i <= n; i++ {
		l.items = append(l.items, item{slug: fmt.Sprintf("pub-%02d", i), title: fmt.Sprintf("Publication %d", i), summary: "About " + strconv.Itoa(i), country: "Mexico", publisher: "IOM"})
	}
	return l
}

func (l *library) set(f func(l *library)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l)
}

func (l *library) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hits[r.URL.RequestURI()]++
	if r.URL.Path == "/robots.txt" {
		fmt.Fprint(w, "User-agent: *\nDisallow: /admin/\n")
		return
	}
	slug, ok := strings.CutPrefix(r.URL.Path, "/pub/")
	if !ok {
		slug, ok = strings.CutPrefix(r.URL.Path, "/full/")
	}
	if ok {
		if code, bad := l.failDetail[slug]; bad {
			http.Error(w, "detail trouble", code)
			return
		}
		for _, it := range l.items {
			if it.slug == slug {
				fmt.Fprintf(w, `<html><body><h1>%s</h1><dl><dt>Publisher</dt><dd>%s</dd></dl></body></html>`, html.EscapeString(it.title), html.EscapeString(it.publisher))
				return
			}
		}
		http.NotFound(w, r)
		return
	}
	if r.URL.Path != "/list" {
		http.NotFound(w, r)
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if code, ok := l.fail[page]; ok {
		http.Error(w, "server trouble", code)
		return
	}
	from := min(page*l.perPage, len(l.items))
	to := min(from+l.perPage, len(l.items))
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>Library</title></head><body><nav><a href="/">Home</a></nav><h1 class="page-title">Trafficking</h1><div class="view-content">`)
	for _, it := range l.items[from:to] {
		wrap := `<div class="views-row">`
		if l.layout == "redesign" {
			wrap = `<div class="card">`
		}
		fmt.Fprintf(&b, `%s<h3><a href="/pub/%s">%s</a></h3><div class="views-field-body">%s</div>`+
			`<div class="field"><div class="field__label">Country</div><div class="field__item">%s</div></div>`+
			`<a class="more" href="/full/%s">Full record</a></div>`,
			wrap, it.slug, html.EscapeString(it.title), html.EscapeString(it.summary), html.EscapeString(it.country), it.slug)
	}
	b.WriteString(`</div>`)
	if to < len(l.items) {
		fmt.Fprintf(&b, `<ul class="pager"><li class="pager__item--next"><a href="/list?page=%d">Next</a></li></ul>`, page+1)
	}
	b.WriteString(`<footer>© Library</footer></body></html>`)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, b.String())
}

type harness struct {
	t    *testing.T
	lib  *library
	seed *seeds.Seed
	st   *store.Store
	now  time.Time
}

func newHarness(t *testing.T, n int, extraYAML ...string) *harness {
	t.Helper()
	lib := newLibrary(n)
	srv := httptest.NewServer(lib)
	t.Cleanup(srv.Close)
	seed, err := seeds.Parse("test.yaml", faultsite.SeedYAML("test-library", srv.URL, extraYAML...))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, lib: lib, seed: seed, now: time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), store.Options{Now: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.st = st
	return h
}

func (h *harness) clock() time.Time { return h.now }

// night runs the source once, a day after the previous run.
func (h *harness) night() *runner.Result {
	h.t.Helper()
	h.now = h.now.Add(24 * time.Hour)
	cr := crawler.New(crawler.Config{Now: time.Now, Sleep: func(context.Context, time.Duration) error { return nil }})
	res, err := runner.Run(context.Background(), runner.Deps{Crawler: runner.FromCrawler(cr), Store: h.st, Now: h.clock}, h.seed)
	if err != nil {
		h.t.Fatal(err)
	}
	if res.Changes != nil {
		h.t.Fatalf("the run holds its %d changes in memory", len(res.Changes))
	}
	// A run does not hold its changes (they can be the whole site): the
	// store has them, as exports and feeds read them.
	if res.Changes, err = h.st.RunChanges(context.Background(), res.Run.ID); err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *harness) currentKeys() map[string]bool {
	keys := map[string]bool{}
	err := h.st.EachRecord(context.Background(), store.RecordFilter{}, func(r *record.Record) error {
		keys[r.Key] = true
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return keys
}

func counts(r store.Run) string {
	return fmt.Sprintf("%s +%d ~%d -%d ^%d", r.Status, r.Added, r.Updated, r.Removed, r.Restored)
}

func TestFirstRunAddsEverythingAndRerunChangesNothing(t *testing.T) {
	h := newHarness(t, 10)
	r1 := h.night()
	if got := counts(r1.Run); got != "complete +10 ~0 -0 ^0" {
		t.Fatalf("night 1 = %s (%s)", got, r1.Run.Reason)
	}
	if r1.Run.Pages != 3 {
		t.Errorf("pages = %d, want 3 (4+4+2 items)", r1.Run.Pages)
	}
	r2 := h.night()
	if got := counts(r2.Run); got != "complete +0 ~0 -0 ^0" {
		t.Fatalf("unchanged re-run = %s (%s), want no changes", got, r2.Run.Reason)
	}
	if len(r2.Changes) != 0 {
		t.Errorf("unchanged re-run made changes: %+v", r2.Changes)
	}
}

// The feeds are rewritten by a run that adds or restores, and left as
// they are by one that does not: their "updated" time stays that of the
// last new entry.
func TestFeedFilesRefreshedOnlyForNewEntries(t *testing.T) {
	h := newHarness(t, 6)
	out := t.TempDir()
	night := func() {
		t.Helper()
		h.now = h.now.Add(24 * time.Hour)
		cr := crawler.New(crawler.Config{Now: time.Now, Sleep: func(context.Context, time.Duration) error { return nil }})
		if _, err := runner.Run(context.Background(), runner.Deps{Crawler: runner.FromCrawler(cr), Store: h.st, Now: h.clock, OutDir: out}, h.seed); err != nil {
			t.Fatal(err)
		}
	}
	feeds := func() string {
		t.Helper()
		var all string
		for _, p := range []string{filepath.Join(out, "test-library", "feed.atom"), filepath.Join(out, "feed.json")} {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			all += string(b)
		}
		return all
	}
	stat := func() os.FileInfo {
		t.Helper()
		fi, err := os.Stat(filepath.Join(out, "test-library", "feed.atom"))
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	night()
	first, firstFile := feeds(), stat()
	if !strings.Contains(first, "Publication 5") {
		t.Fatalf("first feeds lack the items:\n%.300s", first)
	}
	h.lib.set(func(l *library) { l.items[1].summary = "Revised" })
	night() // an update: no new entry
	if got := feeds(); got != first || !os.SameFile(stat(), firstFile) {
		t.Errorf("a run that added nothing rewrote the feeds")
	}
	h.lib.set(func(l *library) {
		l.items = append(l.items, item{slug: "new-1", title: "Nueva publicación", summary: "Hola", country: "Perú"})
	})
	night()
	if got := feeds(); got == first || !strings.Contains(got, "Nueva publicación") {
		t.Errorf("a run that added an item left the feeds without it")
	}
	// A feed file gone (a fresh output directory) is written again.
	if err := os.Remove(filepath.Join(out, "feed.json")); err != nil {
		t.Fatal(err)
	}
	night()
	if _, err := os.Stat(filepath.Join(out, "feed.json")); err != nil {
		t.Errorf("the missing feed was not written again: %v", err)
	}
}

func TestEditAddRemoveRestore(t *testing.T) {
	h := newHarness(t, 10)
	h.night()
	var gone item
	h.lib.set(func(l *library) {
		l.items[2].summary = "Revised summary"
		l.items[5].country = "Guatemala"
		gone = l.items[7]
		l.items = append(l.items[:7], l.items[8:]...)
		l.items = append([]item{{slug: "new-1", title: "Nueva publicación", summary: "Hola", country: "Perú"}}, l.items...)
	})
	r2 := h.night()
	if got := counts(r2.Run); got != "complete +1 ~2 -0 ^0" {
		t.Fatalf("night 2 = %s (%s); a removal must wait for 2 complete misses", got, r2.Run.Reason)
	}
	var sawSummary bool
	for _, c := range r2.Changes {
		if c.Kind == store.KindUpdated && strings.HasSuffix(c.Key, "/pub/pub-03") {
			for _, f := range c.Fields {
				if f.Field == "summary" && f.Old == "About 3" && f.New == "Revised summary" {
					sawSummary = true
				}
			}
		}
	}
	if !sawSummary {
		t.Errorf("no update of pub-03 summary with old and new value in %+v", r2.Changes)
	}
	r3 := h.night()
	if got := counts(r3.Run); got != "complete +0 ~0 -1 ^0" {
		t.Fatalf("night 3 = %s (%s), want the take-down", got, r3.Run.Reason)
	}
	if !strings.HasSuffix(r3.Changes[0].Key, "/pub/"+gone.slug) {
		t.Errorf("removed %s, want %s", r3.Changes[0].Key, gone.slug)
	}
	h.lib.set(func(l *library) { l.items = append(l.items, gone) })
	r4 := h.night()
	if got := counts(r4.Run); got != "complete +0 ~0 -0 ^1" {
		t.Fatalf("night 4 = %s (%s), want the item restored", got, r4.Run.Reason)
	}
}

func TestFailedPageMakesRunPartialAndRemovesNothing(t *testing.T) {
	h := newHarness(t, 10)
	h.night()
	h.lib.set(func(l *library) { l.fail[1] = http.StatusInternalServerError })
	for i := 0; i < 3; i++ { // more nights than missing_runs: still nothing goes
		r := h.night()
		if r.Run.Status != store.StatusPartial {
			t.Fatalf("status = %s, want partial", r.Run.Status)
		}
		if r.Run.Removed != 0 {
			t.Fatalf("a partial run removed %d records", r.Run.Removed)
		}
		if !strings.Contains(r.Run.Reason, "/list?page=1") || !strings.Contains(r.Run.Reason, "500") {
			t.Errorf("reason %q should name the page and the status", r.Run.Reason)
		}
	}
	if n := len(h.currentKeys()); n != 10 {
		t.Errorf("store holds %d current records, want all 10", n)
	}
}

func TestLayoutChangeIsSuspectNotEmpty(t *testing.T) {
	h := newHarness(t, 10)
	h.night()
	h.lib.set(func(l *library) { l.layout = "redesign" })
	for i := 0; i < 3; i++ {
		r := h.night()
		if r.Run.Status != store.StatusSuspect {
			t.Fatalf("status = %s (%s), want suspect", r.Run.Status, r.Run.Reason)
		}
		if r.Run.Removed != 0 {
			t.Fatalf("a suspect run removed %d records", r.Run.Removed)
		}
	}
	if n := len(h.currentKeys()); n != 10 {
		t.Errorf("store holds %d current records, want all 10", n)
	}
}

func TestRemovalGuardHoldsMassRemoval(t *testing.T) {
	h := newHarness(t, 10)
	h.night()
	h.lib.set(func(l *library) { l.items = l.items[:4] }) // 60% gone at once
	h.night()
	r := h.night()
	if r.Run.Status != store.StatusSuspect || r.Run.Removed != 0 || r.Run.Held != 6 {
		t.Fatalf("run = %s held %d removed %d (%s); want suspect, 6 held, none removed", r.Run.Status, r.Run.Held, r.Run.Removed, r.Run.Reason)
	}
}

func (l *library) detailHits() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for p, c := range l.hits {
		if strings.HasPrefix(p, "/pub/") {
			n += c
		}
	}
	return n
}

func TestDetailPagesOnlyForNewOrChangedItems(t *testing.T) {
	h := newHarness(t, 10, "detail:\n  fields:\n    publisher: {label: Publisher}\n")
	r1 := h.night()
	if r1.Run.Status != store.StatusComplete || h.lib.detailHits() != 10 {
		t.Fatalf("night 1: %s (%s), %d detail pages fetched; want complete and 10", r1.Run.Status, r1.Run.Reason, h.lib.detailHits())
	}
	for _, c := range r1.Changes {
		if c.Record.Extra["publisher"] != "IOM" {
			t.Fatalf("record %s has no publisher from its detail page: %+v", c.Key, c.Record.Extra)
		}
	}
	r2 := h.night()
	if got := counts(r2.Run); got != "complete +0 ~0 -0 ^0" || h.lib.detailHits() != 10 {
		t.Fatalf("unchanged night: %s, %d detail pages in all; want no changes and no new detail fetches", got, h.lib.detailHits())
	}

	// One edited item and one new item whose detail page fails.
	h.lib.set(func(l *library) {
		l.items[0].summary = "Edited"
		l.items[0].publisher = "UNHCR"
		l.items = append(l.items, item{slug: "late", title: "Late", summary: "x", country: "Peru", publisher: "ILO"})
		l.failDetail["late"] = http.StatusInternalServerError
	})
	r3 := h.night()
	if r3.Run.Status != store.StatusPartial || !strings.Contains(r3.Run.Reason, "detail") {
		t.Fatalf("night 3 = %s (%s), want partial naming the detail page", r3.Run.Status, r3.Run.Reason)
	}
	if got := counts(r3.Run); got != "partial +1 ~1 -0 ^0" {
		t.Fatalf("night 3 = %s; the item with a failed detail page must still be added", got)
	}
	for _, c := range r3.Changes {
		if c.Kind == store.KindUpdated && c.Record.Extra["publisher"] != "UNHCR" {
			t.Errorf("edited item's publisher = %q, want the detail page's new value", c.Record.Extra["publisher"])
		}
	}
	if n := h.lib.detailHits(); n < 12 {
		t.Errorf("detail fetches after night 3 = %d, want the edited and the new item fetched", n)
	}
}

func TestTemplatePaginationWalksUntilAnEmptyPage(t *testing.T) {
	h := newHarness(t, 10)
	h.seed.Pagination = seeds.Pagination{Template: h.seed.StartURLs[0] + "?page={n}", Start: ptr(1), Step: 1}
	r := h.night()
	// /list (page 0), ?page=1, ?page=2, then ?page=3 is empty: the end.
	if r.Run.Status != store.StatusComplete || r.Run.Added != 10 || r.Run.Pages != 4 {
		t.Fatalf("run = %s (%s), %d added over %d pages; want complete, 10 over 4", r.Run.Status, r.Run.Reason, r.Run.Added, r.Run.Pages)
	}
}

func TestParamPaginationEndsAtA404(t *testing.T) {
	h := newHarness(t, 10)
	h.seed.Pagination = seeds.Pagination{Param: "page", Start: ptr(0), Step: 1}
	h.lib.set(func(l *library) { l.fail[3] = http.StatusNotFound })
	r := h.night()
	if r.Run.Status != store.StatusComplete || r.Run.Added != 10 {
		t.Fatalf("run = %s (%s), %d added; a 404 past the last page is the end, not an error", r.Run.Status, r.Run.Reason, r.Run.Added)
	}
}

func ptr(n int) *int { return &n }

// trapSite serves /list?page=N with one item per page and a next link
// to page next(N) (none when negative).
func trapSite(t *testing.T, next func(n int) int) *harness {
	t.Helper()
	h := newHarness(t, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/list", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("page"))
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<html><body><div class="views-row"><h3><a href="/pub/%d">Item %d</a></h3></div>`, n, n)
		if nx := next(n); nx >= 0 {
			fmt.Fprintf(w, `<ul><li class="pager__item--next"><a href="/list?page=%d">Next</a></li></ul>`, nx)
		}
		fmt.Fprint(w, `</body></html>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h.seed.StartURLs = []string{srv.URL + "/list?page=0"}
	h.seed.AllowedHosts = nil
	h.seed.ApplyDefaults()
	return h
}

func TestPaginationTraps(t *testing.T) {
	t.Run("next link loops back", func(t *testing.T) {
		h := trapSite(t, func(n int) int { return (n + 1) % 3 }) // 0 -> 1 -> 2 -> 0
		r := h.night()
		if r.Run.Status != store.StatusPartial || !strings.Contains(r.Run.Reason, "leads back to") || !strings.Contains(r.Run.Reason, "page=0") {
			t.Fatalf("run = %s (%s), want partial naming the loop", r.Run.Status, r.Run.Reason)
		}
		if r.Run.Added != 3 {
			t.Errorf("added %d, want the 3 items seen before the loop", r.Run.Added)
		}
	})
	t.Run("next link never ends", func(t *testing.T) {
		h := trapSite(t, func(n int) int { return n + 1 })
		h.seed.Limits.MaxPages = 7
		r := h.night()
		if r.Run.Status != store.StatusPartial || !strings.Contains(r.Run.Reason, "max_pages (7)") || r.Run.Pages != 7 {
			t.Fatalf("run = %s (%s) over %d pages, want partial at max_pages", r.Run.Status, r.Run.Reason, r.Run.Pages)
		}
	})
	t.Run("same content under a new URL", func(t *testing.T) {
		h := trapSite(t, func(n int) int { return n + 1 })
		// Every page past 2 is served as page 2 by a site that clamps.
		mux := http.NewServeMux()
		mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) {})
		mux.HandleFunc("/list", func(w http.ResponseWriter, r *http.Request) {
			n, _ := strconv.Atoi(r.URL.Query().Get("page"))
			n = min(n, 2)
			fmt.Fprintf(w, `<html><body><div class="views-row"><h3><a href="/pub/%d">Item %d</a></h3></div><ul><li class="pager__item--next"><a href="/list?page=%d">Next</a></li></ul></body></html>`, n, n, n+1)
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		h.seed.StartURLs = []string{srv.URL + "/list?page=0"}
		h.seed.AllowedHosts = nil
		h.seed.ApplyDefaults()
		r := h.night()
		if r.Run.Status != store.StatusPartial || !strings.Contains(r.Run.Reason, "same content as") {
			t.Fatalf("run = %s (%s), want partial naming the duplicate page", r.Run.Status, r.Run.Reason)
		}
		if r.Run.Added != 3 || r.Run.Pages > 5 {
			t.Errorf("added %d over %d pages; want 3 items and a stop right after the copy", r.Run.Added, r.Run.Pages)
		}
	})
}

func TestDetailLinkOtherThanTheURL(t *testing.T) {
	h := newHarness(t, 5, "detail:\n  link: a.more\n  fields:\n    publisher: {label: Publisher}\n")
	r := h.night()
	if r.Run.Status != store.StatusComplete || r.Run.Added != 5 {
		t.Fatalf("run = %s (%s) +%d", r.Run.Status, r.Run.Reason, r.Run.Added)
	}
	h.lib.mu.Lock()
	full, pub := h.lib.hits["/full/pub-01"], h.lib.hits["/pub/pub-01"]
	h.lib.mu.Unlock()
	if full != 1 || pub != 0 {
		t.Errorf("detail fetched from /full/ %d times and /pub/ %d times; want detail.link's page once", full, pub)
	}
	if got := r.Changes[0].Record.Extra["publisher"]; got != "IOM" {
		t.Errorf("publisher = %q", got)
	}
}

func TestUnchangedParamWalkEndsCompleteOnAnUnchangedEmptyPage(t *testing.T) {
	// The page past the end is an empty 200 page, unchanged on night 2:
	// it is still the end of the walk, not a broken layout.
	h := newHarness(t, 10)
	h.seed.Pagination = seeds.Pagination{Param: "page", Start: ptr(0), Step: 1}
	for night := 1; night <= 2; night++ {
		r := h.night()
		if r.Run.Status != store.StatusComplete || r.Run.Pages != 4 {
			t.Fatalf("night %d = %s (%s) over %d pages; want complete over 4", night, r.Run.Status, r.Run.Reason, r.Run.Pages)
		}
	}
}

// chainSite serves /list?page=N: one item per page, a next link to
// next(N), and counts the requests in flight at once.
type chainSite struct {
	mu            sync.Mutex
	next          func(n int) int
	inFlight, max int
	fetched       map[int]bool
}

func (c *chainSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/robots.txt" {
		return
	}
	c.mu.Lock()
	c.inFlight++
	c.max = max(c.max, c.inFlight)
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	c.fetched[n] = true
	c.mu.Unlock()
	time.Sleep(2 * time.Millisecond) // a round trip worth overlapping
	defer func() { c.mu.Lock(); c.inFlight--; c.mu.Unlock() }()
	if n > 40 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprintf(w, `<html><body><div class="views-row"><h3><a href="/pub/%d">Item %d</a></h3></div>`, n, n)
	if nx := c.next(n); nx >= 0 {
		fmt.Fprintf(w, `<ul><li class="pager__item--next"><a href="/list?page=%d">Next</a></li></ul>`, nx)
	}
	fmt.Fprint(w, `</body></html>`)
}

func TestNextModeFetchesAheadAndConfirmsTheChain(t *testing.T) {
	// 0 -> 1 -> ... -> 8 -> 20 -> 21 -> 22 (end): the jump breaks the
	// pattern; pages 9.. fetched on a guess must not become records.
	site := &chainSite{fetched: map[int]bool{}, next: func(n int) int {
		switch {
		case n == 8:
			return 20
		case n == 22:
			return -1
		}
		return n + 1
	}}
	srv := httptest.NewServer(site)
	t.Cleanup(srv.Close)
	h := newHarness(t, 1)
	h.seed.StartURLs = []string{srv.URL + "/list?page=0"}
	h.seed.AllowedHosts = nil
	h.seed.Politeness.Concurrency = 4
	h.seed.ApplyDefaults()
	r := h.night()
	if r.Run.Status != store.StatusComplete || r.Run.Added != 12 || r.Run.Pages != 12 {
		t.Fatalf("run = %s (%s): %d added over %d pages; want complete, 12 over 12", r.Run.Status, r.Run.Reason, r.Run.Added, r.Run.Pages)
	}
	for _, c := range r.Changes {
		n, _ := strconv.Atoi(c.Key[strings.LastIndex(c.Key, "/")+1:])
		if n > 8 && n < 20 {
			t.Errorf("a page fetched on a guess became a record: %s", c.Key)
		}
	}
	site.mu.Lock()
	defer site.mu.Unlock()
	if site.max < 2 {
		t.Errorf("at most %d request in flight: next mode did not fetch ahead", site.max)
	}
}

func TestNoFetchAheadWithADelay(t *testing.T) {
	site := &chainSite{fetched: map[int]bool{}, next: func(n int) int {
		if n == 5 {
			return -1
		}
		return n + 1
	}}
	srv := httptest.NewServer(site)
	t.Cleanup(srv.Close)
	h := newHarness(t, 1)
	h.seed.StartURLs = []string{srv.URL + "/list?page=0"}
	h.seed.AllowedHosts = nil
	h.seed.Politeness.Concurrency = 4
	h.seed.Politeness.Delay = seeds.Duration(time.Millisecond)
	h.seed.ApplyDefaults()
	r := h.night()
	if r.Run.Status != store.StatusComplete || r.Run.Added != 6 {
		t.Fatalf("run = %s (%s) +%d", r.Run.Status, r.Run.Reason, r.Run.Added)
	}
	site.mu.Lock()
	defer site.mu.Unlock()
	if site.max != 1 || site.fetched[6] {
		t.Errorf("with a delay: %d requests in flight at once, page past the end fetched: %v; want one at a time and no guesses", site.max, site.fetched[6])
	}
}

func TestParamFetchAheadStopsAtTheLastRunsEnd(t *testing.T) {
	h := newHarness(t, 40) // 10 pages of 4, then the empty page 10
	h.seed.Pagination = seeds.Pagination{Param: "page", Start: ptr(0), Step: 1}
	h.seed.Politeness.Concurrency = 8
	h.night()
	before := map[string]int{}
	h.lib.mu.Lock()
	maps.Copy(before, h.lib.hits)
	h.lib.mu.Unlock()
	r := h.night()
	if r.Run.Status != store.StatusComplete || r.Run.Pages != 11 {
		t.Fatalf("re-run = %s (%s) over %d pages", r.Run.Status, r.Run.Reason, r.Run.Pages)
	}
	h.lib.mu.Lock()
	defer h.lib.mu.Unlock()
	for uri, n := range h.lib.hits {
		if n > before[uri] && strings.HasPrefix(uri, "/list?page=") {
			p, _ := strconv.Atoi(strings.TrimPrefix(uri, "/list?page="))
			if p > 10 {
				t.Errorf("the unchanged re-run fetched %s, past the end the last run found", uri)
			}
		}
	}
}

// TestSeedExtraFieldsAreExportColumns: an extra field the seed configures
// is an extra.NAME column of an export that is not given the seeds, from
// the first run, though no record has a value for it yet.
func TestSeedExtraFieldsAreExportColumns(t *testing.T) {
	h := newHarness(t, 2, "  isbn: {select: \".views-field-isbn\"}\n")
	if !slices.Contains(h.seed.ExtraFields(), "isbn") {
		t.Fatalf("the seed's extra fields are %v; want isbn among them", h.seed.ExtraFields())
	}
	res := h.night()
	if res.Run.Added == 0 {
		t.Fatalf("the first night added nothing: %+v", res.Run)
	}
	for _, c := range res.Changes {
		if _, ok := c.Record.Extra["isbn"]; ok {
			t.Fatalf("record %s has an isbn; the test needs a field no record has", c.Key)
		}
	}
	cols, err := export.ExtraColumns(context.Background(), h.st, nil, []string{h.seed.ID})
	if err != nil || !slices.Contains(cols, "isbn") {
		t.Fatalf("extra columns of an export without seeds = %v, %v; want isbn among them", cols, err)
	}
}
