package export

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

var _ RecordRowSource = (*store.Store)(nil)

// recordsOnly hides a store's EachRecordRow: a CSV export of it takes the
// record path.
type recordsOnly struct{ st *store.Store }

func (r recordsOnly) EachRecord(ctx context.Context, f store.RecordFilter, fn func(*record.Record) error) error {
	return r.st.EachRecord(ctx, f, fn)
}

// TestRecordRowsMatchRecords: a CSV export of a real store through its
// rows (writeRecordRow) is byte for byte the export through its records
// (writeRecord), over awkward values, lists, extras and removed records,
// whatever the filter and the extra columns (sorted or not, with names
// no record has, repeated).
func TestRecordRowsMatchRecords(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "harvest.db"), store.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var recs []record.Record
	for i, a := range awkward {
		b := awkward[(i+7)%len(awkward)]
		r := record.Record{
			Key: fmt.Sprintf("k%02d %s", i, a), URL: "https://example.org/" + b, Title: a, Summary: b + a,
			Countries: []string{a, b}, Regions: []string{b}, Authors: []string{a, a + b, b},
			Year: 2000 + i - 10, Language: b, Extra: map[string]string{"doi": a},
		}
		switch i % 4 {
		case 0:
			r.Extra["pages"], r.Extra["aaa"], r.Extra["zzz"] = b, "first "+a, "last "+b
		case 1:
			r.Year, r.Extra, r.Countries, r.Categories = 0, nil, nil, []string{a}
		case 2:
			r.Extra = map[string]string{}
		}
		recs = append(recs, r)
	}
	run := func(source string, rs []record.Record) {
		t.Helper()
		clock = clock.Add(time.Hour)
		if _, err := st.ApplyRun(ctx, store.RunInput{Source: source, Status: store.StatusComplete, Records: rs,
			Guards: seeds.Guards{MissingRuns: 1, MaxRemovedShare: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	run("src", recs)
	run("other", recs[:5])
	run("src", recs[3:]) // removes the first three
	extras := [][]string{nil, {"doi"}, {"aaa", "doi", "nope", "pages", "zzz"}, {"zzz", "doi", "doi", "aaa", "nope"}}
	filters := []store.RecordFilter{{}, {IncludeRemoved: true}, {Sources: []string{"other"}}}
	counts := map[bool]int{}
	for _, f := range filters {
		for _, extra := range extras {
			o := Options{ExtraColumns: extra, Excel: len(extra) == 1}
			var rows, recsOut bytes.Buffer
			n1, err1 := WriteRecords(ctx, &rows, st, f, o)
			n2, err2 := WriteRecords(ctx, &recsOut, recordsOnly{st}, f, o)
			if err1 != nil || err2 != nil || n1 != n2 || n1 < 5 {
				t.Fatalf("filter %+v extra %q: rows %d %v, records %d %v", f, extra, n1, err1, n2, err2)
			}
			if rows.String() != recsOut.String() {
				gl, wl := strings.Split(rows.String(), "\r\n"), strings.Split(recsOut.String(), "\r\n")
				for i := range min(len(gl), len(wl)) {
					if gl[i] != wl[i] {
						t.Fatalf("filter %+v extra %q, line %d:\n rows    %q\nrecords %q", f, extra, i, gl[i], wl[i])
					}
				}
				t.Fatalf("filter %+v extra %q: %d lines from rows, %d from records", f, extra, len(gl), len(wl))
			}
			if len(f.Sources) == 0 {
				counts[f.IncludeRemoved] = n1
			}
		}
	}
	if counts[true] != counts[false]+3 {
		t.Errorf("%d records with the removed ones, %d without: want 3 removed", counts[true], counts[false])
	}
}
