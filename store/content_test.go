package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/record"
)

func contentCases() []record.Record {
	return []record.Record{
		{},
		{URL: "https://example.int/a", Title: "Tráfico & <trata> \"de\" personas — عربى", Summary: strings.Repeat("x", 300),
			Countries: []string{"México", "Côte d'Ivoire"}, Regions: []string{}, Authors: []string{"A; B", `C\D`},
			Year: 2024, Categories: []string{"Trafficking"}, Language: "es",
			Extra: map[string]string{"pdf": "https://example.int/a.pdf", "note": "", "b": "2", "a": "1"}},
		{Title: "negative year", Year: -44, Extra: map[string]string{}},
		{Title: "odd bytes \x00\xff", Countries: []string{""}, Year: 1 << 40},
	}
}

func TestContentRoundTrip(t *testing.T) {
	for i, r := range contentCases() {
		b := appendContent(nil, &r)
		var got record.Record
		if err := decodeContent(string(b), &got); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("case %d: decoded\n%#v\nwant\n%#v", i, got, r)
		}
		// Every truncation is an error, never a panic or a wrong record.
		for n := 0; n < len(b); n++ {
			var x record.Record
			if err := decodeContent(string(b[:n]), &x); err == nil {
				t.Errorf("case %d: %d of %d bytes decoded without error", i, n, len(b))
			}
		}
	}
}

func TestContentReadsJSONRows(t *testing.T) {
	r := contentCases()[1]
	j, err := r.MarshalContent()
	if err != nil {
		t.Fatal(err)
	}
	var got record.Record
	if err := decodeContent(string(j), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("decoded JSON\n%#v\nwant\n%#v", got, r)
	}
}

// TestVersionsWrittenAsJSONStillRead: a store whose versions hold the
// JSON of schema version 2 reads and diffs them as before.
func TestVersionsWrittenAsJSONStillRead(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	rs := recs(3)
	apply(t, s, c, input("a", StatusComplete, rs))
	// Rewrite every version as schema version 2 wrote it.
	rows, err := s.db.Query(`SELECT id, source, key FROM versions`)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]record.Record{}
	for _, r := range rs {
		byKey[r.Key] = r
	}
	type upd struct {
		id int64
		j  []byte
	}
	var upds []upd
	for rows.Next() {
		var id int64
		var src, key string
		if err := rows.Scan(&id, &src, &key); err != nil {
			t.Fatal(err)
		}
		r := byKey[key]
		r.Source = src
		j, err := r.MarshalContent()
		if err != nil {
			t.Fatal(err)
		}
		upds = append(upds, upd{id, j})
	}
	rows.Close()
	for _, u := range upds {
		if _, err := s.db.Exec(`UPDATE versions SET content = ? WHERE id = ?`, string(u.j), u.id); err != nil {
			t.Fatal(err)
		}
	}
	got := records(t, s, RecordFilter{})
	for _, r := range rs {
		g := got["a "+r.Key]
		if g == nil || g.Title != r.Title || !reflect.DeepEqual(g.Countries, r.Countries) || g.Extra["pdf"] != r.Extra["pdf"] {
			t.Fatalf("record %s read from JSON = %+v", r.Key, g)
		}
	}
	// An update diffs against the JSON version.
	rs[1].Title = "New title"
	res := apply(t, s, c, input("a", StatusComplete, rs))
	if len(res.Changes) != 1 || res.Changes[0].Kind != KindUpdated || len(res.Changes[0].Fields) != 1 ||
		res.Changes[0].Fields[0] != (record.FieldChange{Field: "title", Old: "Report 1", New: "New title"}) {
		t.Fatalf("update over a JSON version: %+v", res.Changes)
	}
	cs := changes(t, s, ChangeFilter{Kinds: []string{KindAdded}})
	if len(cs) != 3 || cs[0].Record.Title != "Report 0" || cs[0].Record.Summary != "About Report 0" {
		t.Fatalf("added changes over JSON versions: %+v", cs)
	}
}

// TestRunsLargerThanABatch applies runs of several insert batches: every
// change row exists when OnChange sees it, ids follow the order of the
// records, and change detection with and without ignored fields holds
// over versions written in batches.
func TestRunsLargerThanABatch(t *testing.T) {
	c := newClock()
	hooked := 0
	var lastID int64
	s, _ := newStore(t, Options{Now: c.Now, OnChange: func(ctx context.Context, tx *sql.Tx, ch *Change) error {
		hooked++
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM changes c JOIN versions v ON v.id = c.version_id
			WHERE c.id = ? AND c.key = ? AND c.kind = ?`, ch.ID, ch.Key, ch.Kind).Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("change %d (%s %s) not written before its hook", ch.ID, ch.Kind, ch.Key)
		}
		if ch.ID <= lastID {
			return fmt.Errorf("change id %d after %d", ch.ID, lastID)
		}
		lastID = ch.ID
		return nil
	}})
	const n = 2*batchRows + 57
	rs := recs(n)
	for i := range rs {
		rs[i].Extra["seen"] = "1"
	}
	in := input("a", StatusComplete, rs)
	in.IgnoreChanges = []string{"extra.seen"}
	res := apply(t, s, c, in)
	if res.Run.Added != n || hooked != n || len(res.Changes) != n {
		t.Fatalf("first load: added %d, hooked %d, changes %d, want %d", res.Run.Added, hooked, len(res.Changes), n)
	}
	for i, ch := range res.Changes {
		if ch.Key != rs[i].Key || (i > 0 && ch.ID != res.Changes[i-1].ID+1) {
			t.Fatalf("change %d = %s id %d", i, ch.Key, ch.ID)
		}
	}
	// Unchanged, then only the ignored field (kept, no change), then
	// every third title.
	if res := apply(t, s, c, in); len(res.Changes) != 0 {
		t.Fatalf("unchanged run made %d changes", len(res.Changes))
	}
	for i := range rs {
		rs[i].Extra["seen"] = "2"
	}
	if res := apply(t, s, c, in); len(res.Changes) != 0 {
		t.Fatalf("ignored-field run made %d changes", len(res.Changes))
	}
	got := records(t, s, RecordFilter{})
	if r := got["a "+rs[n-1].Key]; r == nil || r.Extra["seen"] != "2" || r.Title != rs[n-1].Title {
		t.Fatalf("ignored field not kept: %+v", r)
	}
	for i := 0; i < n; i += 3 {
		rs[i].Title += " (revised)"
	}
	hooked = 0
	res = apply(t, s, c, in)
	if want := (n + 2) / 3; res.Run.Updated != want || hooked != want {
		t.Fatalf("updated %d, hooked %d, want %d", res.Run.Updated, hooked, want)
	}
	if f := res.Changes[1].Fields; len(f) != 1 || f[0].Field != "title" || f[0].New != rs[3].Title {
		t.Fatalf("second update fields = %+v", f)
	}
	// Nothing was left pending.
	if res := apply(t, s, c, in); len(res.Changes) != 0 {
		t.Fatalf("re-run made %d changes", len(res.Changes))
	}
}

// TestMissesResetUnderAFrozenClock: a record seen again resets its miss
// count even when the clock has not moved since it was last seen (the
// seen-marking skips rows this run wrote by their last_seen).
func TestMissesResetUnderAFrozenClock(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	rs := recs(10)
	run := func(rs []record.Record) *RunResult {
		t.Helper()
		in := input("a", StatusComplete, rs)
		in.Guards.MissingRuns = 3
		res, err := s.ApplyRun(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	run(rs)
	run(rs[:9]) // 9 missed once
	run(rs)     // seen again: no misses
	run(rs[:9])
	if res := run(rs[:9]); res.Run.Removed != 0 {
		t.Fatalf("removed after 2 misses in a row (an earlier miss was not reset)")
	}
	if res := run(rs[:9]); res.Run.Removed != 1 {
		t.Fatalf("third miss in a row removed %d, want 1", res.Run.Removed)
	}
}

// TestPageSize: a new database file gets NewPageSize; a file made with
// another page size keeps it and works.
func TestPageSize(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	var ps int
	if err := s.db.QueryRow(`PRAGMA page_size`).Scan(&ps); err != nil || ps != NewPageSize {
		t.Fatalf("new database page size = %d (%v), want %d", ps, err, NewPageSize)
	}
	var mode string
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode = %q (%v)", mode, err)
	}

	path := t.TempDir() + "/old.db"
	old, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`PRAGMA page_size = 4096; CREATE TABLE schema_version (version INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s2, err := Open(ctx, path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	closeAtCleanup(t, s2)
	if err := s2.db.QueryRow(`PRAGMA page_size`).Scan(&ps); err != nil || ps != 4096 {
		t.Fatalf("existing database page size = %d (%v), want 4096 kept", ps, err)
	}
	c.Advance(time.Hour)
	if res, err := s2.ApplyRun(ctx, input("a", StatusComplete, recs(3))); err != nil || res.Run.Added != 3 {
		t.Fatalf("apply on the 4 KiB database: %+v, %v", res, err)
	}
}

func TestExtraNames(t *testing.T) {
	for i, r := range contentCases() {
		var got []string
		if err := extraNames(string(appendContent(nil, &r)), func(n string) { got = append(got, n) }); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		want := slices.Sorted(maps.Keys(r.Extra))
		if !slices.Equal(got, want) {
			t.Errorf("case %d: extra names %v, want %v", i, got, want)
		}
	}

	c := newClock()
	failRun := false
	s, _ := newStore(t, Options{Now: c.Now, OnRun: func(context.Context, *sql.Tx, *Run) error {
		if failRun {
			return errors.New("the run hook fails")
		}
		return nil
	}})
	ctx := context.Background()
	ra := recs(3)
	ra[1].Extra["note"] = "x"
	rb := recs(2)
	for i := range rb {
		rb[i].Extra = map[string]string{"doi": "10.1/x"}
	}
	apply(t, s, c, input("a", StatusComplete, ra))
	apply(t, s, c, input("b", StatusComplete, rb))
	for _, tc := range []struct {
		f    RecordFilter
		want []string
	}{
		{RecordFilter{}, []string{"doi", "note", "pdf"}},
		{RecordFilter{Sources: []string{"a"}}, []string{"note", "pdf"}},
		{RecordFilter{Sources: []string{"b"}}, []string{"doi"}},
		{RecordFilter{Sources: []string{"zzz"}}, nil},
	} {
		got, err := s.ExtraNames(ctx, tc.f)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ExtraNames(%+v) = %v, %v; want %v", tc.f, got, err, tc.want)
		}
	}

	// The record with "note" changes and loses it: the column stays, so
	// that tomorrow's export has the header of today's.
	delete(ra[1].Extra, "note")
	ra[1].Title += " (revised)"
	apply(t, s, c, input("a", StatusComplete, ra))
	if got, err := s.ExtraNames(ctx, RecordFilter{Sources: []string{"a"}}); err != nil || !slices.Equal(got, []string{"note", "pdf"}) {
		t.Errorf("after the last 'note' went: ExtraNames = %v, %v; want [note pdf]", got, err)
	}
	// A run that fails writes nothing, extra names included.
	ra[0].Extra["isbn"] = "978"
	ra[0].Title += " (revised)"
	failRun = true
	if _, err := s.ApplyRun(ctx, input("a", StatusComplete, ra)); err == nil {
		t.Fatal("a run whose hook failed was applied")
	}
	if got, _ := s.ExtraNames(ctx, RecordFilter{Sources: []string{"a"}}); slices.Contains(got, "isbn") {
		t.Errorf("a refused run left its extra name: %v", got)
	}
	failRun = false

	// Fields the seed configures are names from the run on, before any
	// record has a value for them (and a run that saw nothing at all
	// still notes them), for their source only.
	in := input("b", StatusComplete, rb)
	in.ExtraFields = []string{"publisher", "doi"}
	apply(t, s, c, in)
	empty := input("c", StatusFailed, nil)
	empty.ExtraFields = []string{"isbn"}
	apply(t, s, c, empty)
	for src, want := range map[string][]string{"b": {"doi", "publisher"}, "c": {"isbn"}, "a": {"note", "pdf"}} {
		if got, err := s.ExtraNames(ctx, RecordFilter{Sources: []string{src}}); err != nil || !slices.Equal(got, want) {
			t.Errorf("with the seed's fields, ExtraNames of %s = %v, %v; want %v", src, got, err, want)
		}
	}
}

// TestMigrateFillsExtraNames: a database of schema version 3 (before
// extra_names) gets the names of the versions it already holds.
func TestMigrateFillsExtraNames(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s, path := newStore(t, Options{Now: c.Now})
	ra := recs(3)
	ra[2].Extra["note"] = "x"
	apply(t, s, c, input("a", StatusComplete, ra))
	delete(ra[2].Extra, "note")
	ra[2].Title += " (revised)"
	apply(t, s, c, input("a", StatusComplete, ra)) // "note" lives on in an old version only
	rb := recs(1)
	rb[0].Extra = map[string]string{"doi": "10.1/x"}
	apply(t, s, c, input("b", StatusComplete, rb))
	s2 := reopenOlder(t, s, path, `DROP TABLE extra_names; DROP TABLE source_sweeps; DROP TABLE source_keys; ALTER TABLE records DROP COLUMN written_by;
		UPDATE schema_version SET version = 3`, Options{Now: c.Now})
	for src, want := range map[string][]string{"a": {"note", "pdf"}, "b": {"doi"}} {
		if got, err := s2.ExtraNames(ctx, RecordFilter{Sources: []string{src}}); err != nil || !slices.Equal(got, want) {
			t.Errorf("after migration, ExtraNames(%s) = %v, %v; want %v", src, got, err, want)
		}
	}
}

// TestEachRecordStopsAtFnError: an error from fn stops the walk (across
// sources too) and comes back as it was, not wrapped; a cancelled context
// is reported as such.
func TestEachRecordStopsAtFnError(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	apply(t, s, c, input("a", StatusComplete, recs(2)))
	apply(t, s, c, input("b", StatusComplete, recs(2)))
	stop := errors.New("stop here")
	var seen []string
	err := s.EachRecord(ctx, RecordFilter{}, func(r *record.Record) error {
		seen = append(seen, r.Source+" "+r.Key)
		if len(seen) == 3 {
			return stop
		}
		return nil
	})
	if err != stop || len(seen) != 3 || !strings.HasPrefix(seen[2], "b ") {
		t.Fatalf("EachRecord = %v after %q; want the fn's error itself after the first record of b", err, seen)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.EachRecord(cctx, RecordFilter{}, func(*record.Record) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("EachRecord with a cancelled context = %v", err)
	}
}
