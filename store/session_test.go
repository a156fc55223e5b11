package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/record"
)

func countOf(t *testing.T, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A run being staged holds no lock: another source's run is applied
// meanwhile (within a second, not after the 10 s busy timeout), and both
// end up stored.
func TestSessionStagingTakesNoLock(t *testing.T) {
	s, _ := newStore(t, Options{Now: newClock().Now})
	ctx := context.Background()
	sess, err := s.BeginRun(ctx, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if _, err := sess.AddRecords(ctx, []record.Record{rec("https://a.int/1", "One"), rec("https://a.int/2", "Two")}); err != nil {
		t.Fatal(err)
	}
	other, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := s.ApplyRun(other, RunInput{Source: "b", Status: StatusComplete, Records: []record.Record{rec("https://b.int/1", "B")}}); err != nil {
		t.Fatalf("another source's run while a run is staged: %v", err)
	}
	res, err := sess.Finish(ctx, RunInput{Source: "a", Status: StatusComplete})
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Added != 2 || res.Changes != nil {
		t.Errorf("run a: added %d, %d changes in memory; want 2 added, none held", res.Run.Added, len(res.Changes))
	}
	if n := countOf(t, s, `SELECT COUNT(*) FROM records`); n != 3 {
		t.Errorf("%d records stored, want 3", n)
	}
}

// A session closed without Finish (a run that could not be stored)
// leaves the store as it was.
func TestSessionClosedUnfinishedStoresNothing(t *testing.T) {
	s, _ := newStore(t, Options{Now: newClock().Now})
	ctx := context.Background()
	sess, err := s.BeginRun(ctx, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.AddRecords(ctx, []record.Record{rec("https://a.int/1", "One")}); err != nil {
		t.Fatal(err)
	}
	if err := sess.AddPage(ctx, PageOutcome{URL: "https://a.int/list", Status: 200, Items: 1, Keys: []string{"https://a.int/1"}}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"runs", "run_pages", "page_states", "records", "versions", "changes"} {
		if n := countOf(t, s, `SELECT COUNT(*) FROM `+table); n != 0 {
			t.Errorf("%s holds %d rows after an unfinished run", table, n)
		}
	}
	if _, err := sess.Finish(ctx, RunInput{Source: "a", Status: StatusComplete}); err == nil {
		t.Error("Finish after Close succeeded")
	}
	// The store still works (the session's connection was not left in a
	// transaction in the pool).
	if _, err := s.ApplyRun(ctx, RunInput{Source: "a", Status: StatusComplete, Records: []record.Record{rec("https://a.int/1", "One")}}); err != nil {
		t.Fatal(err)
	}
}

// Staged page by page: AddRecords and AddSeen count the keys new to the
// run; the first record of a key wins even when the key was first seen
// without content on an unchanged page, and later ones are reported.
// With every key hashing alike, the session's hash set tells nothing and
// each key is looked up among the queued and staged records: the same.
func TestSessionFirstRecordWinsAcrossPages(t *testing.T) {
	t.Run("distinct hashes", func(t *testing.T) { testSessionFirstRecordWins(t, false) })
	t.Run("colliding hashes", func(t *testing.T) { testSessionFirstRecordWins(t, true) })
}

func testSessionFirstRecordWins(t *testing.T, collide bool) {
	s, _ := newStore(t, Options{Now: newClock().Now})
	ctx := context.Background()
	sess, err := s.BeginRun(ctx, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if collide {
		sess.hashOf = func(string) keyHash { return keyHash{1, 2} }
	}
	steps := []struct {
		seen []string
		recs []record.Record
		want int
	}{
		{seen: []string{"https://a.int/1", "https://a.int/2"}, want: 2},
		{recs: []record.Record{rec("https://a.int/1", "First"), rec("https://a.int/3", "Three"), rec("https://a.int/3", "Three again")}, want: 1},
		{recs: []record.Record{rec("https://a.int/1", "Second"), rec("https://a.int/4", "Four")}, want: 1},
		{seen: []string{"https://a.int/4", "https://a.int/5"}, want: 1},
	}
	for i, st := range steps {
		var n int
		var err error
		switch {
		case st.recs != nil:
			n, err = sess.AddRecords(ctx, st.recs)
		case i == 0:
			// Reserved, as a detail-follow run does for the records it
			// holds: the record of key 1, staged later, is not a duplicate.
			n, err = sess.ReserveKeys(ctx, st.seen)
		default:
			n, err = sess.AddSeen(ctx, st.seen)
		}
		if err != nil {
			t.Fatal(err)
		}
		if n != st.want {
			t.Errorf("step %d: %d new keys, want %d", i+1, n, st.want)
		}
	}
	res, err := sess.Finish(ctx, RunInput{Source: "a", Status: StatusComplete})
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Seen != 5 || res.Run.Added != 3 || res.Run.Warnings != 1 {
		t.Errorf("seen %d added %d warnings %d; want 5, 3, 1", res.Run.Seen, res.Run.Added, res.Run.Warnings)
	}
	ws, err := s.RunWarnings(ctx, res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || !strings.HasPrefix(ws[0], "2 items repeated a key") || !strings.Contains(ws[0], "https://a.int/3, https://a.int/1") {
		t.Errorf("warnings %q", ws)
	}
	titles := map[string]string{}
	if err := s.EachRecord(ctx, RecordFilter{}, func(r *record.Record) error { titles[r.Key] = r.Title; return nil }); err != nil {
		t.Fatal(err)
	}
	if titles["https://a.int/1"] != "First" || titles["https://a.int/3"] != "Three" || len(titles) != 3 {
		t.Errorf("stored %v; want the first record of each key", titles)
	}
}

// TestSessionUnchangedListingWins: a key first listed on a page not
// modified keeps its stored record; a later copy of it on a parsed page
// is a duplicate, not an update, so the record does not flip between its
// two listings from one night to the next.
func TestSessionUnchangedListingWins(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	apply(t, s, c, input("a", StatusComplete, []record.Record{rec("https://a.int/1", "First listing"), rec("https://a.int/2", "Two")}))

	c.Advance(time.Hour)
	sess, err := s.BeginRun(ctx, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if n, err := sess.AddSeen(ctx, []string{"https://a.int/1"}); err != nil || n != 1 {
		t.Fatalf("AddSeen: %d, %v", n, err)
	}
	if n, err := sess.AddRecords(ctx, []record.Record{rec("https://a.int/1", "Later copy"), rec("https://a.int/2", "Two")}); err != nil || n != 1 {
		t.Fatalf("AddRecords: %d new keys, %v; want 1", n, err)
	}
	res, err := sess.Finish(ctx, RunInput{Source: "a", Status: StatusComplete})
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Seen != 2 || res.Run.Updated != 0 || res.Run.Warnings != 1 {
		t.Errorf("seen %d updated %d warnings %d; want 2, 0, 1 (the later copy ignored)", res.Run.Seen, res.Run.Updated, res.Run.Warnings)
	}
	titles := map[string]string{}
	if err := s.EachRecord(ctx, RecordFilter{}, func(r *record.Record) error { titles[r.Key] = r.Title; return nil }); err != nil {
		t.Fatal(err)
	}
	if titles["https://a.int/1"] != "First listing" {
		t.Errorf("key 1 is %q; want the first listing's %q kept", titles["https://a.int/1"], "First listing")
	}
}
