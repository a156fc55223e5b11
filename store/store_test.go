package store

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
)

// clock is a fake clock advanced by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 1, 2, 0, 0, 123456789, time.UTC)}
}

// newStore opens a real SQLite file in a temp dir, closed at cleanup.
func newStore(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "harvest.db")
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	closeAtCleanup(t, s)
	return s, path
}

// closeAtCleanup closes s when the test ends, failing the test first if
// a connection is still in use: a Rows, Conn or Tx left open, which with
// _mutex=no is more than a leak (see Open). Every store a test opens
// goes through it.
func closeAtCleanup(t testing.TB, s *Store) {
	t.Cleanup(func() {
		if n := s.db.Stats().InUse; n > 0 {
			t.Errorf("%d database connections still in use at the end of the test (a Rows, Conn or Tx left open)", n)
		}
		s.Close()
	})
}

// reopenOlder turns s's database (at path) back into an older schema
// with downgrade, which also sets schema_version, closes s and opens the
// file again, migrating it forward; the new store is closed at cleanup.
func reopenOlder(t *testing.T, s *Store, path, downgrade string, opts Options) *Store {
	t.Helper()
	if _, err := s.db.Exec(downgrade); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("open an older database: %v", err)
	}
	closeAtCleanup(t, s2)
	return s2
}

func rec(key, title string) record.Record {
	return record.Record{
		Key:        key,
		URL:        key,
		Title:      title,
		Summary:    "About " + title,
		Countries:  []string{"Mexico", "Guatemala"},
		Year:       2024,
		Categories: []string{"Trafficking"},
		Extra:      map[string]string{"pdf": key + ".pdf"},
	}
}

func recs(n int) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = rec(fmt.Sprintf("https://example.int/r/%03d", i), fmt.Sprintf("Report %d", i))
	}
	return out
}

// without returns rs minus the records with the given indexes.
func without(rs []record.Record, idx ...int) []record.Record {
	skip := map[int]bool{}
	for _, i := range idx {
		skip[i] = true
	}
	var out []record.Record
	for i, r := range rs {
		if !skip[i] {
			out = append(out, r)
		}
	}
	return out
}

func input(source string, status Status, rs []record.Record) RunInput {
	return RunInput{Source: source, Status: status, Records: rs}
}

func apply(t *testing.T, s *Store, c *clock, in RunInput) *RunResult {
	t.Helper()
	c.Advance(time.Hour)
	res, err := s.ApplyRun(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func kinds(cs []Change) map[string][]string {
	out := map[string][]string{}
	for _, c := range cs {
		out[c.Kind] = append(out[c.Kind], c.Key)
	}
	return out
}

func records(t *testing.T, s *Store, f RecordFilter) map[string]*record.Record {
	t.Helper()
	out := map[string]*record.Record{}
	err := s.EachRecord(context.Background(), f, func(r *record.Record) error {
		cp := *r
		out[r.Source+" "+r.Key] = &cp
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func changes(t *testing.T, s *Store, f ChangeFilter) []Change {
	t.Helper()
	var out []Change
	if err := s.EachChange(context.Background(), f, func(c *Change) error {
		out = append(out, *c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAddedUpdatedUnchanged(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	rs := recs(3)

	res := apply(t, s, c, input("a", StatusComplete, rs))
	t1 := c.Now()
	if got := kinds(res.Changes); len(got[KindAdded]) != 3 || len(got) != 1 {
		t.Fatalf("first run changes = %v, want 3 added", got)
	}
	if r := res.Run; r.Status != StatusComplete || r.Added != 3 || r.Seen != 3 || r.ID == 0 {
		t.Fatalf("first run = %+v", r)
	}
	ch := res.Changes[0]
	if ch.Record.Title != "Report 0" || ch.Record.Source != "a" || ch.Record.ContentHash != rs[0].Hash(nil) || !ch.At.Equal(t1) {
		t.Fatalf("added change = %+v", ch)
	}
	got := records(t, s, RecordFilter{})
	r0 := got["a "+rs[0].Key]
	if r0 == nil || !r0.FirstSeen.Equal(t1) || !r0.LastSeen.Equal(t1) || !r0.LastChanged.Equal(t1) || r0.RemovedAt != nil {
		t.Fatalf("stored record = %+v", r0)
	}
	if !reflect.DeepEqual(r0.Countries, rs[0].Countries) || r0.Extra["pdf"] != rs[0].Extra["pdf"] || r0.Year != 2024 {
		t.Fatalf("stored content = %+v", r0)
	}

	// The same records again: no changes, only last_seen moves.
	res = apply(t, s, c, input("a", StatusComplete, recs(3)))
	t2 := c.Now()
	if len(res.Changes) != 0 || res.Run.Added+res.Run.Updated+res.Run.Removed+res.Run.Restored != 0 || res.Run.Seen != 3 {
		t.Fatalf("unchanged re-apply: %+v, changes %v", res.Run, kinds(res.Changes))
	}
	r0 = records(t, s, RecordFilter{})["a "+rs[0].Key]
	if !r0.FirstSeen.Equal(t1) || !r0.LastSeen.Equal(t2) || !r0.LastChanged.Equal(t1) {
		t.Fatalf("after unchanged run: first %v last %v changed %v", r0.FirstSeen, r0.LastSeen, r0.LastChanged)
	}

	// Update: title, a list and an extra change.
	rs = recs(3)
	rs[1].Title = "Report 1, revised"
	rs[1].Countries = []string{"Mexico"}
	rs[1].Extra = map[string]string{"pdf": "https://example.int/new.pdf", "publisher": "IOM"}
	res = apply(t, s, c, input("a", StatusComplete, rs))
	t3 := c.Now()
	if res.Run.Updated != 1 || len(res.Changes) != 1 || res.Changes[0].Kind != KindUpdated || res.Changes[0].Key != rs[1].Key {
		t.Fatalf("update run: %+v %v", res.Run, kinds(res.Changes))
	}
	want := []record.FieldChange{
		{Field: "title", Old: "Report 1", New: "Report 1, revised"},
		{Field: "countries", Old: "Mexico; Guatemala", New: "Mexico"},
		{Field: "extra.pdf", Old: rs[1].Key + ".pdf", New: "https://example.int/new.pdf"},
		{Field: "extra.publisher", Old: "", New: "IOM"},
	}
	if !reflect.DeepEqual(res.Changes[0].Fields, want) {
		t.Fatalf("fields = %+v\nwant %+v", res.Changes[0].Fields, want)
	}
	// The stored change reads back the same.
	stored, err := s.RunChanges(context.Background(), res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || !reflect.DeepEqual(stored[0].Fields, want) || stored[0].Record.Title != "Report 1, revised" ||
		stored[0].ID != res.Changes[0].ID || !stored[0].At.Equal(t3) {
		t.Fatalf("stored change = %+v", stored)
	}
	r1 := records(t, s, RecordFilter{})["a "+rs[1].Key]
	if r1.Title != "Report 1, revised" || !r1.LastChanged.Equal(t3) || !r1.FirstSeen.Equal(t1) || r1.ContentHash != rs[1].Hash(nil) {
		t.Fatalf("updated record = %+v", r1)
	}
	// Each content version is kept.
	var versions int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM versions WHERE source = 'a' AND key = ?`, rs[1].Key).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != 2 {
		t.Fatalf("versions of updated record = %d, want 2", versions)
	}
}

func TestRemovalAfterMissingRunsAndRestore(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	rs := recs(10)
	gone := rs[9].Key
	apply(t, s, c, input("a", StatusComplete, rs))

	res := apply(t, s, c, input("a", StatusComplete, without(rs, 9)))
	if len(res.Changes) != 0 || res.Run.Status != StatusComplete {
		t.Fatalf("first miss: %+v %v", res.Run, kinds(res.Changes))
	}
	if records(t, s, RecordFilter{})["a "+gone] == nil {
		t.Fatal("record removed after one miss")
	}
	res = apply(t, s, c, input("a", StatusPartial, without(rs, 9)))
	if len(res.Changes) != 0 || res.Run.Status != StatusPartial {
		t.Fatalf("partial run: %+v %v", res.Run, kinds(res.Changes))
	}
	res = apply(t, s, c, input("a", StatusComplete, without(rs, 9)))
	tRemoved := c.Now()
	if res.Run.Removed != 1 || len(res.Changes) != 1 || res.Changes[0].Kind != KindRemoved || res.Changes[0].Key != gone {
		t.Fatalf("second complete miss: %+v %v", res.Run, kinds(res.Changes))
	}
	if rc := res.Changes[0].Record; rc.Title != "Report 9" || rc.RemovedAt == nil || !rc.RemovedAt.Equal(tRemoved) {
		t.Fatalf("removed change record = %+v", rc)
	}
	if records(t, s, RecordFilter{})["a "+gone] != nil {
		t.Fatal("removed record still listed as current")
	}
	all := records(t, s, RecordFilter{IncludeRemoved: true})
	if r := all["a "+gone]; r == nil || r.RemovedAt == nil || !r.RemovedAt.Equal(tRemoved) || r.Title != "Report 9" {
		t.Fatalf("removed record = %+v", r)
	}
	// Missing more complete runs does not remove it again.
	res = apply(t, s, c, input("a", StatusComplete, without(rs, 9)))
	if len(res.Changes) != 0 {
		t.Fatalf("run after removal: %v", kinds(res.Changes))
	}

	// It comes back with a new summary: restored, with the changed field.
	back := rs[9]
	back.Summary = "Back again"
	res = apply(t, s, c, input("a", StatusPartial, append(without(rs, 9), back)))
	if res.Run.Restored != 1 || len(res.Changes) != 1 || res.Changes[0].Kind != KindRestored {
		t.Fatalf("restore run: %+v %v", res.Run, kinds(res.Changes))
	}
	if f := res.Changes[0].Fields; len(f) != 1 || f[0].Field != "summary" || f[0].New != "Back again" {
		t.Fatalf("restored fields = %+v", f)
	}
	r := records(t, s, RecordFilter{})["a "+gone]
	if r == nil || r.RemovedAt != nil || r.Summary != "Back again" {
		t.Fatalf("restored record = %+v", r)
	}
	// The restored record's miss count starts again from zero.
	apply(t, s, c, input("a", StatusComplete, without(rs, 9)))
	if records(t, s, RecordFilter{})["a "+gone] == nil {
		t.Fatal("restored record removed after one miss")
	}
}

func TestPartialRunDoesNotCountMisses(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	rs := recs(10)
	g := seeds.Guards{MissingRuns: 3}
	run := func(status Status, rs []record.Record) *RunResult {
		in := input("a", status, rs)
		in.Guards = g
		return apply(t, s, c, in)
	}
	run(StatusComplete, rs)
	run(StatusComplete, without(rs, 0)) // miss 1
	run(StatusPartial, without(rs, 0))  // not counted
	run(StatusFailed, nil)              // not counted
	// Miss 2: with missing_runs 3 it stays, unless a partial or failed run counted.
	if res := run(StatusComplete, without(rs, 0)); len(res.Changes) != 0 {
		t.Fatalf("removed after 2 complete misses with missing_runs 3: %v", kinds(res.Changes))
	}
	// Miss 3.
	if res := run(StatusComplete, without(rs, 0)); res.Run.Removed != 1 {
		t.Fatalf("third complete miss: %+v", res.Run)
	}
}

func TestRemovalGuardHoldsRemovals(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	rs := recs(10)
	apply(t, s, c, input("a", StatusComplete, rs))
	res := apply(t, s, c, input("a", StatusComplete, rs[:7]))
	if res.Run.Status != StatusComplete || res.Run.Held != 0 {
		t.Fatalf("first miss run: %+v", res.Run)
	}
	res = apply(t, s, c, input("a", StatusComplete, rs[:7]))
	if r := res.Run; r.Status != StatusSuspect || r.Held != 3 || r.Removed != 0 || len(res.Changes) != 0 {
		t.Fatalf("guard run: %+v %v", r, kinds(res.Changes))
	}
	if !strings.Contains(res.Run.Reason, "3 of 10 records would be removed") {
		t.Fatalf("reason = %q", res.Run.Reason)
	}
	if n := len(records(t, s, RecordFilter{})); n != 10 {
		t.Fatalf("current records after held removals = %d, want 10", n)
	}
	last, err := s.LastRun(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if last.Status != StatusSuspect || last.Held != 3 || last.Reason != res.Run.Reason {
		t.Fatalf("stored run = %+v", last)
	}
	// An operator raising the guard lets the removals through.
	in := input("a", StatusComplete, rs[:7])
	in.Guards.MaxRemovedShare = 0.5
	res = apply(t, s, c, in)
	if res.Run.Status != StatusComplete || res.Run.Removed != 3 {
		t.Fatalf("raised guard: %+v", res.Run)
	}
}

func TestZeroItemsOnCompleteRunIsSuspect(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	rs := recs(5)
	apply(t, s, c, input("a", StatusComplete, rs))
	for i := 0; i < 3; i++ {
		res := apply(t, s, c, input("a", StatusComplete, nil))
		if r := res.Run; r.Status != StatusSuspect || r.Removed != 0 || len(res.Changes) != 0 {
			t.Fatalf("zero-item run %d: %+v", i, r)
		}
		if res.Run.Reason != "zero items where the last complete run had 5" {
			t.Fatalf("reason = %q", res.Run.Reason)
		}
	}
	if n := len(records(t, s, RecordFilter{})); n != 5 {
		t.Fatalf("current records = %d, want 5", n)
	}
	// The zero-item runs counted no misses: one full run, then one miss,
	// does not remove.
	apply(t, s, c, input("a", StatusComplete, rs[1:]))
	if n := len(records(t, s, RecordFilter{})); n != 5 {
		t.Fatalf("current records = %d, want 5", n)
	}
	// A brand-new source with nothing is not suspect.
	if res := apply(t, s, c, input("empty", StatusComplete, nil)); res.Run.Status != StatusComplete {
		t.Fatalf("empty new source: %+v", res.Run)
	}
}

func TestSeenKeysProtectRecords(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	rs := recs(10)
	apply(t, s, c, input("a", StatusComplete, rs))
	var keys []string
	for _, r := range rs[5:] {
		keys = append(keys, r.Key)
	}
	for i := 0; i < 3; i++ {
		in := input("a", StatusComplete, rs[:5])
		in.SeenKeys = keys
		res := apply(t, s, c, in)
		if len(res.Changes) != 0 || res.Run.Status != StatusComplete || res.Run.Seen != 10 {
			t.Fatalf("run %d with seen keys: %+v %v", i, res.Run, kinds(res.Changes))
		}
	}
	got := records(t, s, RecordFilter{})
	if len(got) != 10 {
		t.Fatalf("current records = %d, want 10", len(got))
	}
	if r := got["a "+keys[0]]; !r.LastSeen.Equal(c.Now()) || r.Title != "Report 5" {
		t.Fatalf("record kept by seen key = %+v", r)
	}
	// A complete run that saw only SeenKeys is not "zero items".
	in := input("a", StatusComplete, nil)
	in.SeenKeys = keys
	if res := apply(t, s, c, in); res.Run.Status != StatusComplete {
		t.Fatalf("seen-keys-only run: %+v", res.Run)
	}
}

func TestDuplicateKeysFirstWins(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	rs := recs(2)
	dup := rs[0]
	dup.Title = "Second copy"
	in := input("a", StatusComplete, append(rs, dup))
	in.Warnings = []string{"page 1: something"}
	res := apply(t, s, c, in)
	if res.Run.Added != 2 || res.Run.Seen != 2 || res.Run.Warnings != 2 {
		t.Fatalf("run = %+v", res.Run)
	}
	if r := records(t, s, RecordFilter{})["a "+rs[0].Key]; r.Title != "Report 0" {
		t.Fatalf("kept title %q, want the first", r.Title)
	}
	ws, err := s.RunWarnings(context.Background(), res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0] != "page 1: something" || !strings.Contains(ws[1], rs[0].Key) {
		t.Fatalf("warnings = %q", ws)
	}
}

func TestIgnoredFieldsMakeNoChangeButAreKept(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	rs := recs(1)
	in := input("a", StatusComplete, rs)
	in.IgnoreChanges = []string{"summary", "extra.pdf"}
	first := apply(t, s, c, in)
	rs = recs(1)
	rs[0].Summary = "Views: 12"
	rs[0].Extra["pdf"] = "other.pdf"
	in.Records = rs
	res := apply(t, s, c, in)
	if len(res.Changes) != 0 {
		t.Fatalf("ignored fields made changes: %+v", res.Changes)
	}
	r := records(t, s, RecordFilter{})["a "+rs[0].Key]
	if r.Summary != "Views: 12" || r.Extra["pdf"] != "other.pdf" || !r.LastChanged.Equal(first.Changes[0].At) {
		t.Fatalf("record = %+v", r)
	}
	rs[0].Title = "New title"
	res = apply(t, s, c, in)
	if len(res.Changes) != 1 || len(res.Changes[0].Fields) != 1 || res.Changes[0].Fields[0].Field != "title" {
		t.Fatalf("title change = %+v", res.Changes)
	}
}

func TestPagesAndPageState(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	u1, u2, u3 := "https://example.int/list?page=1", "https://example.int/list?page=2", "https://example.int/list?page=3"
	in := input("a", StatusComplete, recs(2))
	in.Pages = []PageOutcome{
		{URL: u1, Status: 200, Bytes: 1000, Duration: 1500 * time.Millisecond, Items: 1, ETag: `"e1"`, LastModified: "Mon, 02 Mar 2026 10:00:00 GMT", BodyHash: "h1", Keys: []string{"k1"}, Next: []string{u2}},
		{URL: u2, Status: 200, Items: 1, ETag: `"e2"`, BodyHash: "h2", Keys: []string{"k2"}},
	}
	res := apply(t, s, c, in)
	if res.Run.Pages != 2 || res.Run.PagesFailed != 0 {
		t.Fatalf("run = %+v", res.Run)
	}
	ps, err := s.PageState(ctx, "a", u1)
	if err != nil {
		t.Fatal(err)
	}
	want := &PageState{URL: u1, ETag: `"e1"`, LastModified: "Mon, 02 Mar 2026 10:00:00 GMT", BodyHash: "h1", Keys: []string{"k1"}, Next: []string{u2}}
	if !reflect.DeepEqual(ps, want) {
		t.Fatalf("page state = %+v, want %+v", ps, want)
	}
	if ps, err := s.PageState(ctx, "other", u1); err != nil || ps != nil {
		t.Fatalf("page state of another source = %+v, %v", ps, err)
	}
	all, err := s.PageStates(ctx, "a")
	if err != nil || len(all) != 2 || !reflect.DeepEqual(all[u1], want) || all[u2] == nil || all[u2].ETag != `"e2"` {
		t.Fatalf("page states = %+v, %v; want both pages, page 1 as PageState gives it", all, err)
	}
	if other, err := s.PageStates(ctx, "other"); err != nil || len(other) != 0 {
		t.Fatalf("page states of another source = %+v, %v", other, err)
	}

	// Run 2: page 1 not modified, page 2 failed, page 3 new.
	in.Status = StatusPartial
	in.Pages = []PageOutcome{
		{URL: u1, Status: 304, NotModified: true, Items: 1},
		{URL: u2, Status: 500, Err: "HTTP 500", ETag: "bad", BodyHash: "bad"},
		{URL: u3, Status: 200, Items: 0, BodyHash: "h3"},
	}
	res = apply(t, s, c, in)
	if res.Run.Pages != 3 || res.Run.PagesFailed != 1 {
		t.Fatalf("run 2 = %+v", res.Run)
	}
	if ps, _ := s.PageState(ctx, "a", u1); !reflect.DeepEqual(ps, want) {
		t.Fatalf("not-modified page state changed: %+v", ps)
	}
	if ps, _ := s.PageState(ctx, "a", u2); ps == nil || ps.BodyHash != "h2" || ps.ETag != `"e2"` {
		t.Fatalf("failed page overwrote state: %+v", ps)
	}
	if ps, _ := s.PageState(ctx, "a", u3); ps == nil || ps.BodyHash != "h3" || ps.Keys != nil || ps.Next != nil {
		t.Fatalf("page 3 state = %+v", ps)
	}
	run, pages, err := s.Run(ctx, res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*run, res.Run) {
		t.Fatalf("stored run = %+v\nreturned   %+v", *run, res.Run)
	}
	wantPages := []PageOutcome{
		{URL: u1, Status: 304, NotModified: true, Items: 1},
		{URL: u2, Status: 500, Err: "HTTP 500"},
		{URL: u3, Status: 200},
	}
	if !reflect.DeepEqual(pages, wantPages) {
		t.Fatalf("pages = %+v", pages)
	}
	_, pages, _ = s.Run(ctx, 1)
	if len(pages) != 2 || pages[0].Duration != 1500*time.Millisecond || pages[0].Bytes != 1000 {
		t.Fatalf("run 1 pages = %+v", pages)
	}
	if _, _, err := s.Run(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing run: err = %v", err)
	}
}

func TestFailedApplyLeavesNothing(t *testing.T) {
	for _, mode := range []string{"hook error", "cancelled context"} {
		t.Run(mode, func(t *testing.T) {
			c := newClock()
			var failAt int // 0: never
			var cancel context.CancelFunc
			n := 0
			s, path := newStore(t, Options{Now: c.Now, OnChange: func(ctx context.Context, tx *sql.Tx, ch *Change) error {
				n++
				if failAt > 0 && n == failAt {
					if cancel != nil {
						cancel()
						return nil
					}
					return errors.New("outbox full")
				}
				return nil
			}})
			rs := recs(10)
			in := input("a", StatusComplete, rs)
			in.Pages = []PageOutcome{{URL: "https://example.int/", Status: 200, BodyHash: "h1"}}
			apply(t, s, c, in)
			apply(t, s, c, input("a", StatusComplete, rs[:9]))
			before := snapshot(t, s)

			// Run 3 adds, updates and removes; it fails at its third change.
			rs2 := append(recs(9), rec("https://example.int/new", "New"))
			rs2[0].Title = "Changed"
			in = input("a", StatusComplete, rs2)
			in.Pages = []PageOutcome{{URL: "https://example.int/", Status: 200, BodyHash: "h2"}}
			failAt, n = 3, 0
			ctx := context.Background()
			if mode == "cancelled context" {
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
			}
			c.Advance(time.Hour)
			if _, err := s.ApplyRun(ctx, in); err == nil {
				t.Fatal("ApplyRun succeeded, want an error")
			}
			if n < 3 {
				t.Fatalf("only %d changes made before the failure", n)
			}
			if after := snapshot(t, s); !reflect.DeepEqual(after, before) {
				t.Fatalf("failed run left traces:\nbefore %+v\nafter  %+v", before, after)
			}

			// The next run completes, on this handle and on a new one.
			failAt, cancel = 0, nil
			s.Close()
			s2, err := Open(context.Background(), path, Options{Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			closeAtCleanup(t, s2)
			c.Advance(time.Hour)
			res, err := s2.ApplyRun(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if k := kinds(res.Changes); len(k[KindAdded]) != 1 || len(k[KindUpdated]) != 1 || len(k[KindRemoved]) != 1 {
				t.Fatalf("retried run changes = %v", k)
			}
			if ps, _ := s2.PageState(context.Background(), "a", "https://example.int/"); ps.BodyHash != "h2" {
				t.Fatalf("page state = %+v", ps)
			}
		})
	}
}

// snapshot is everything a reader can see of the store.
type snap struct {
	Runs     []Run
	Records  map[string]*record.Record
	Changes  []Change
	MaxID    int64
	Page     *PageState
	Versions int
	Missed   int
}

func snapshot(t *testing.T, s *Store) snap {
	t.Helper()
	ctx := context.Background()
	runs, err := s.Runs(ctx, RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	maxID, err := s.MaxChangeID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := s.PageState(ctx, "a", "https://example.int/")
	if err != nil {
		t.Fatal(err)
	}
	sn := snap{Runs: runs, Records: records(t, s, RecordFilter{IncludeRemoved: true}), Changes: changes(t, s, ChangeFilter{}), MaxID: maxID, Page: ps}
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM versions`).Scan(&sn.Versions); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow(`SELECT SUM(missed) FROM records`).Scan(&sn.Missed); err != nil {
		t.Fatal(err)
	}
	return sn
}

func TestReopenKeepsEverythingAndMigrationsAreIdempotent(t *testing.T) {
	c := newClock()
	s, path := newStore(t, Options{Now: c.Now})
	rs := recs(10)
	apply(t, s, c, input("a", StatusComplete, rs))
	apply(t, s, c, input("a", StatusComplete, rs[1:]))
	rs[2].Title = "Changed"
	apply(t, s, c, input("a", StatusPartial, rs[1:]))
	before := snapshot(t, s)
	s.Close()

	for i := 0; i < 2; i++ {
		s2, err := Open(context.Background(), path, Options{Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		if after := snapshot(t, s2); !reflect.DeepEqual(after, before) {
			t.Fatalf("reopen %d differs:\nbefore %+v\nafter  %+v", i, before, after)
		}
		var v, rows int
		if err := s2.db.QueryRow(`SELECT MAX(version), COUNT(*) FROM schema_version`).Scan(&v, &rows); err != nil {
			t.Fatal(err)
		}
		if v != SchemaVersion() || rows != 1 {
			t.Fatalf("schema_version = %d (%d rows), want %d", v, rows, SchemaVersion())
		}
		s2.Close()
	}
	// The missed count survived: one more complete miss removes rs[0].
	s3, err := Open(context.Background(), path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	closeAtCleanup(t, s3)
	res := apply(t, s3, c, input("a", StatusComplete, rs[1:]))
	if res.Run.Removed != 1 || res.Changes[0].Key != rs[0].Key {
		t.Fatalf("run after reopen: %+v", res.Run)
	}
}

func TestNewerSchemaIsAnError(t *testing.T) {
	s, path := newStore(t, Options{})
	if _, err := s.db.Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(context.Background(), path, Options{})
	if err == nil || !strings.Contains(err.Error(), "schema version 99 is newer") {
		t.Fatalf("err = %v", err)
	}
}

func TestQueriesAndFilters(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	if r, err := s.LastRun(ctx, "a"); err != nil || r != nil {
		t.Fatalf("last run of empty store = %+v, %v", r, err)
	}
	if id, err := s.MaxChangeID(ctx); err != nil || id != 0 {
		t.Fatalf("max change id of empty store = %d, %v", id, err)
	}
	ra := recs(10)
	rb := recs(3)
	r1 := apply(t, s, c, input("a", StatusComplete, ra)).Run // 10 added
	tAfter1 := c.Now().Add(time.Minute)
	r2 := apply(t, s, c, input("b", StatusComplete, rb)).Run // 3 added
	ra[0].Title = "Changed"
	r3 := apply(t, s, c, input("a", StatusComplete, ra[:9])).Run // 1 updated
	r4 := apply(t, s, c, input("a", StatusComplete, ra[:9])).Run // 1 removed

	ids := func(cs []Change) (out []string) {
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s/%s/%d", c.Source, c.Kind, c.RunID))
		}
		return out
	}
	count := func(f ChangeFilter) int { return len(changes(t, s, f)) }

	all := changes(t, s, ChangeFilter{})
	if len(all) != 15 {
		t.Fatalf("all changes = %v", ids(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatalf("changes not in id order: %v", ids(all))
		}
	}
	maxID, _ := s.MaxChangeID(ctx)
	if maxID != all[len(all)-1].ID {
		t.Fatalf("max change id = %d, want %d", maxID, all[len(all)-1].ID)
	}
	cases := []struct {
		name string
		f    ChangeFilter
		want int
	}{
		{"source b", ChangeFilter{Sources: []string{"b"}}, 3},
		{"sources a,b", ChangeFilter{Sources: []string{"a", "b"}}, 15},
		{"unknown source", ChangeFilter{Sources: []string{"zzz"}}, 0},
		{"kind updated", ChangeFilter{Kinds: []string{KindUpdated}}, 1},
		{"kinds updated,removed", ChangeFilter{Kinds: []string{KindUpdated, KindRemoved}}, 2},
		{"after id", ChangeFilter{AfterID: all[11].ID}, 3},
		{"after max", ChangeFilter{AfterID: maxID}, 0},
		{"since run 3", ChangeFilter{SinceRun: r3.ID}, 2},
		{"since time", ChangeFilter{SinceTime: tAfter1}, 5},
		{"run 2", ChangeFilter{RunID: r2.ID}, 3},
		{"source a added", ChangeFilter{Sources: []string{"a"}, Kinds: []string{KindAdded}}, 10},
		{"last 4", ChangeFilter{Last: 4}, 4},
		{"last 100", ChangeFilter{Last: 100}, 15},
		{"source b, last 2", ChangeFilter{Sources: []string{"b"}, Last: 2}, 2},
	}
	for _, tc := range cases {
		if got := count(tc.f); got != tc.want {
			t.Errorf("%s: %d changes, want %d", tc.name, got, tc.want)
		}
	}
	// Last: the newest N matching changes, still in id order.
	idsOf := func(cs []Change) (out []int64) {
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	var wantLast []int64
	for _, c := range all {
		if c.Source == "a" && c.Kind == KindAdded {
			wantLast = append(wantLast, c.ID)
		}
	}
	wantLast = wantLast[len(wantLast)-3:]
	last3 := changes(t, s, ChangeFilter{Sources: []string{"a"}, Kinds: []string{KindAdded}, Last: 3})
	if got := idsOf(last3); !reflect.DeepEqual(got, wantLast) {
		t.Fatalf("last 3 added of a = %v, want %v", got, wantLast)
	}
	if last3[2].Record.Title != "Report 9" || last3[2].Key != ra[9].Key {
		t.Fatalf("last added change of a = %+v", last3[2])
	}
	if got := idsOf(changes(t, s, ChangeFilter{Last: 2})); !reflect.DeepEqual(got, idsOf(all[13:])) {
		t.Fatalf("last 2 changes = %v, want %v", got, idsOf(all[13:]))
	}

	rc, err := s.RunChanges(ctx, r4.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc) != 1 || rc[0].Kind != KindRemoved || rc[0].Key != ra[9].Key || rc[0].Record.Title != "Report 9" || rc[0].Record.RemovedAt == nil {
		t.Fatalf("run 4 changes = %+v", rc)
	}
	// A callback error stops the walk and comes back as is.
	stop := errors.New("stop")
	n := 0
	if err := s.EachChange(ctx, ChangeFilter{}, func(*Change) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("EachChange stop: err %v after %d", err, n)
	}

	// Records: ordered by source then key, filtered.
	var order []string
	if err := s.EachRecord(ctx, RecordFilter{}, func(r *record.Record) error {
		order = append(order, r.Source+" "+r.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(order) != 12 || order[0] != "a "+ra[0].Key || order[8] != "a "+ra[8].Key || order[9] != "b "+rb[0].Key {
		t.Fatalf("record order = %v", order)
	}
	if n := len(records(t, s, RecordFilter{Sources: []string{"b"}})); n != 3 {
		t.Fatalf("records of b = %d", n)
	}
	if n := len(records(t, s, RecordFilter{Sources: []string{"a"}, IncludeRemoved: true})); n != 10 {
		t.Fatalf("records of a with removed = %d", n)
	}
	byKey := records(t, s, RecordFilter{Sources: []string{"a"}, Keys: []string{ra[1].Key, ra[2].Key, "no such key"}})
	if len(byKey) != 2 || byKey["a "+ra[1].Key] == nil || byKey["a "+ra[2].Key] == nil {
		t.Fatalf("records by key = %v", byKey)
	}
	if err := s.EachRecord(ctx, RecordFilter{}, func(*record.Record) error { return stop }); err != stop {
		t.Fatalf("EachRecord stop: %v", err)
	}

	// Runs: newest first, per source, limited.
	runs, err := s.Runs(ctx, RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 || runs[0].ID != r4.ID || runs[3].ID != r1.ID {
		t.Fatalf("runs = %+v", runs)
	}
	runs, _ = s.Runs(ctx, RunFilter{Source: "a", Limit: 2})
	if len(runs) != 2 || runs[0].ID != r4.ID || runs[1].ID != r3.ID {
		t.Fatalf("runs of a, limit 2 = %+v", runs)
	}
	if last, _ := s.LastRun(ctx, "b"); last == nil || !reflect.DeepEqual(*last, r2) {
		t.Fatalf("last run of b = %+v, want %+v", last, r2)
	}

	srcs, err := s.Sources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 || srcs[0].Source != "a" || srcs[0].Records != 9 || srcs[0].Removed != 1 || srcs[0].LastRun.ID != r4.ID ||
		srcs[1].Source != "b" || srcs[1].Records != 3 || srcs[1].LastRun.ID != r2.ID {
		t.Fatalf("sources = %+v", srcs)
	}
}

func TestRunTimesRoundTrip(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	loc := time.FixedZone("CET", 3600)
	in := input("a", StatusFailed, nil)
	in.StartedAt = time.Date(2026, 1, 2, 3, 4, 5, 987654321, loc)
	in.FinishedAt = in.StartedAt.Add(1234567 * time.Nanosecond)
	in.Reason = "connection refused"
	res := apply(t, s, c, in)
	got, _, err := s.Run(context.Background(), res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.StartedAt.Equal(in.StartedAt) || !got.FinishedAt.Equal(in.FinishedAt) || got.Status != StatusFailed || got.Reason != in.Reason {
		t.Fatalf("run = %+v", got)
	}
	// Zero times are stamped with the clock.
	res = apply(t, s, c, input("a", StatusFailed, nil))
	if !res.Run.StartedAt.Equal(c.Now()) || !res.Run.FinishedAt.Equal(c.Now()) {
		t.Fatalf("defaulted times = %v %v", res.Run.StartedAt, res.Run.FinishedAt)
	}
}

func TestApplyRunRejectsBadInput(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	bad := []RunInput{
		{Status: StatusComplete},
		{Source: "a", Status: "done"},
		{Source: "a", Status: StatusComplete, Records: []record.Record{{Title: "no key"}}},
		{Source: "a", Status: StatusComplete, Records: []record.Record{{Source: "b", Key: "k"}}},
	}
	for i, in := range bad {
		if _, err := s.ApplyRun(ctx, in); err == nil {
			t.Errorf("input %d accepted", i)
		}
	}
	if runs, _ := s.Runs(ctx, RunFilter{}); len(runs) != 0 {
		t.Fatalf("runs stored from bad input: %+v", runs)
	}
}

func TestConcurrentRunsOfDifferentSources(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := s.ApplyRun(context.Background(), input(fmt.Sprintf("s%d", i), StatusComplete, recs(200)))
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	srcs, err := s.Sources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 8 || srcs[3].Records != 200 {
		t.Fatalf("sources = %+v", srcs)
	}
}

// TestKillDuringApply kills a process in the middle of a large ApplyRun
// (after it has written thousands of rows, enough to spill into the WAL)
// and checks the store is as before the run, and the next run completes.
func TestKillDuringApply(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	c := newClock()
	s, path := newStore(t, Options{Now: c.Now})
	apply(t, s, c, input("a", StatusComplete, recs(10)))
	before := snapshot(t, s)
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.v")
	cmd.Env = append(os.Environ(), "HARVEST_STORE_KILL_DB="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if sc.Text() == "READY" {
			ready = true
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if fi, err := os.Stat(path + "-wal"); err == nil {
		t.Logf("wal size at kill: %d", fi.Size())
	}
	if !ready {
		t.Fatal("child never reached the middle of its run")
	}

	s2, err := Open(context.Background(), path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	closeAtCleanup(t, s2)
	if after := snapshot(t, s2); !reflect.DeepEqual(after, before) {
		t.Fatalf("killed run left traces: runs %d -> %d, records %d -> %d, changes %d -> %d",
			len(before.Runs), len(after.Runs), len(before.Records), len(after.Records), len(before.Changes), len(after.Changes))
	}
	res := apply(t, s2, c, killRun())
	if res.Run.Added != 5000 || res.Run.Updated != 10 {
		t.Fatalf("run after the kill = %+v", res.Run)
	}
}

func killRun() RunInput {
	rs := recs(10)
	for i := range rs {
		rs[i].Title += " (revised)"
	}
	for i := 0; i < 5000; i++ {
		rs = append(rs, rec(fmt.Sprintf("https://example.int/new/%05d", i), strings.Repeat("Long title ", 50)))
	}
	return input("a", StatusComplete, rs)
}

// TestKillChild is the process TestKillDuringApply kills: it applies a
// large run and, half way, says READY and waits to be killed.
func TestKillChild(t *testing.T) {
	path := os.Getenv("HARVEST_STORE_KILL_DB")
	if path == "" {
		t.Skip("helper process of TestKillDuringApply")
	}
	n := 0
	s, err := Open(context.Background(), path, Options{OnChange: func(context.Context, *sql.Tx, *Change) error {
		if n++; n == 4000 {
			fmt.Println("READY")
			time.Sleep(time.Minute) // killed long before
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.ApplyRun(context.Background(), killRun())
	t.Fatal("run finished without being killed")
}

func TestOpenRejectsInMemory(t *testing.T) {
	if _, err := Open(context.Background(), ":memory:", Options{}); err == nil {
		t.Fatal("in-memory database accepted")
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "no", "such", "dir", "h.db"), Options{}); err == nil {
		t.Fatal("database in a missing directory accepted")
	}
}

// Two processes (here: two handles) opening one new database file at the
// same moment both succeed: the loser of the WAL switch waits and retries.
func TestOpenNewFileConcurrently(t *testing.T) {
	for round := 0; round < 5; round++ {
		path := filepath.Join(t.TempDir(), "new.db")
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				s, err := Open(context.Background(), path, Options{})
				if err == nil {
					err = s.Close()
				}
				errs <- err
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}

// TestEachRecordOrderAndSources: EachRecord walks every source that has
// records, in byte order of source then key, and Sources picks some of
// them whatever order they are given in; an empty store, or a source
// without records, yields nothing and is no error.
func TestEachRecordOrderAndSources(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	list := func(f RecordFilter) (out []string) {
		t.Helper()
		if err := s.EachRecord(ctx, f, func(r *record.Record) error {
			out = append(out, r.Source+" "+r.Key)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := list(RecordFilter{}); len(got) != 0 {
		t.Fatalf("an empty store yields %q", got)
	}
	sources := []string{"zz", "a-b", "b", "a", "B", "é", "a b"}
	for i, src := range sources {
		apply(t, s, c, input(src, StatusComplete, recs(i+1)))
	}
	want := func(srcs ...string) (out []string) {
		for _, src := range slices.Sorted(slices.Values(srcs)) {
			for _, r := range recs(slices.Index(sources, src) + 1) {
				out = append(out, src+" "+r.Key)
			}
		}
		return out
	}
	if got, w := list(RecordFilter{}), want(sources...); !slices.Equal(got, w) {
		t.Errorf("all records:\n got %q\nwant %q", got, w)
	}
	if got, w := list(RecordFilter{Sources: []string{"é", "missing", "a", "a b"}}), want("a", "a b", "é"); !slices.Equal(got, w) {
		t.Errorf("sources é, missing, a, 'a b':\n got %q\nwant %q", got, w)
	}
	if got := list(RecordFilter{Sources: []string{"missing"}}); len(got) != 0 {
		t.Errorf("a source without records yields %q", got)
	}
}
