package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
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
// whatever the filter; and fn's error comes back as is.
func TestEachRecordRowMatchesEachRecord(t *testing.T) {
	ctx := context.Background()
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
// lists and Extra map are its own.
func rowRecord(r *RecordRow, rec *record.Record) {
	clone := func(vs []string) []string {
		if vs == nil {
			return nil
		}
		return append(make([]string, 0, len(vs)), vs...)
	}
	*rec = record.Record{Source: r.source, Key: r.key, URL: r.url, Title: r.title, Summary: r.summary,
		Countries: clone(r.countries), Regions: clone(r.regions), Authors: clone(r.authors), Year: r.year,
		Categories: clone(r.categories), Language: r.language, ContentHash: r.contentHash,
		FirstSeen: r.FirstSeen(), LastSeen: r.LastSeen(), LastChanged: r.LastChanged()}
	if r.extra != nil {
		rec.Extra = make(map[string]string, len(r.extra))
		for _, e := range r.extra {
			rec.Extra[e.Name] = e.Value
		}
	}
	if t, ok := r.RemovedAt(); ok {
		rec.RemovedAt = &t
	}
}
