// Package runner drives one run of one source: it asks the crawler for
// pages, hands each to the parser, feeds the next links back, and applies
// what it saw to the store as one transaction. The CLI, the demo and the
// daemon all call Run; none of them re-implements it.
package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/harvest-dev/harvest/crawler"
	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/parser"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// Fetcher fetches one page of a source. It is safe for concurrent use and
// returns *crawler.Error for every failed fetch.
type Fetcher interface {
	Fetch(ctx context.Context, rawURL string, v crawler.Validators) (*crawler.Page, error)
}

// Crawler opens a fetching session for one run of one source. An error
// from Open (robots.txt unavailable or disallowing, say) ends the run.
type Crawler interface {
	Open(ctx context.Context, s *seeds.Seed) (Fetcher, error)
}

// Store is what a run needs of the store: the remembered state of a page
// (nil when unknown), the stored records of some keys (for the detail
// follow), the session that stages a run as it is crawled and applies it
// as one transaction, and the changes the change files and feeds are
// made of.
type Store interface {
	PageState(ctx context.Context, source, url string) (*store.PageState, error)
	EachRecord(ctx context.Context, f store.RecordFilter, fn func(*record.Record) error) error
	EachChange(ctx context.Context, f store.ChangeFilter, fn func(*store.Change) error) error
	LastRun(ctx context.Context, source string) (*store.Run, error)
	BeginRun(ctx context.Context, source string, ignoreChanges []string) (*store.RunSession, error)
}

// FromCrawler adapts *crawler.Crawler to the Crawler interface.
func FromCrawler(c *crawler.Crawler) Crawler { return crawlerAdapter{c} }

type crawlerAdapter struct{ c *crawler.Crawler }

func (a crawlerAdapter) Open(ctx context.Context, s *seeds.Seed) (Fetcher, error) {
	sess, err := a.c.Open(ctx, s)
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// Deps are the parts a run is made of, passed in by the caller.
type Deps struct {
	Crawler Crawler
	Store   Store
	Logger  *slog.Logger
	Now     func() time.Time
	// OutDir, when set, receives the run's change files and manifest
	// (OUT/<source>/<run-id>/ and OUT/<source>/latest/) and the refreshed
	// feeds (OUT/<source>/feed.{atom,json}, OUT/feed.{atom,json}).
	OutDir string
	// Full ignores the remembered validators and body hashes: every page
	// is fetched and parsed again (a periodic full sweep).
	Full bool
	// RefreshDetails fetches every item's detail page, not only those of
	// new or changed items.
	RefreshDetails bool
	// Progress, when set, is called after each page (listing or detail)
	// from the goroutine that fetched it; it must be quick and safe for
	// concurrent use.
	Progress func(Progress)
}

// Progress is how far a run has got.
type Progress struct {
	Source  string
	Pages   int // listing and detail pages fetched (or answered 304)
	Items   int // items seen on listing pages
	Errors  int // pages that failed
	Elapsed time.Duration
}

// Result is a stored run with what the run step observed on the way.
// Its RunResult.Changes is nil: a run's changes can be as many as the
// site's records, so they are read back from the store
// (Store.EachChange with ChangeFilter{RunID: Run.ID}).
type Result struct {
	store.RunResult
	Warnings []parser.Warning
	// Manifest of the change files written to Deps.OutDir (nil without).
	Manifest *export.Manifest
	// Dir is where the change files are ("" without Deps.OutDir).
	Dir string
}

// Run visits one source once and applies what it saw to the store. Fetch
// failures do not make an error: they make the run partial, failed or
// blocked, and it is stored as such. The error is for what stops the run
// being recorded at all (invalid rules, the store failing).
func Run(ctx context.Context, d Deps, s *seeds.Seed) (*Result, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	rules, err := parser.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", s.ID, err)
	}
	// A run cancelled before it starts is still stored (partial), so the
	// session must open on a cancelled context too.
	sess, err := d.Store.BeginRun(context.WithoutCancel(ctx), s.ID, s.IgnoreChanges)
	if err != nil {
		return nil, fmt.Errorf("source %s: store run: %w", s.ID, err)
	}
	defer sess.Close()
	// A store failing while the run is staged stops the walk.
	walkCtx, stopWalk := context.WithCancelCause(ctx)
	defer stopWalk(nil)
	w := &walk{d: d, seed: s, rules: rules, log: d.Logger.With("source", s.ID), sess: sess, stop: stopWalk,
		seen: map[string]bool{}, bodies: map[string]string{}, detailURLs: map[string]string{}}
	w.started = d.Now()
	in := store.RunInput{
		Source:        s.ID,
		StartedAt:     w.started,
		Guards:        s.Guards,
		IgnoreChanges: s.IgnoreChanges,
		ExtraFields:   s.ExtraFields(),
	}
	fetcher, err := d.Crawler.Open(ctx, s)
	if err != nil {
		in.Status, in.Reason = verdictOfOpen(ctx, err)
		w.log.Warn("run cannot start", "status", in.Status, "err", err)
	} else {
		w.fetcher = fetcher
		if last, err := d.Store.LastRun(ctx, s.ID); err == nil && last != nil && last.Status == store.StatusComplete {
			w.prevPages = last.Pages
		}
		if ps, ok := d.Store.(interface {
			PageStates(ctx context.Context, source string) (map[string]*store.PageState, error)
		}); ok && !d.Full {
			if states, err := ps.PageStates(ctx, s.ID); err == nil {
				w.states = states
				n := 0
				for _, st := range states {
					n += len(st.Keys)
				}
				sess.ExpectKeys(n) // about as many as last time
			} else {
				w.log.Warn("page states unavailable; asking page by page", "err", err)
			}
		}
		w.run(walkCtx)
		w.details(walkCtx)
		w.stageHeld(walkCtx)
		if w.stageErr != nil {
			return nil, fmt.Errorf("source %s: store run: %w", s.ID, w.stageErr)
		}
		in.Status, in.Reason = w.verdict(ctx)
	}
	in.Dropped = w.dropped
	for _, wr := range w.warnings {
		in.Warnings = append(in.Warnings, wr.String())
	}
	in.FinishedAt = d.Now()

	// The run is recorded even when ctx was cancelled: what was seen is
	// kept, and a cancelled run is partial, so it removes nothing.
	applyCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	res, err := sess.Finish(applyCtx, in)
	if err != nil {
		return nil, fmt.Errorf("source %s: store run: %w", s.ID, err)
	}
	w.log.Info("run finished", "run", res.Run.ID, "status", res.Run.Status, "reason", res.Run.Reason,
		"pages", res.Run.Pages, "seen", res.Run.Seen, "added", res.Run.Added, "updated", res.Run.Updated,
		"removed", res.Run.Removed, "restored", res.Run.Restored)
	out := &Result{RunResult: *res, Warnings: w.warnings}
	if d.OutDir != "" {
		// The change files are written from the store, not from memory.
		m, err := export.WriteRunFilesFrom(applyCtx, d.OutDir, res.Run, d.Store, export.Options{ExtraColumns: s.ExtraFields(), Now: d.Now})
		if err != nil {
			// The run is stored; only its files are missing. Say so loudly.
			return out, fmt.Errorf("source %s: run %d stored, but writing its change files failed: %w", s.ID, res.Run.ID, err)
		}
		out.Manifest = m
		out.Dir = filepath.Join(d.OutDir, s.ID, strconv.FormatInt(res.Run.ID, 10))
		// The feeds list added and restored publications: a run that
		// made neither leaves them as they are (their "updated" time is
		// that of their last entry's run, as a feed reader expects).
		if res.Run.Added+res.Run.Restored > 0 || !export.HaveFeedFiles(d.OutDir, s.ID) {
			if err := export.WriteFeedFiles(applyCtx, d.OutDir, s.ID, d.Store, d.Now()); err != nil {
				return out, fmt.Errorf("source %s: run %d stored, but refreshing its feeds failed: %w", s.ID, res.Run.ID, err)
			}
		}
	}
	return out, nil
}

func verdictOfOpen(ctx context.Context, err error) (store.Status, string) {
	if ctx.Err() != nil {
		return store.StatusPartial, "cancelled before the first page: " + err.Error()
	}
	if crawler.KindOf(err) == crawler.KindBlocked {
		return store.StatusBlocked, err.Error()
	}
	return store.StatusFailed, err.Error()
}

// walk is the state of one run's walk over the listing pages.
type walk struct {
	d       Deps
	seed    *seeds.Seed
	rules   *parser.Rules
	fetcher Fetcher
	log     *slog.Logger

	// sess stages what the run sees, page by page; stop ends the walk
	// when staging fails (stageErr).
	sess     *store.RunSession
	stop     context.CancelCauseFunc
	stageErr error

	seen   map[string]bool   // listing URLs already queued
	bodies map[string]string // body hash -> the first URL that had it
	// detailURLs holds an item's detail page where detail.link names one
	// other than the record's url.
	detailURLs map[string]string
	// records are held only for the detail follow (seeds with detail
	// fields), which completes them after the walk; otherwise each page's
	// records are staged as the page is taken into the run.
	records []record.Record
	// pages are the run's page outcomes so far, without their keys and
	// next links (staged with the page).
	pages    []store.PageOutcome
	warnings []parser.Warning
	dropped  int

	failed    int    // pages that failed to fetch
	blocked   string // first blocking failure
	cut       string // why pagination stopped early
	suspect   string // why the run looks wrong
	pageTotal int    // the page's own "of N" count, largest seen
	items     int    // item elements seen on parsed pages

	started time.Time
	conc    int // pages fetched at once (see concurrency)
	// prevPages is how many listing pages the last complete run visited:
	// pages are fetched ahead only up to there, so an unchanged listing
	// gets no request past its end.
	prevPages int
	// states are the remembered listing pages, loaded once (nil: ask the
	// store page by page).
	states map[string]*store.PageState

	detailPages  int    // detail pages fetched
	detailErrors int    // detail pages that failed
	detailFailed string // the first detail failure
}

func (w *walk) run(ctx context.Context) {
	s := w.seed
	switch s.Pagination.Mode() {
	case "param":
		if s.Pagination.Template != "" {
			// The first page is often not on the template (/reports/
			// rather than /reports/page/1/): visit the start URLs first.
			for _, u := range s.StartURLs {
				if w.queue(u) {
					w.visit(ctx, u, false)
				}
			}
			w.walkParam(ctx, "")
			return
		}
		for _, start := range s.StartURLs {
			w.walkParam(ctx, start)
		}
	case "urls":
		w.walkURLs(ctx, append(append([]string{}, s.StartURLs...), s.Pagination.URLs...))
	default: // "next" or a single page
		w.walkNext(ctx)
	}
}

// concurrency is how many listing pages a walk fetches (and parses) at
// once: the seed's per-host concurrency when the host asks for no delay
// between requests. With a delay (the seed's, or robots.txt's
// Crawl-delay) pages are fetched one at a time: fetching ahead would only
// add requests past the end of the listing to a host that asked for
// patience. The crawler enforces the per-host delay and limit across
// every source on the host either way.
func (w *walk) concurrency() int {
	if w.conc == 0 {
		w.conc = w.computeConcurrency()
	}
	return w.conc
}

func (w *walk) computeConcurrency() int {
	if w.seed.Politeness.Delay > 0 {
		return 1
	}
	if d, ok := w.fetcher.(interface {
		Delay(host string) time.Duration
	}); ok {
		for _, u := range w.seed.StartURLs {
			if pu, err := url.Parse(u); err == nil && d.Delay(pu.Host) > 0 {
				return 1
			}
		}
	}
	return max(1, w.seed.Politeness.Concurrency)
}

func (w *walk) maxPagesCut(left int) {
	msg := fmt.Sprintf("stopped at limits.max_pages (%d)", w.seed.Limits.MaxPages)
	if left > 0 {
		msg += fmt.Sprintf(" with %d next pages not visited", left)
	}
	w.cutOnce(msg)
}

// window is how many pages may be in flight ahead of the walk now:
// the concurrency, down to one past where the last complete run ended.
func (w *walk) window(inFlight int) int {
	if w.prevPages > 0 && len(w.pages)+inFlight >= w.prevPages {
		return 1
	}
	return w.concurrency()
}

// walkURLs visits a list of pages known up front, fetching ahead.
func (w *walk) walkURLs(ctx context.Context, urls []string) {
	a := w.ahead(ctx)
	defer a.stop()
	next := 0
	for {
		for next < len(urls) && a.len() < w.concurrency() && len(w.pages)+a.len() < w.seed.Limits.MaxPages {
			if w.queue(urls[next]) {
				a.push(urls[next])
			}
			next++
		}
		if a.len() == 0 {
			if next < len(urls) {
				w.maxPagesCut(len(urls) - next)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		w.apply(ctx, a.pop(), false)
	}
}

// walkNext follows next links from the start URLs. When a page's next
// link follows a pattern (?page=N, /page/N/, start=N), the pages after it
// are fetched ahead speculatively; each is used only when the chain of
// next links confirms it, so a wrong guess costs a few requests, never a
// wrong record.
func (w *walk) walkNext(ctx context.Context) {
	s := w.seed
	var queue []string
	for _, u := range s.StartURLs {
		if w.queue(u) {
			queue = append(queue, u)
		}
	}
	a := w.ahead(ctx)
	defer a.stop()
	for len(queue) > 0 {
		if ctx.Err() != nil {
			return
		}
		if len(w.pages) >= s.Limits.MaxPages {
			w.maxPagesCut(len(queue))
			return
		}
		u := queue[0]
		queue = queue[1:]
		var f *fetched
		if a.len() > 0 && sameURL(a.front(), u) {
			f = a.pop()
		} else {
			a.drop()
			f = w.fetch(ctx, u)
		}
		out := w.apply(ctx, f, false)
		if out.sameAs != "" {
			w.cutOnce(fmt.Sprintf("pagination trap: %s has the same content as %s; not following it further", u, out.sameAs))
			continue
		}
		for _, n := range out.next {
			if w.queue(n) {
				queue = append(queue, n)
			} else if s.Pagination.Mode() == "next" {
				w.cutOnce(fmt.Sprintf("pagination trap: the next link of %s leads back to %s, already visited", u, n))
			}
		}
		// Speculate only on a single chain whose step is recognisable,
		// and only where fetching ahead is allowed at all.
		if w.concurrency() < 2 || len(out.next) != 1 || len(queue) != 1 {
			a.drop()
			continue
		}
		guess := nextPattern(u, out.next[0])
		if guess == nil {
			a.drop()
			continue
		}
		if a.len() > 0 && !sameURL(a.front(), out.next[0]) {
			a.drop()
		}
		for a.len() < w.window(a.len()) && len(w.pages)+a.len() < s.Limits.MaxPages {
			a.push(guess(a.len()))
		}
	}
}

// walkParam visits start with the page parameter at start, start+step, ...
// (or the template's {n}), fetching ahead. A page with no items or no new
// items, or a 404 past the first page, ends the walk; pages fetched ahead
// past the end are dropped unseen.
func (w *walk) walkParam(ctx context.Context, start string) {
	p := w.seed.Pagination
	n := 0
	if p.Start != nil {
		n = *p.Start
	}
	a := w.ahead(ctx)
	defer a.stop()
	for i := 0; ; i++ {
		for a.len() < w.window(a.len()) && len(w.pages)+a.len() < w.seed.Limits.MaxPages {
			u, err := withParam(start, p.Param, n)
			if p.Template != "" {
				u, err = strings.ReplaceAll(p.Template, "{n}", strconv.Itoa(n)), nil
			}
			if err != nil {
				if a.len() == 0 {
					w.failPage(ctx, u, 0, fmt.Errorf("source %s: page parameter: %w", w.seed.ID, err))
					return
				}
				break
			}
			n += p.Step
			if w.queue(u) { // the template's first value may be a start URL
				a.push(u)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if a.len() == 0 {
			w.maxPagesCut(0)
			return
		}
		out := w.apply(ctx, a.pop(), i > 0 || p.Template != "")
		// A site that answers every page number past the last with the
		// last page (or the first) ends the walk too: no new items.
		if out.end || out.failed || out.items == 0 || out.sameAs != "" || (i > 0 && out.newKeys == 0) {
			return
		}
	}
}

func withParam(raw, param string, n int) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return raw, err
	}
	q := u.Query()
	q.Set(param, strconv.Itoa(n))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// progress reports how far the run has got, if anyone listens. Callers
// hold whatever lock guards the walk's counters.
func (w *walk) progress() {
	if w.d.Progress == nil {
		return
	}
	w.d.Progress(Progress{
		Source:  w.seed.ID,
		Pages:   len(w.pages) + w.detailPages,
		Items:   w.items,
		Errors:  w.failed + w.detailErrors,
		Elapsed: w.d.Now().Sub(w.started),
	})
}

// cutOnce records the first reason the walk was cut short.
func (w *walk) cutOnce(reason string) {
	if w.cut == "" {
		w.cut = reason
	}
}

// queue marks a listing URL as visited; false if it was already.
func (w *walk) queue(u string) bool {
	c := record.CanonicalURL(nil, u)
	if c == "" {
		c = u
	}
	if w.seen[c] {
		return false
	}
	w.seen[c] = true
	return true
}

type visitOutcome struct {
	next    []string
	items   int
	newKeys int    // items whose key this run had not seen on an earlier page
	sameAs  string // an earlier page of this run with the very same body
	failed  bool
	end     bool // a 404 past the first page of a param walk: the end, not an error
}

// fetched is one listing page as a fetch worker left it: fetched and,
// when it changed since the last run, parsed. The walk applies it in
// page order.
type fetched struct {
	u        string
	pastErr  error // the fetch failed
	state    *store.PageState
	page     *crawler.Page
	took     time.Duration
	bodyHash string
	res      *parser.Result // nil when not parsed (unchanged, failed)
	parseErr error
}

// fetch fetches one listing page and parses it when it changed. It is
// safe to call from several goroutines: it touches no walk state.
func (w *walk) fetch(ctx context.Context, u string) *fetched {
	f := &fetched{u: u}
	var v crawler.Validators
	if !w.d.Full {
		st, err := w.pageState(ctx, u)
		if err != nil && ctx.Err() == nil { // a page fetched ahead and dropped is not news
			w.log.Warn("page state unavailable; fetching unconditionally", "url", u, "err", err)
		} else if st != nil {
			f.state = st
			v = crawler.Validators{ETag: st.ETag, LastModified: st.LastModified}
		}
	}
	start := w.d.Now()
	f.page, f.pastErr = w.fetcher.Fetch(ctx, u, v)
	f.took = w.d.Now().Sub(start)
	if f.pastErr != nil || f.page.NotModified {
		return f
	}
	sum := sha256.Sum256(f.page.Body)
	f.bodyHash = hex.EncodeToString(sum[:])
	if f.state != nil && f.bodyHash == f.state.BodyHash {
		return f // the same bytes as last time: nothing to parse
	}
	base := f.page.FinalURL
	if base == "" {
		base = u
	}
	f.res, f.parseErr = w.rules.Parse(base, f.page.Body)
	return f
}

// pageState is what the store remembers of listing page u: from the
// states loaded at the start of the run when the store can list them,
// else asked page by page. Safe for concurrent use (the map is read only).
func (w *walk) pageState(ctx context.Context, u string) (*store.PageState, error) {
	if w.states != nil {
		return w.states[u], nil
	}
	return w.d.Store.PageState(ctx, w.seed.ID, u)
}

// visit fetches, parses and applies one listing page.
func (w *walk) visit(ctx context.Context, u string, pastFirst bool) visitOutcome {
	return w.apply(ctx, w.fetch(ctx, u), pastFirst)
}

// apply takes one fetched page into the run, in page order.
func (w *walk) apply(ctx context.Context, f *fetched, pastFirst bool) visitOutcome {
	u, state, page := f.u, f.state, f.page
	if err := f.pastErr; err != nil {
		if pastFirst && crawler.KindOf(err) == crawler.KindNotFound {
			return visitOutcome{end: true}
		}
		w.failPage(ctx, u, statusOf(err), err)
		return visitOutcome{failed: true}
	}
	out := store.PageOutcome{URL: u, Status: page.Status, Bytes: page.Bytes, Duration: page.Duration}
	if out.Duration == 0 {
		out.Duration = f.took
	}

	bodyHash := f.bodyHash
	if !page.NotModified {
		if prev, ok := w.bodies[bodyHash]; ok {
			out.Items = 0
			w.addPage(ctx, out)
			return visitOutcome{sameAs: prev}
		}
		w.bodies[bodyHash] = u
	}
	if state != nil && (page.NotModified || bodyHash == state.BodyHash) {
		// Unchanged since the last run: its items are seen as they were.
		// As on a parsed page: an empty page that ends a param walk is
		// the end, not a sign of a broken layout.
		emptyEnd := w.seed.Pagination.Mode() == "param" && pastFirst && len(state.Keys) == 0
		if !emptyEnd && len(state.Keys) < w.seed.Guards.MinItems {
			w.suspectPage(u, len(state.Keys), false)
		}
		out.NotModified = true
		out.Items = len(state.Keys)
		newKeys := w.stageSeen(ctx, state.Keys)
		w.items += len(state.Keys)
		w.addPage(ctx, out)
		w.progress()
		return visitOutcome{next: state.Next, items: len(state.Keys), newKeys: newKeys}
	}
	if page.NotModified {
		// A 304 to a request we did not make conditional: treat as failed.
		w.failPage(ctx, u, page.Status, fmt.Errorf("source %s: fetch %s: 304 without a remembered page", w.seed.ID, u))
		return visitOutcome{failed: true}
	}
	res := f.res
	if f.parseErr != nil || res == nil {
		err := f.parseErr
		if err == nil {
			err = errors.New("page not parsed")
		}
		w.failPage(ctx, u, page.Status, fmt.Errorf("source %s: parse %s: %w", w.seed.ID, u, err))
		return visitOutcome{failed: true}
	}
	w.warnings = append(w.warnings, res.Warnings...)
	w.dropped += res.Dropped
	w.items += res.Facts.Items
	if res.Facts.Total > w.pageTotal {
		w.pageTotal = res.Facts.Total
	}
	if res.Facts.ScriptPager {
		w.warnings = append(w.warnings, parser.Warning{Page: u, Msg: "the pager works only through scripts or form posts; this run covers the pages harvest can reach"})
	}
	keys := make([]string, 0, len(res.Records))
	for i, r := range res.Records {
		keys = append(keys, r.Key)
		if i < len(res.DetailURLs) && res.DetailURLs[i] != "" {
			w.detailURLs[r.Key] = res.DetailURLs[i]
		}
	}
	newKeys := w.stageRecords(ctx, res.Records, keys)
	out.Items, out.Keys, out.Next, out.BodyHash = len(res.Records), keys, res.Next, bodyHash
	out.ETag, out.LastModified = page.ETag, page.LastModified

	// The walk of a param pagination ends at the first empty page; any
	// other page below the seed's minimum looks like a layout change.
	emptyEnd := w.seed.Pagination.Mode() == "param" && pastFirst && res.Facts.Items == 0
	if !emptyEnd && res.Facts.Items < w.seed.Guards.MinItems {
		w.suspectPage(u, res.Facts.Items, res.Facts.ScriptList)
		// Remember nothing of a page that looks wrong: the next run must
		// fetch and judge it again, never count it "not modified".
		out.ETag, out.LastModified, out.BodyHash = "", "", ""
	}
	w.addPage(ctx, out)
	w.progress()
	return visitOutcome{next: res.Next, items: res.Facts.Items, newKeys: newKeys}
}

// suspectPage marks the run suspect because page u has fewer items than
// guards.min_items (a maintenance page, a redesign); the first such page
// names the reason.
func (w *walk) suspectPage(u string, items int, scriptList bool) {
	if w.suspect != "" {
		return
	}
	w.suspect = fmt.Sprintf("page %s has %d items, fewer than guards.min_items (%d): the listing container may have changed", u, items, w.seed.Guards.MinItems)
	if scriptList {
		w.suspect += "; the page builds its list with scripts"
	}
}

func statusOf(err error) int {
	var fe *crawler.Error
	if errors.As(err, &fe) {
		return fe.Status
	}
	return 0
}

func (w *walk) failPage(ctx context.Context, u string, status int, err error) {
	w.failed++
	if crawler.KindOf(err) == crawler.KindBlocked && w.blocked == "" {
		w.blocked = err.Error()
	}
	w.log.Warn("page failed", "url", u, "err", err)
	w.addPage(ctx, store.PageOutcome{URL: u, Status: status, Err: err.Error()})
	w.progress()
}

// addPage stages a page outcome and keeps it, without its keys and next
// links, for the verdict.
func (w *walk) addPage(ctx context.Context, out store.PageOutcome) {
	if out.NotModified {
		out.Keys, out.Next = nil, nil // its state is kept as it was
	}
	if w.stageErr == nil {
		w.staged(w.sess.AddPage(context.WithoutCancel(ctx), out))
	}
	out.Keys, out.Next = nil, nil
	w.pages = append(w.pages, out)
}

// stageRecords stages a parsed page's records (keys are theirs) and
// returns how many keys the run had not seen before. A seed with detail
// fields holds its records until the detail follow has completed them:
// only their keys are staged now.
func (w *walk) stageRecords(ctx context.Context, recs []record.Record, keys []string) int {
	if w.stageErr != nil {
		return 0
	}
	if w.holdRecords() {
		w.records = append(w.records, recs...)
		n, err := w.sess.ReserveKeys(context.WithoutCancel(ctx), keys)
		w.staged(err)
		return n
	}
	n, err := w.sess.AddRecords(context.WithoutCancel(ctx), recs)
	w.staged(err)
	return n
}

// stageSeen stages keys seen without content (a page not modified) and
// returns how many the run had not seen before.
func (w *walk) stageSeen(ctx context.Context, keys []string) int {
	if w.stageErr != nil {
		return 0
	}
	n, err := w.sess.AddSeen(context.WithoutCancel(ctx), keys)
	w.staged(err)
	return n
}

// stageHeld stages the records held for the detail follow.
func (w *walk) stageHeld(ctx context.Context) {
	if w.stageErr != nil || len(w.records) == 0 {
		return
	}
	_, err := w.sess.AddRecords(context.WithoutCancel(ctx), w.records)
	w.staged(err)
	w.records = nil
}

func (w *walk) holdRecords() bool {
	return w.seed.Detail != nil && len(w.seed.Detail.Fields) > 0
}

// staged notes the first staging error and stops the walk: a run whose
// records cannot all be staged cannot be stored.
func (w *walk) staged(err error) {
	if err != nil && w.stageErr == nil {
		w.stageErr = err
		w.stop(err)
	}
}

// verdict decides how the crawl ended; the store may still turn a
// complete run into suspect (zero items, too many removals).
func (w *walk) verdict(ctx context.Context) (store.Status, string) {
	ok := len(w.pages) - w.failed
	switch {
	case w.blocked != "" && ok == 0:
		return store.StatusBlocked, w.blocked
	case ok == 0 && w.failed > 0:
		return store.StatusFailed, fmt.Sprintf("all %d pages failed; first: %s", w.failed, firstErr(w.pages))
	case ctx.Err() != nil:
		return store.StatusPartial, "run cancelled: " + ctx.Err().Error()
	case w.failed > 0:
		return store.StatusPartial, fmt.Sprintf("%d of %d pages failed; first: %s", w.failed, len(w.pages), firstErr(w.pages))
	case w.cut != "":
		return store.StatusPartial, w.cut
	case w.detailFailed != "":
		return store.StatusPartial, fmt.Sprintf("%d of %d detail pages failed; first: %s", w.detailErrors, w.detailPages, w.detailFailed)
	case w.suspect != "":
		return store.StatusSuspect, w.suspect
	case w.pageTotal > 0 && w.items < w.pageTotal:
		return store.StatusSuspect, fmt.Sprintf("the site says it holds %d items; the run saw %d", w.pageTotal, w.items)
	}
	return store.StatusComplete, ""
}

func firstErr(pages []store.PageOutcome) string {
	for _, p := range pages {
		if p.Err != "" {
			return p.Err
		}
	}
	return ""
}
