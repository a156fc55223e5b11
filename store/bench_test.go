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
