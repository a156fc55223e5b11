package export_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// BenchmarkWriteRecordsCSVFromSQLite streams 100,000 records from a real
// SQLite store to CSV: the path "harvest export records" takes.
func BenchmarkWriteRecordsCSVFromSQLite(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	st := openStore(b, nil)
	recs := make([]record.Record, n)
	for i := range recs {
		k := fmt.Sprintf("https://library.example.org/en/publications/%07d", i)
		recs[i] = record.Record{Source: "bench", Key: k, URL: k, Title: fmt.Sprintf("Publicación número %d sobre migración", i),
			Summary:   strings.Repeat("Este es un estudio exploratorio para analizar la vulnerabilidad & riesgos. ", 8),
			Countries: []string{"México", "Guatemala"}, Regions: []string{"Central America"}, Authors: []string{"María Dolores París Pombo"},
			Year: 2000 + i%25, Categories: []string{"Trafficking"}, Language: "es", Extra: map[string]string{"pdf": k + ".pdf"}}
	}
	if _, err := st.ApplyRun(ctx, store.RunInput{Source: "bench", Status: store.StatusComplete, Records: recs}); err != nil {
		b.Fatal(err)
	}
	recs = nil
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := export.WriteRecords(ctx, io.Discard, st, store.RecordFilter{}, export.Options{Format: export.FormatCSV, ExtraColumns: []string{"pdf"}})
		if err != nil || got != n {
			b.Fatalf("wrote %d rows: %v", got, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkWriteFeedFiles refreshes the four feed files of a source that
// has 40,000 added publications: what every run does after it is stored.
func BenchmarkWriteFeedFiles(b *testing.B) {
	const n = 40_000
	ctx := context.Background()
	st := openStore(b, nil)
	recs := make([]record.Record, n)
	for i := range recs {
		k := fmt.Sprintf("https://library.example.org/en/publications/%07d", i)
		recs[i] = record.Record{Key: k, URL: k, Title: fmt.Sprintf("Publicación número %d sobre migración", i),
			Summary: strings.Repeat("Un estudio exploratorio & riesgos. ", 8), Countries: []string{"México"}, Year: 2000 + i%25}
	}
	if _, err := st.ApplyRun(ctx, store.RunInput{Source: "bench", Status: store.StatusComplete, Records: recs}); err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	if err := os.MkdirAll(filepath.Join(out, "bench"), 0o755); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := export.WriteFeedFiles(ctx, out, "bench", st, t0); err != nil {
			b.Fatal(err)
		}
	}
}
