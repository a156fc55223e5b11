package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/store"
)

// TestWithRealStore runs the exports over a real SQLite store: two runs
// (two publications added, then one updated and one more added).
func TestWithRealStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := t0
	st := openStore(t, func() time.Time { return clock })
	pub := func(key, title string, countries ...string) record.Record {
		r := record.Record{Key: "https://example.int/" + key, URL: "https://example.int/" + key, Title: title,
			Summary: "About " + key, Countries: countries, Year: 2025, Categories: []string{"Trafficking"},
			Extra: map[string]string{"pdf": "https://example.int/" + key + ".pdf"}}
		r.Normalize()
		return r
	}
	apply := func(recs ...record.Record) *store.RunResult {
		t.Helper()
		clock = clock.Add(time.Hour)
		res, err := st.ApplyRun(ctx, store.RunInput{Source: "iom", StartedAt: clock, FinishedAt: clock,
			Status: store.StatusComplete, Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	apply(pub("a", trouble, "México", "Côte d'Ivoire; Ghana"), pub("b", "=cmd|' /C calc'!A0"))

	cursor, changesOut := filepath.Join(dir, "cursor"), filepath.Join(dir, "changes.csv")
	n, cur, err := export.ExportSinceCursor(ctx, changesOut, cursor, st, store.ChangeFilter{}, export.Options{})
	if err != nil || n != 2 {
		t.Fatalf("cursor export 1: n=%d cur=%d err=%v", n, cur, err)
	}

	res := apply(pub("a", "Renamed", "México"), pub("b", "=cmd|' /C calc'!A0"), pub("c", "Third"))
	if res.Run.Added != 1 || res.Run.Updated != 1 {
		t.Fatalf("run 2: %+v", res.Run)
	}

	// Records: CSV and JSON (validated against the documented schema).
	var buf bytes.Buffer
	if n, err := export.WriteRecords(ctx, &buf, st, store.RecordFilter{}, export.Options{ExtraColumns: []string{"pdf"}}); err != nil || n != 3 {
		t.Fatalf("records CSV: n=%d err=%v", n, err)
	}
	rows := readCSV(t, buf.Bytes())
	a := byName(rows[0], rows[1])
	if a["title"] != "Renamed" || a["countries"] != "México" || a["extra.pdf"] != "https://example.int/a.pdf" ||
		a["first_seen"] != "2026-01-02T03:04:05Z" || a["last_changed"] != "2026-01-02T04:04:05Z" || len(a["content_hash"]) != 64 {
		t.Errorf("record a: %v", a)
	}
	if b := byName(rows[0], rows[2]); b["title"] != "'=cmd|' /C calc'!A0" {
		t.Errorf("formula title not neutralised: %q", b["title"])
	}
	buf.Reset()
	if _, err := export.WriteRecords(ctx, &buf, st, store.RecordFilter{}, export.Options{Format: "json", Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	if err := validate(t, compileSchema(t, "records.schema.json"), buf.Bytes()); err != nil {
		t.Errorf("records JSON from the store: %v", err)
	}

	// Changes as JSONL, each line valid.
	buf.Reset()
	if n, err := export.WriteChanges(ctx, &buf, st, store.ChangeFilter{}, export.Options{Format: "jsonl"}); err != nil || n != 4 {
		t.Fatalf("changes JSONL: n=%d err=%v", n, err)
	}
	validateLines(t, compileSchema(t, "changes.schema.json#/$defs/change"), buf.Bytes(), 4)
	var upd map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var c map[string]any
		json.Unmarshal([]byte(line), &c)
		if c["kind"] == "updated" {
			upd = c
		}
	}
	if upd == nil || upd["key"] != "https://example.int/a" {
		t.Fatalf("no update of a in %s", buf.Bytes())
	}
	if f := upd["fields"].([]any); len(f) != 2 || f[1].(map[string]any)["old"] != "México; Côte d'Ivoire; Ghana" {
		t.Errorf("update fields: %v", f)
	}

	// The cursor export now holds only run 2's changes.
	n, cur2, err := export.ExportSinceCursor(ctx, changesOut, cursor, st, store.ChangeFilter{}, export.Options{})
	if err != nil || n != 2 || cur2 <= cur {
		t.Fatalf("cursor export 2: n=%d cur=%d (was %d) err=%v", n, cur2, cur, err)
	}
	crow := readCSV(t, mustRead(t, changesOut))
	if len(crow) != 3 || byName(crow[0], crow[1])["run_id"] != "2" {
		t.Errorf("second cursor export: %q", crow)
	}

	// Run files of run 2.
	out := filepath.Join(dir, "out")
	m, err := export.WriteRunFiles(ctx, out, res, export.Options{ExtraColumns: []string{"pdf"}, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, filepath.Join(out, "iom", "2"), *m)
	if m.Files[0].Rows != 1 || m.Files[2].Rows != 1 || m.Files[4].Rows != 0 {
		t.Errorf("manifest files: %+v", m.Files)
	}
	if _, err := os.Stat(filepath.Join(out, "iom", "latest", "updated.jsonl")); err != nil {
		t.Error(err)
	}

	// The feed: three publications, newest first, the update not an entry.
	buf.Reset()
	if err := export.WriteAtom(ctx, &buf, st, store.ChangeFilter{}, export.FeedInfo{Title: "new"}); err != nil {
		t.Fatal(err)
	}
	var feed atomDoc
	if err := xml.Unmarshal(buf.Bytes(), &feed); err != nil {
		t.Fatal(err)
	}
	if len(feed.Entries) != 3 || feed.Entries[0].Title != "Third" || feed.Entries[2].Title != trouble {
		t.Errorf("feed entries: %+v", feed.Entries)
	}
}
