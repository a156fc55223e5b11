package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store/internal/sqliteread"
)

func TestRecordRowContentRoundTrip(t *testing.T) {
	var row RecordRow // reused across cases, as EachRecordRow reuses it
	for i, r := range append(contentCases(), manyListValues()) {
		b := appendContent(nil, &r)
		if err := decodeRowContent(string(b), &row); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		var got record.Record
		rowRecord(&row, &got)
		if !reflect.DeepEqual(got, r) {
			t.Errorf("case %d: decoded\n%#v\nwant\n%#v", i, got, r)
		}
		// Every truncation is an error, never a panic or a wrong row.
		for n := 0; n < len(b); n++ {
			var x RecordRow
			if err := decodeRowContent(string(b[:n]), &x); err == nil {
				t.Errorf("case %d: %d of %d bytes decoded without error", i, n, len(b))
			}
		}
		// The JSON of schema version 2 reads the same.
		j, err := r.MarshalContent()
		if err != nil {
			t.Fatal(err)
		}
		if err := decodeRowContent(string(j), &row); err != nil {
			t.Fatalf("case %d as JSON: %v", i, err)
		}
		var want record.Record
		if err := decodeContent(string(j), &want); err != nil {
			t.Fatal(err)
		}
		rowRecord(&row, &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("case %d as JSON: decoded\n%#v\nwant\n%#v", i, got, want)
		}
		if !slices.IsSortedFunc(row.Extra(), func(a, b ExtraField) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("case %d as JSON: extras not in name order: %v", i, row.Extra())
		}
	}
}

// manyListValues has more list values than a row's list buffer first
// holds, so that it grows in the middle of a record.
func manyListValues() record.Record {
	var r record.Record
	for i := range 40 {
		r.Countries = append(r.Countries, fmt.Sprintf("c%d", i))
		r.Categories = append(r.Categories, fmt.Sprintf("k%d", i))
	}
	r.Authors = []string{"only"}
	r.Extra = map[string]string{"z": "last", "m": "middle", "a": "first"}
	return r
}

// TestEachRecordRowMatchesEachRecord: over a store with removed records,
// two sources, awkward values and versions of both encodings, every row
// EachRecordRow yields is the record EachRecord yields at the same place,
// whatever the filter, by either path; and fn's error comes back as is.
func TestEachRecordRowMatchesEachRecord(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	var rs []record.Record
	for i, r := range append(contentCases(), manyListValues()) {
		r.Key = fmt.Sprintf("https://example.int/%02d", i)
		rs = append(rs, r, rec(r.Key+"/plain", fmt.Sprintf("Plain %d", i)))
	}
	apply(t, s, c, input("a", StatusComplete, rs))
	apply(t, s, c, input("b", StatusComplete, rs[:4]))
	gone := RunInput{Source: "a", Status: StatusComplete, Records: without(rs, 1, 4),
		Guards: seeds.Guards{MissingRuns: 1, MaxRemovedShare: 1}}
	if res := apply(t, s, c, gone); res.Run.Removed != 2 {
		t.Fatalf("removed %d records, want 2", res.Run.Removed)
	}
	// Source b's versions as schema version 2 wrote them: JSON.
	if _, err := s.db.Exec(`UPDATE versions SET content = ? WHERE source = 'b' AND key = ?`,
		mustJSON(t, rs[2]), rs[2].Key); err != nil {
		t.Fatal(err)
	}
	eachRowPath(t, s, func(t *testing.T) { checkRowsMatchRecords(t, s, rs) })
}

// eachRowPath runs check as a subtest for each path EachRecordRow can
// take: straight out of SQLite's memory (sqliteread) and through the
// driver.
func eachRowPath(t *testing.T, s *Store, check func(t *testing.T)) {
	t.Helper()
	t.Run("direct", func(t *testing.T) {
		useRowPath(t, s, true)
		check(t)
	})
	t.Run("driver", func(t *testing.T) {
		useRowPath(t, s, false)
		check(t)
	})
}

// useRowPath makes EachRecordRow take the direct path (or the driver's)
// until t ends. It skips t when the direct path is asked for and this
// platform has none, and fails it when the store does not take the
// direct path where there is one.
func useRowPath(t *testing.T, s *Store, direct bool) {
	t.Helper()
	was := s.direct
	t.Cleanup(func() { s.direct = was })
	if direct && !sqliteread.Available() {
		t.Skip("sqliteread is not available on this platform; EachRecordRow takes the driver's path")
	}
	if direct && !was {
		t.Fatal("sqliteread is available but the store does not use it")
	}
	s.direct = direct
}

func checkRowsMatchRecords(t *testing.T, s *Store, rs []record.Record) {
	ctx := context.Background()
	filters := []RecordFilter{{}, {IncludeRemoved: true}, {Sources: []string{"b"}},
		{Keys: []string{rs[1].Key, rs[2].Key}, IncludeRemoved: true}}
	for _, f := range filters {
		var want, got []record.Record
		if err := s.EachRecord(ctx, f, func(r *record.Record) error {
			want = append(want, *r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.EachRecordRow(ctx, f, func(r *RecordRow) error {
			var x record.Record
			rowRecord(r, &x)
			got = append(got, x)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(want) < 2 {
			t.Fatalf("filter %+v: only %d records", f, len(want))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("filter %+v: rows\n%+v\nrecords\n%+v", f, got, want)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := s.EachRecordRow(ctx, RecordFilter{}, func(*RecordRow) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("fn's error: got %v after %d rows, want it as is after 1", err, n)
	}
}

func mustJSON(t *testing.T, r record.Record) string {
	t.Helper()
	j, err := r.MarshalContent()
	if err != nil {
		t.Fatal(err)
	}
	return string(j)
}

// rowRecord sets rec to the row's record, as EachRecord yields it; rec's
// strings, lists and Extra map are its own (a row's strings may point
// into SQLite's memory, reused by the next row).
func rowRecord(r *RecordRow, rec *record.Record) {
	str := strings.Clone
	clone := func(vs []string) []string {
		if vs == nil {
			return nil
		}
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = str(v)
		}
		return out
	}
	*rec = record.Record{Source: str(r.source), Key: str(r.key), URL: str(r.url), Title: str(r.title), Summary: str(r.summary),
		Countries: clone(r.countries), Regions: clone(r.regions), Authors: clone(r.authors), Year: r.year,
		Categories: clone(r.categories), Language: str(r.language), ContentHash: str(r.contentHash),
		FirstSeen: r.FirstSeen(), LastSeen: r.LastSeen(), LastChanged: r.LastChanged()}
	if r.extra != nil {
		rec.Extra = make(map[string]string, len(r.extra))
		for _, e := range r.extra {
			rec.Extra[str(e.Name)] = str(e.Value)
		}
	}
	if t, ok := r.RemovedAt(); ok {
		rec.RemovedAt = &t
	}
}

// walked is what a test keeps of a record a walk yields (copied).
type walked struct {
	title    string
	lastSeen time.Time
}

// A recordWalk is one way to walk a store's records. walk yields
// source + " " + key and a copy of what a test checks.
type recordWalk struct {
	name   string
	direct bool // the path of EachRecordRow (useRowPath)
	walk   func(ctx context.Context, f RecordFilter, fn func(k string, r walked) error) error
}

// recordWalks are EachRecord, and EachRecordRow by each of its paths.
func recordWalks(s *Store) []recordWalk {
	each := func(ctx context.Context, f RecordFilter, fn func(string, walked) error) error {
		return s.EachRecord(ctx, f, func(r *record.Record) error {
			return fn(r.Source+" "+r.Key, walked{r.Title, r.LastSeen})
		})
	}
	rows := func(ctx context.Context, f RecordFilter, fn func(string, walked) error) error {
		return s.EachRecordRow(ctx, f, func(r *RecordRow) error {
			return fn(r.Source()+" "+r.Key(), walked{strings.Clone(r.Title()), r.LastSeen()})
		})
	}
	return []recordWalk{{"EachRecord", false, each}, {"EachRecordRow/direct", true, rows}, {"EachRecordRow/driver", false, rows}}
}

// TestRecordWalksOneSnapshot: every walk (an export) sees every source as
// it was when it began, even when a run of a later source commits while
// the walk is on an earlier one (and a sweep moves last_seen meanwhile);
// after the runs it sees them; and a walk whose context is cancelled
// part-way ends with that error.
func TestRecordWalksOneSnapshot(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	apply(t, s, c, input("a", StatusComplete, recs(2)))
	rb := recs(2)
	apply(t, s, c, input("b", StatusComplete, rb))
	for _, w := range recordWalks(s) {
		t.Run(w.name, func(t *testing.T) {
			useRowPath(t, s, w.direct)
			before, wantTitle := c.Now(), rb[0].Title
			got := map[string]walked{}
			err := w.walk(ctx, RecordFilter{}, func(k string, r walked) error {
				if len(got) == 0 {
					// While the walk is on source a: b is revised once,
					// then seen unchanged (a sweep).
					rb[0].Title += " (revised)"
					apply(t, s, c, input("b", StatusComplete, rb))
					apply(t, s, c, input("b", StatusComplete, rb))
				}
				got[k] = r
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if b0 := got["b "+rb[0].Key]; b0.title != wantTitle || !b0.lastSeen.Equal(before) {
				t.Fatalf("b's first record in the walk = %+v; want it as it was when the walk began (%q, last seen %v)",
					b0, wantTitle, before)
			}
			after := map[string]walked{}
			if err := w.walk(ctx, RecordFilter{Sources: []string{"b"}}, func(k string, r walked) error {
				after[k] = r
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if b0, b1 := after["b "+rb[0].Key], after["b "+rb[1].Key]; b0.title != rb[0].Title || !b1.lastSeen.Equal(c.Now()) {
				t.Fatalf("after the runs, b's records = %+v, %+v; want the revised title %q and the sweep's last seen %v",
					b0, b1, rb[0].Title, c.Now())
			}

			cctx, cancel := context.WithCancel(ctx)
			n := 0
			err = w.walk(cctx, RecordFilter{}, func(string, walked) error {
				n++
				cancel()
				return nil
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("walk cancelled at its first record: err %v after %d records, want context.Canceled", err, n)
			}
		})
	}
}

// TestRecordWalksNameACorruptRecord: a stored version that cannot be
// decoded stops every walk with an error naming the source and the key,
// after the records before it.
func TestRecordWalksNameACorruptRecord(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	rs := recs(3)
	apply(t, s, c, input("a", StatusComplete, rs))
	// A binary content value cut short after its first string's length.
	if _, err := s.db.ExecContext(ctx, `UPDATE versions SET content = ? WHERE source = 'a' AND key = ?`,
		[]byte{contentBinary, 0x7f}, rs[1].Key); err != nil {
		t.Fatal(err)
	}
	for _, w := range recordWalks(s) {
		t.Run(w.name, func(t *testing.T) {
			useRowPath(t, s, w.direct)
			var seen []string
			err := w.walk(ctx, RecordFilter{}, func(k string, _ walked) error {
				seen = append(seen, k)
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), "source a key "+rs[1].Key) || !strings.Contains(err.Error(), "decode") {
				t.Fatalf("walk over a corrupt version: err %v; want one naming source a, key %s and the decoding", err, rs[1].Key)
			}
			if len(seen) != 1 || seen[0] != "a "+rs[0].Key {
				t.Fatalf("records before the corrupt one: %q; want only %s", seen, rs[0].Key)
			}
		})
	}
}

// TestRecordWalksStopSoonWhenCancelled: a walk cancelled at its first
// record reads at most a few hundred more, by every path, however many
// the store holds.
func TestRecordWalksStopSoonWhenCancelled(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	apply(t, s, c, input("a", StatusComplete, recs(3000)))
	for _, w := range recordWalks(s) {
		t.Run(w.name, func(t *testing.T) {
			useRowPath(t, s, w.direct)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := 0
			err := w.walk(ctx, RecordFilter{}, func(string, walked) error {
				n++
				cancel()
				return nil
			})
			if !errors.Is(err, context.Canceled) || n > 257 {
				t.Fatalf("walk cancelled at its first record: err %v after %d records; want context.Canceled within 257", err, n)
			}
		})
	}
}

// TestRecordWalksAfterClose: once the store is closed every walk fails,
// the direct path included (it opens a connection of its own).
func TestRecordWalksAfterClose(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	apply(t, s, c, input("a", StatusComplete, recs(3)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, w := range recordWalks(s) {
		t.Run(w.name, func(t *testing.T) {
			useRowPath(t, s, w.direct)
			n := 0
			err := w.walk(context.Background(), RecordFilter{}, func(string, walked) error {
				n++
				return nil
			})
			if err == nil || n != 0 {
				t.Fatalf("walk of a closed store: err %v after %d records; want an error and none", err, n)
			}
		})
	}
}

// TestDirectReadFollowsTheStoreNotTheWorkingDirectory: a store opened by
// a relative path reads the same file after the process changes
// directory (the direct path opens the file again for every walk).
func TestDirectReadFollowsTheStoreNotTheWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	c := newClock()
	s, err := Open(context.Background(), "rel.db", Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	closeAtCleanup(t, s)
	apply(t, s, c, input("a", StatusComplete, recs(3)))
	t.Chdir(t.TempDir())
	for _, w := range recordWalks(s) {
		t.Run(w.name, func(t *testing.T) {
			useRowPath(t, s, w.direct)
			n := 0
			if err := w.walk(context.Background(), RecordFilter{}, func(string, walked) error {
				n++
				return nil
			}); err != nil || n != 3 {
				t.Fatalf("walk after a change of directory: err %v, %d records; want the store's 3", err, n)
			}
		})
	}
}
