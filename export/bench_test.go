package export_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/store"
)

// BenchmarkWriteRecordsCSV streams 100,000 records of a realistic shape
// to CSV and reports rows per second.
func BenchmarkWriteRecordsCSV(b *testing.B) {
	const rows = 100_000
	recs := make([]record.Record, rows)
	for i := range recs {
		url := fmt.Sprintf("https://www.example.int/resources/report-%06d", i)
		recs[i] = record.Record{
			Source: "iom-trafficking", Key: url, URL: url,
			Title:     fmt.Sprintf("Trafficking in persons: regional assessment %d", i),
			Summary:   "An assessment of trafficking routes, victim profiles and responses in the region; with recommendations.",
			Countries: []string{"Mexico", "Guatemala"}, Regions: []string{"Central America"},
			Authors: []string{"Ana Pérez", "J. Smith"}, Year: 2000 + i%26, Categories: []string{"Trafficking"},
			Language: "en", Extra: map[string]string{"pdf": url + ".pdf"},
			FirstSeen: t0, LastSeen: t0.Add(time.Hour), LastChanged: t0, ContentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		}
	}
	src := &memStore{records: recs}
	o := export.Options{Format: "csv", ExtraColumns: []string{"pdf"}}
	b.ReportAllocs()
	for b.Loop() {
		n, err := export.WriteRecords(context.Background(), io.Discard, src, store.RecordFilter{}, o)
		if err != nil || n != rows {
			b.Fatalf("n=%d err=%v", n, err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
