package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/record"
)

const benchRecords = 40000

func benchRecs(n int) []record.Record {
	summary := strings.Repeat("A study of migration and trafficking routes in the region. ", 5)
	out := make([]record.Record, n)
	for i := range out {
		key := fmt.Sprintf("https://example.int/resources/publication-%06d", i)
		out[i] = record.Record{
			Source:     "bench",
			Key:        key,
			URL:        key,
			Title:      fmt.Sprintf("Assessment of trafficking in persons, volume %d", i),
			Summary:    summary,
			Countries:  []string{"Mexico", "Guatemala", "Honduras"},
			Regions:    []string{"Central America"},
			Authors:    []string{"IOM", "UNODC"},
			Year:       2000 + i%26,
			Categories: []string{"Trafficking"},
			Language:   "en",
			Extra:      map[string]string{"pdf": key + ".pdf"},
		}
	}
	return out
}

func benchApply(b *testing.B, s *Store, c *clock, rs []record.Record) *RunResult {
	c.Advance(time.Hour)
	res, err := s.ApplyRun(context.Background(), RunInput{Source: "bench", Status: StatusComplete, Records: rs})
	if err != nil {
		b.Fatal(err)
	}
	return res
}

func reportRecords(b *testing.B) {
	b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkApplyFirstLoad applies 40,000 new records to an empty store.
func BenchmarkApplyFirstLoad(b *testing.B) {
	rs := benchRecs(benchRecords)
	c := newClock()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, _ := newStore(b, Options{Now: c.Now})
		b.StartTimer()
		if res := benchApply(b, s, c, rs); res.Run.Added != benchRecords {
			b.Fatalf("added %d", res.Run.Added)
		}
	}
	reportRecords(b)
}

// BenchmarkApplyUnchanged re-applies the same 40,000 records.
func BenchmarkApplyUnchanged(b *testing.B) {
	rs := benchRecs(benchRecords)
	c := newClock()
	s, _ := newStore(b, Options{Now: c.Now})
	benchApply(b, s, c, rs)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := benchApply(b, s, c, rs); len(res.Changes) != 0 {
			b.Fatalf("%d changes", len(res.Changes))
		}
	}
	reportRecords(b)
}

// BenchmarkApplyTenPercentChanged applies 40,000 records of which 4,000
// have a new title each time.
func BenchmarkApplyTenPercentChanged(b *testing.B) {
	rs := benchRecs(benchRecords)
	c := newClock()
	s, _ := newStore(b, Options{Now: c.Now})
	benchApply(b, s, c, rs)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := 0; j < benchRecords; j += 10 {
			rs[j].Title = fmt.Sprintf("Assessment %d, revision %d", j, i)
		}
		b.StartTimer()
		if res := benchApply(b, s, c, rs); res.Run.Updated != benchRecords/10 {
			b.Fatalf("updated %d", res.Run.Updated)
		}
	}
	reportRecords(b)
}

// readBenchStore is a store holding 100,000 records of one source, each
// added once: what the reading benchmarks walk.
func readBenchStore(b *testing.B) *Store {
	b.Helper()
	c := newClock()
	s, _ := newStore(b, Options{Now: c.Now})
	rs := benchRecs(100_000)
	for i := range rs {
		rs[i].Summary = fmt.Sprintf("Este es un estudio exploratorio %d para analizar la vulnerabilidad & riesgos de la migración. ", i) +
			strings.Repeat("A study of migration and trafficking routes in the region. ", 8)
	}
	benchApply(b, s, c, rs)
	return s
}

// BenchmarkEachRecord walks 100,000 current records with their content.
func BenchmarkEachRecord(b *testing.B) {
	s := readBenchStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := s.EachRecord(context.Background(), RecordFilter{}, func(r *record.Record) error {
			if r.Title == "" || len(r.Countries) != 3 {
				return fmt.Errorf("record %s: %+v", r.Key, r)
			}
			n++
			return nil
		}); err != nil || n != 100_000 {
			b.Fatalf("%d records: %v", n, err)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkEachChange walks the 100,000 added changes.
func BenchmarkEachChange(b *testing.B) {
	s := readBenchStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := s.EachChange(context.Background(), ChangeFilter{}, func(c *Change) error {
			if c.Record.Title == "" || c.Kind != KindAdded {
				return fmt.Errorf("change %d: %+v", c.ID, c)
			}
			n++
			return nil
		}); err != nil || n != 100_000 {
			b.Fatalf("%d changes: %v", n, err)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkExtraNames finds the extra field names of 100,000 records.
func BenchmarkExtraNames(b *testing.B) {
	s := readBenchStore(b)
	b.ResetTimer()
	for b.Loop() {
		names, err := s.ExtraNames(context.Background(), RecordFilter{IncludeRemoved: true})
		if err != nil || len(names) != 1 {
			b.Fatalf("%v, %v", names, err)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
