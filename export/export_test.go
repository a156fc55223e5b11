package export_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/store"
)

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(b))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("CSV does not read back: %v\n%s", err, b)
	}
	return rows
}

// byName maps a CSV row to its header's names.
func byName(header, row []string) map[string]string {
	m := make(map[string]string, len(header))
	for i, h := range header {
		m[h] = row[i]
	}
	return m
}

func TestRecordsCSV(t *testing.T) {
	ctx := context.Background()
	src := &memStore{records: fixtureRecords()}
	var buf bytes.Buffer
	n, err := export.WriteRecords(ctx, &buf, src, store.RecordFilter{IncludeRemoved: true},
		export.Options{Format: "csv", ExtraColumns: []string{"note", "pdf"}})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("wrote %d records, want 3", n)
	}
	out := buf.Bytes()
	if bytes.HasPrefix(out, []byte("\xEF\xBB\xBF")) {
		t.Error("BOM written without Excel")
	}
	if got := bytes.Count(out, []byte("\r\n")); got < 4 {
		t.Errorf("want CRLF line ends (4 rows), found %d CRLF in:\n%q", got, out)
	}
	if bytes.Contains(bytes.ReplaceAll(out, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("a bare LF line end in:\n%q", out)
	}
	rows := readCSV(t, out)
	wantHeader := []string{"source", "key", "url", "title", "summary", "countries", "regions", "authors", "year",
		"categories", "language", "first_seen", "last_seen", "last_changed", "removed_at", "content_hash",
		"extra.note", "extra.pdf"}
	if !reflect.DeepEqual(rows[0], wantHeader) {
		t.Fatalf("header\n got %q\nwant %q", rows[0], wantHeader)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want header + 3", len(rows))
	}
	a := byName(rows[0], rows[1])
	checks := map[string]string{
		"source":       "iom",
		"title":        `'=HYPERLINK("http://evil.example","click")`, // neutralised
		"summary":      "'-5 percent; and more",                      // neutralised; not a list, so ; kept
		"countries":    "México; Côte d'Ivoire",
		"authors":      `Smith\; John; Back\\slash; Lee`,
		"year":         "2024",
		"categories":   "Trafficking",
		"first_seen":   t0UTC,
		"last_seen":    "2026-01-02T03:04:05Z",
		"removed_at":   "",
		"content_hash": "abc123",
		"extra.note":   "'@admin",
		"extra.pdf":    "https://example.int/a.pdf",
	}
	for k, want := range checks {
		if a[k] != want {
			t.Errorf("record a %s = %q, want %q", k, a[k], want)
		}
	}
	if got := export.SplitList(a["authors"]); !reflect.DeepEqual(got, []string{"Smith; John", `Back\slash`, "Lee"}) {
		t.Errorf("authors split back to %q", got)
	}
	b := byName(rows[0], rows[2])
	if b["title"] != trouble || b["year"] != "" || b["countries"] != "" {
		t.Errorf("record b: title %q year %q countries %q", b["title"], b["year"], b["countries"])
	}
	gone := byName(rows[0], rows[3])
	if gone["removed_at"] != "2026-01-04T02:04:05Z" {
		t.Errorf("removed_at = %q", gone["removed_at"])
	}

	// Filtering goes to the source: removed records are left out by default.
	buf.Reset()
	n, err = export.WriteRecords(ctx, &buf, src, store.RecordFilter{}, export.Options{})
	if err != nil || n != 2 {
		t.Errorf("default filter: n=%d err=%v, want 2 records", n, err)
	}
}

func TestRecordsCSVExcelBOM(t *testing.T) {
	var buf bytes.Buffer
	_, err := export.WriteRecords(context.Background(), &buf, &memStore{records: fixtureRecords()},
		store.RecordFilter{}, export.Options{Format: "csv", Excel: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\xEF\xBB\xBF")) {
		t.Fatalf("Excel output starts %q, want a UTF-8 BOM", buf.Bytes()[:8])
	}
	rows := readCSV(t, bytes.TrimPrefix(buf.Bytes(), []byte("\xEF\xBB\xBF")))
	if rows[0][0] != "source" || len(rows) != 3 {
		t.Errorf("after the BOM: header %q, %d rows", rows[0], len(rows))
	}
}

func TestSafeCellAndLists(t *testing.T) {
	for in, want := range map[string]string{
		"=1+2": "'=1+2", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"": "", "plain": "plain", "a=b": "a=b", "'quoted": "'quoted",
	} {
		if got := export.SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
	for _, vs := range [][]string{{"a"}, {"a", "b"}, {"x;y", `z\`, `\;`}, {"semi; colon", "end;"}} {
		cell := export.JoinList(vs)
		if got := export.SplitList(cell); !reflect.DeepEqual(got, vs) {
			t.Errorf("JoinList(%q) = %q splits back to %q", vs, cell, got)
		}
	}
	if got := export.JoinList([]string{"a;b", "c"}); got != `a\;b; c` {
		t.Errorf("JoinList = %q", got)
	}
}

func TestChangesCSV(t *testing.T) {
	var buf bytes.Buffer
	n, err := export.WriteChanges(context.Background(), &buf, &memStore{changes: fixtureChanges()},
		store.ChangeFilter{}, export.Options{ExtraColumns: []string{"pdf"}})
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("wrote %d changes, want 4", n)
	}
	rows := readCSV(t, buf.Bytes())
	want := []string{"change_id", "run_id", "at", "kind", "source", "key", "url", "title", "changed_fields", "before", "after",
		"summary", "countries", "regions", "authors", "year", "categories", "language", "content_hash", "extra.pdf"}
	if !reflect.DeepEqual(rows[0], want) {
		t.Fatalf("header\n got %q\nwant %q", rows[0], want)
	}
	added := byName(rows[0], rows[1])
	if added["change_id"] != "1" || added["kind"] != "added" || added["at"] != t0UTC ||
		added["before"] != "" || added["after"] != "" || added["changed_fields"] != "" ||
		added["extra.pdf"] != "https://example.int/a.pdf" || added["title"][0] != '\'' {
		t.Errorf("added row: %v", added)
	}
	upd := byName(rows[0], rows[3])
	if upd["kind"] != "updated" || upd["changed_fields"] != "title; countries" || upd["title"] != "New title" {
		t.Errorf("updated row: %v", upd)
	}
	var before, after map[string]string
	if err := json.Unmarshal([]byte(upd["before"]), &before); err != nil {
		t.Fatalf("before %q: %v", upd["before"], err)
	}
	if err := json.Unmarshal([]byte(upd["after"]), &after); err != nil {
		t.Fatalf("after %q: %v", upd["after"], err)
	}
	if before["title"] != trouble || before["countries"] != "A; B" || after["title"] != "New title" || after["countries"] != "" {
		t.Errorf("before %v after %v", before, after)
	}
	if !strings.HasPrefix(upd["before"], `{"title":`) {
		t.Errorf("before keeps field order: %q", upd["before"])
	}
}

func TestRecordsJSON(t *testing.T) {
	var buf bytes.Buffer
	n, err := export.WriteRecords(context.Background(), &buf, &memStore{records: fixtureRecords()},
		store.RecordFilter{Sources: []string{"iom"}}, export.Options{Format: "json", Now: fixedNow, Excel: true})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int              `json:"schema_version"`
		GeneratedAt   string           `json:"generated_at"`
		Sources       []string         `json:"sources"`
		Records       []map[string]any `json:"records"`
		Count         int              `json:"count"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not one JSON document (BOM must not be written to JSON): %v\n%s", err, buf.Bytes())
	}
	if doc.SchemaVersion != 1 || doc.GeneratedAt != t0UTC || !reflect.DeepEqual(doc.Sources, []string{"iom"}) ||
		len(doc.Records) != 2 || doc.Count != 2 || n != 2 {
		t.Fatalf("envelope: %+v (n=%d)", doc, n)
	}
	a, b := doc.Records[0], doc.Records[1]
	if a["title"] != `=HYPERLINK("http://evil.example","click")` {
		t.Errorf("JSON must not neutralise formulas: title %q", a["title"])
	}
	if a["year"] != 2024.0 || b["year"] != nil {
		t.Errorf("year: %v, %v (want 2024 and null)", a["year"], b["year"])
	}
	if got := a["authors"].([]any); len(got) != 3 || got[0] != "Smith; John" {
		t.Errorf("authors kept as a list: %v", got)
	}
	if l, ok := b["countries"].([]any); !ok || len(l) != 0 {
		t.Errorf("empty list must be [], got %#v", b["countries"])
	}
	if e, ok := b["extra"].(map[string]any); !ok || len(e) != 0 {
		t.Errorf("empty extra must be {}, got %#v", b["extra"])
	}
	if a["first_seen"] != t0UTC || a["removed_at"] != nil || b["title"] != trouble {
		t.Errorf("a first_seen %v removed_at %v; b title %v", a["first_seen"], a["removed_at"], b["title"])
	}

	// An empty export is still one valid document.
	buf.Reset()
	if _, err := export.WriteRecords(context.Background(), &buf, &memStore{}, store.RecordFilter{}, export.Options{Format: "json", Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	var empty map[string]any
	if err := json.Unmarshal(buf.Bytes(), &empty); err != nil || len(empty["records"].([]any)) != 0 || len(empty["sources"].([]any)) != 0 {
		t.Errorf("empty document %s: %v", buf.Bytes(), err)
	}
}

func TestChangesJSONAndJSONL(t *testing.T) {
	src := &memStore{changes: fixtureChanges()}
	var buf bytes.Buffer
	if _, err := export.WriteChanges(context.Background(), &buf, src, store.ChangeFilter{}, export.Options{Format: "json", Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Changes []struct {
			ChangeID      int64             `json:"change_id"`
			Kind          string            `json:"kind"`
			ChangedFields []string          `json:"changed_fields"`
			Fields        []json.RawMessage `json:"fields"`
			Record        map[string]any    `json:"record"`
		} `json:"changes"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Changes) != 4 || doc.Changes[2].Kind != "updated" ||
		!reflect.DeepEqual(doc.Changes[2].ChangedFields, []string{"title", "countries"}) || len(doc.Changes[2].Fields) != 2 {
		t.Fatalf("changes: %+v", doc.Changes)
	}
	if doc.Changes[0].ChangedFields == nil || doc.Changes[0].Record["key"] != "https://example.int/a" {
		t.Errorf("added change: %+v", doc.Changes[0])
	}
	if doc.Changes[3].Record["removed_at"] == nil {
		t.Errorf("removed change: record.removed_at is null")
	}

	buf.Reset()
	n, err := export.WriteChanges(context.Background(), &buf, src, store.ChangeFilter{}, export.Options{Format: "jsonl", Excel: true})
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		lines++
		var c map[string]any
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Errorf("line %d is not JSON: %v: %s", lines, err, sc.Bytes())
		}
		if c["change_id"] != float64(lines) {
			t.Errorf("line %d holds change %v", lines, c["change_id"])
		}
	}
	if lines != 4 || n != 4 {
		t.Errorf("%d lines, n=%d, want 4", lines, n)
	}
}

func TestJSONLEmptyAndErrors(t *testing.T) {
	var buf bytes.Buffer
	n, err := export.WriteRecords(context.Background(), &buf, &memStore{}, store.RecordFilter{}, export.Options{Format: "jsonl"})
	if err != nil || n != 0 || buf.Len() != 0 {
		t.Errorf("empty JSONL: n=%d err=%v output %q (want nothing at all)", n, err, buf.String())
	}
	if _, err := export.WriteRecords(context.Background(), &buf, &memStore{}, store.RecordFilter{}, export.Options{Format: "xml"}); err == nil {
		t.Error("unknown format accepted")
	}
	boom := errors.New("disk on fire")
	_, err = export.WriteChanges(context.Background(), &buf, failingSource{boom}, store.ChangeFilter{}, export.Options{})
	if !errors.Is(err, boom) {
		t.Errorf("source error not passed on: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = export.WriteRecords(ctx, &buf, &memStore{records: fixtureRecords()}, store.RecordFilter{}, export.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled export: %v", err)
	}
}

// failingSource yields one change and then fails.
type failingSource struct{ err error }

func (f failingSource) EachChange(ctx context.Context, _ store.ChangeFilter, fn func(*store.Change) error) error {
	c := fixtureChanges()[0]
	if err := fn(&c); err != nil {
		return err
	}
	return f.err
}
