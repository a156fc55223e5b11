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
	direct := s.direct
	t.Cleanup(func() { s.direct = direct })
	t.Run("direct", func(t *testing.T) {
		if !sqliteread.Available() {
			t.Skip("sqliteread is not available on this platform; EachRecordRow takes the driver's path")
		}
		if !direct {
			t.Fatal("sqliteread is available but the store does not use it")
		}
		s.direct = true
		check(t)
	})
	t.Run("driver", func(t *testing.T) {
		s.direct = false
		check(t)
	})
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

// TestEachRecordRowOneSnapshot: by either path, a walk sees the store as
// it was when it began, even when runs commit while it is on an earlier
// source; and a walk whose context is cancelled ends with that error.
func TestEachRecordRowOneSnapshot(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	apply(t, s, c, input("a", StatusComplete, recs(2)))
	rb := recs(2)
	apply(t, s, c, input("b", StatusComplete, rb))
	eachRowPath(t, s, func(t *testing.T) {
		before, wantTitle := c.Now(), rb[0].Title
		title := map[string]string{}
		lastSeen := map[string]time.Time{}
		err := s.EachRecordRow(ctx, RecordFilter{}, func(r *RecordRow) error {
			if len(title) == 0 {
				// While the walk is on source a: b is revised, then seen
				// unchanged (a sweep).
				rb[0].Title += " (revised)"
				apply(t, s, c, input("b", StatusComplete, rb))
				apply(t, s, c, input("b", StatusComplete, rb))
			}
			k := r.Source() + " " + r.Key()
			title[k], lastSeen[k] = strings.Clone(r.Title()), r.LastSeen()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		k := "b " + rb[0].Key
		if title[k] != wantTitle || !lastSeen[k].Equal(before) {
			t.Fatalf("b's first record in the walk: title %q, last seen %v; want it as it was when the walk began (%q, last seen %v)",
				title[k], lastSeen[k], wantTitle, before)
		}

		cctx, cancel := context.WithCancel(ctx)
		n := 0
		err = s.EachRecordRow(cctx, RecordFilter{}, func(*RecordRow) error {
			n++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("walk cancelled at its first row: err %v after %d rows, want context.Canceled", err, n)
		}
		if err := s.EachRecordRow(cctx, RecordFilter{}, func(*RecordRow) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Fatalf("walk with a cancelled context: %v", err)
		}
	})
}
