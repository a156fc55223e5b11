package export_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// python is Debian's interpreter, where python3-pandas and
// python3-feedparser are installed (.ci/run installs them).
const python = "/usr/bin/python3"

// needConsumers skips when the real consumers are missing on a developer's
// machine, and fails in CI (CI=true or HARVEST_REQUIRE_CONSUMERS=1), where
// .ci/run installs them.
func needConsumers(t *testing.T, modules ...string) {
	t.Helper()
	args := []string{"-c", "import " + strings.Join(modules, ", ")}
	if out, err := exec.Command(python, args...).CombinedOutput(); err != nil {
		msg := "real consumers unavailable (" + python + " with " + strings.Join(modules, ", ") + "): " + err.Error() + ": " + strings.TrimSpace(string(out)) +
			"; install Debian's python3-pandas python3-feedparser"
		if os.Getenv("CI") == "true" || os.Getenv("HARVEST_REQUIRE_CONSUMERS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func runPython(t *testing.T, script string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command(python, append([]string{filepath.Join("testdata", "consumers", script)}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, stderr.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s printed %q: %v", script, out, err)
	}
	return m
}

// consumerRun0 is when the consumer fixtures' first run is applied; run n
// is applied n-1 days later, so every change of run n is at
// consumerRunTime(n).
var consumerRun0 = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)

func consumerRunTime(run int64) string {
	return consumerRun0.Add(time.Duration(run-1) * 24 * time.Hour).Format(time.RFC3339)
}

// consumerRecords are publications with the values that break naive
// exports: accents, formula prefixes, markup, RTL text, list values with
// semicolons, and extra fields (one of them a formula).
func consumerRecords() []record.Record {
	return []record.Record{
		{Key: "https://ex.int/a", URL: "https://ex.int/a", Title: "Migrantes en México: vulnerabilidad y riesgos", Countries: []string{"México", "Perú"}, Year: 2016,
			Extra: map[string]string{"publisher": "Organización Internacional para las Migraciones", "doi": "10.1000/ñ-1"}},
		{Key: "https://ex.int/b", URL: "https://ex.int/b", Title: "=HYPERLINK(\"http://evil\",\"x\")", Countries: []string{"-1+2"}, Year: 2020,
			Extra: map[string]string{"note": "=1+2"}},
		{Key: "https://ex.int/c", URL: "https://ex.int/c", Title: trouble, Countries: []string{"Côte d'Ivoire; Ghana"}, Year: 2021,
			Extra: map[string]string{"publisher": "Müller, \"Ñandú\" & Söhne"}},
		{Key: "https://ex.int/d", URL: "https://ex.int/d", Title: "@SUM(A1) & +report", Countries: nil, Year: 2022},
	}
}

// The edits run 2 of consumerHistory makes.
const (
	consumerEditedTitleA = `Migrantes en México: vulnerabilidad, riesgos y "respuestas"`
	consumerEditedTitleB = "Informe anual, 2020 — Côte d'Ivoire"
	consumerEditedNoteA  = "+1 edición"
)

// consumerStore is a real store after one run of the consumer records.
func consumerStore(t *testing.T) *store.Store {
	t.Helper()
	return consumerHistory(t, 1)
}

// consumerHistory is a real store after the first runs (1 to 3) runs of
// the source iom, a day apart from consumerRun0: run 1 adds the four consumer
// records; run 2 edits a (a title with a comma and quotes, a country
// more, a new extra starting with '+') and b (its formula title becomes
// plain text) and misses d, which it removes; run 3 lists d again, which
// restores it.
func consumerHistory(t *testing.T, runs int) *store.Store {
	t.Helper()
	ctx := context.Background()
	clock := consumerRun0
	st := openStore(t, func() time.Time { return clock })
	apply := func(recs []record.Record) {
		t.Helper()
		for i := range recs {
			recs[i].Normalize()
		}
		if _, err := st.ApplyRun(ctx, store.RunInput{Source: "iom", Status: store.StatusComplete, Records: recs,
			Guards: seeds.Guards{MissingRuns: 1, MaxRemovedShare: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	edited := func() []record.Record {
		recs := consumerRecords()
		recs[0].Title = consumerEditedTitleA
		recs[0].Countries = append(recs[0].Countries, "Guatemala")
		recs[0].Extra["note"] = consumerEditedNoteA
		recs[1].Title = consumerEditedTitleB
		return recs
	}
	apply(consumerRecords())
	if runs >= 2 {
		clock = clock.Add(24 * time.Hour)
		apply(edited()[:3])
	}
	if runs >= 3 {
		clock = clock.Add(24 * time.Hour)
		apply(edited())
	}
	return st
}

var consumerTitles = []string{"Migrantes en México: vulnerabilidad y riesgos", "=HYPERLINK(\"http://evil\",\"x\")", trouble, "@SUM(A1) & +report"}

// neutral is a cell as docs/export.md "Formula neutralisation" says it is
// written: a single quote before a value that starts with = + - @ TAB CR.
func neutral(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// pandasCSV is what pandas read of a CSV export.
type pandasCSV struct {
	columns []string
	cells   [][]string
	// json holds the "before" and "after" cells pandas read, decoded by
	// json.loads into key/value pairs, by row then column.
	json map[int]map[string][][2]any
}

// cell is the cell of column name in row i ("" and an error when pandas
// read no such column).
func (p *pandasCSV) cell(t *testing.T, i int, name string) string {
	t.Helper()
	j := slices.Index(p.columns, name)
	if j < 0 {
		t.Fatalf("pandas read no column %q: %q", name, p.columns)
	}
	return p.cells[i][j]
}

// readWithPandas writes a CSV export with write (Excel or not) and reads it
// with pandas as a data team would (utf-8-sig for an Excel file, the
// encoding its users give). It checks what holds for every CSV export: a
// byte-order mark exactly with Excel; no cell that starts with a formula
// character; every before/after cell decodes as JSON; and every cell
// pandas read equal to the cell encoding/csv reads from the same bytes,
// so that quoting, commas, quotes and accents come through unchanged. And
// what the caller expects: the header wantHeader (the package's column
// list, named by columnsOf in a failure) and wantRows rows.
func readWithPandas(t *testing.T, excel bool, write func(w io.Writer, o export.Options) error, extra []string,
	columnsOf string, wantHeader []string, wantRows int) *pandasCSV {
	t.Helper()
	path := filepath.Join(t.TempDir(), "export.csv")
	if err := export.AtomicWriteFile(path, func(w io.Writer) error {
		return write(w, export.Options{Format: export.FormatCSV, Excel: excel, ExtraColumns: extra})
	}); err != nil {
		t.Fatal(err)
	}
	enc := "utf-8"
	if excel {
		enc = "utf-8-sig" // what Excel users' pandas reads a BOM file with
	}
	got := runPython(t, "read_csv.py", path, enc)
	if bom := got["bom"].(bool); bom != excel {
		t.Errorf("excel=%v: file starts with a byte-order mark: %v", excel, bom)
	}
	if f := toStrings(got["formula_cells"]); len(f) != 0 {
		t.Errorf("excel=%v: cells start with a formula character: %q", excel, f)
	}
	p := &pandasCSV{columns: toStrings(got["columns"]), json: map[int]map[string][][2]any{}}
	for _, row := range got["cells"].([]any) {
		p.cells = append(p.cells, toStrings(row))
	}
	if n := int(got["rows"].(float64)); n != len(p.cells) {
		t.Fatalf("excel=%v: pandas counted %d rows and printed %d", excel, n, len(p.cells))
	}
	for _, c := range got["json_cells"].([]any) {
		m := c.(map[string]any)
		row, col := int(m["row"].(float64)), m["column"].(string)
		if e, ok := m["error"]; ok {
			t.Errorf("excel=%v: row %d %s: pandas's cell is not JSON: %v", excel, row, col, e)
			continue
		}
		var pairs [][2]any
		for _, kv := range m["pairs"].([]any) {
			kv := kv.([]any)
			pairs = append(pairs, [2]any{kv[0], kv[1]})
		}
		if p.json[row] == nil {
			p.json[row] = map[string][][2]any{}
		}
		p.json[row][col] = pairs
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\uFEFF")))).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("excel=%v: encoding/csv reads the export: %v", excel, err)
	}
	if !slices.Equal(p.columns, rows[0]) {
		t.Errorf("excel=%v: pandas read the header %q, encoding/csv %q", excel, p.columns, rows[0])
	}
	if len(p.cells) != len(rows)-1 {
		t.Fatalf("excel=%v: pandas read %d rows, encoding/csv %d", excel, len(p.cells), len(rows)-1)
	}
	for i, row := range rows[1:] {
		if !slices.Equal(p.cells[i], row) {
			t.Errorf("excel=%v: row %d: pandas read\n%q\nencoding/csv reads\n%q", excel, i+1, p.cells[i], row)
		}
	}
	if !slices.Equal(p.columns, wantHeader) {
		t.Errorf("excel=%v: pandas read the header\n%q\nwant %s\n%q", excel, p.columns, columnsOf, wantHeader)
	}
	if len(p.cells) != wantRows {
		t.Fatalf("excel=%v: pandas read %d rows, want %d", excel, len(p.cells), wantRows)
	}
	return p
}

// consumerExtra is the extra columns of an export of st, decided as the
// CLI decides them without seeds; the consumer records have three.
func consumerExtra(t *testing.T, st *store.Store) []string {
	t.Helper()
	extra, err := export.ExtraColumns(context.Background(), st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"doi", "note", "publisher"}; !slices.Equal(extra, want) {
		t.Fatalf("extra columns %q, want %q", extra, want)
	}
	return extra
}

// TestPandasReadsCSV reads a records CSV with pandas, with and without
// --excel: the header is export.RecordColumns (the fixed columns, then
// extra.NAME), one row per record, and every cell as stored, accents
// intact and formulas neutralised.
func TestPandasReadsCSV(t *testing.T) {
	needConsumers(t, "pandas")
	st := consumerStore(t)
	extra := consumerExtra(t, st)
	wantHeader := export.RecordColumns(extra)
	// The cells as docs/export.md says they are written.
	want := map[string]map[string]string{
		"https://ex.int/a": {"title": "Migrantes en México: vulnerabilidad y riesgos", "countries": "México; Perú", "year": "2016",
			"extra.publisher": "Organización Internacional para las Migraciones", "extra.doi": "10.1000/ñ-1", "extra.note": ""},
		"https://ex.int/b": {"title": `'=HYPERLINK("http://evil","x")`, "countries": "'-1+2", "year": "2020",
			"extra.publisher": "", "extra.doi": "", "extra.note": "'=1+2"},
		"https://ex.int/c": {"title": trouble, "countries": `Côte d'Ivoire\; Ghana`, "year": "2021",
			"extra.publisher": `Müller, "Ñandú" & Söhne`, "extra.doi": "", "extra.note": ""},
		"https://ex.int/d": {"title": "'@SUM(A1) & +report", "countries": "", "year": "2022",
			"extra.publisher": "", "extra.doi": "", "extra.note": ""},
	}
	for _, excel := range []bool{false, true} {
		got := readWithPandas(t, excel, func(w io.Writer, o export.Options) error {
			_, err := export.WriteRecords(context.Background(), w, st, store.RecordFilter{}, o)
			return err
		}, extra, "export.RecordColumns", wantHeader, len(want))
		seen := map[string]bool{}
		for i := range got.cells {
			key := got.cell(t, i, "key")
			w, ok := want[key]
			if !ok || seen[key] {
				t.Errorf("excel=%v: row %d: key %q unknown or twice", excel, i+1, key)
				continue
			}
			seen[key] = true
			w = maps.Clone(w)
			w["source"], w["url"], w["first_seen"], w["removed_at"] = "iom", key, consumerRunTime(1), ""
			for col, v := range w {
				if g := got.cell(t, i, col); g != v {
					t.Errorf("excel=%v: %s %s: pandas read %q, want %q", excel, key, col, g, v)
				}
			}
		}
	}
}

// TestPandasReadsChangesCSV reads a changes CSV with pandas, with and
// without --excel: the header is export.ChangeColumns, one row per change
// in change order with its id, run, time, kind, source and key, and for
// an update its changed fields and the before/after JSON objects intact.
func TestPandasReadsChangesCSV(t *testing.T) {
	needConsumers(t, "pandas")
	ctx := context.Background()
	st := consumerHistory(t, 3)
	extra := consumerExtra(t, st)
	wantHeader := export.ChangeColumns(extra)
	var changes []store.Change
	if err := st.EachChange(ctx, store.ChangeFilter{}, func(c *store.Change) error {
		changes = append(changes, *c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The history consumerHistory made, by run and kind.
	wantKinds := map[string]int{"1 added": 4, "2 updated": 2, "2 removed": 1, "3 restored": 1}
	for _, excel := range []bool{false, true} {
		got := readWithPandas(t, excel, func(w io.Writer, o export.Options) error {
			_, err := export.WriteChanges(ctx, w, st, store.ChangeFilter{}, o)
			return err
		}, extra, "export.ChangeColumns (one row per change)", wantHeader, len(changes))
		kinds := map[string]int{}
		updates := map[string]map[string][2]string{} // key: field: before, after
		for i, c := range changes {
			cell := func(name string) string { return got.cell(t, i, name) }
			kinds[cell("run_id")+" "+cell("kind")]++
			for col, v := range map[string]string{
				"change_id": strconv.FormatInt(c.ID, 10), "run_id": strconv.FormatInt(c.RunID, 10),
				"at": consumerRunTime(c.RunID), "kind": c.Kind, "source": "iom", "key": c.Key, "url": c.Key,
				"title": neutral(c.Record.Title), "extra.publisher": c.Record.Extra["publisher"], "extra.doi": c.Record.Extra["doi"], "extra.note": neutral(c.Record.Extra["note"]),
			} {
				if g := cell(col); g != v {
					t.Errorf("excel=%v: row %d (%s %s): %s: pandas read %q, want %q", excel, i+1, c.Kind, c.Key, col, g, v)
				}
			}
			before, after := got.json[i]["before"], got.json[i]["after"]
			if c.Kind != store.KindUpdated {
				if cell("changed_fields") != "" || cell("before") != "" || cell("after") != "" {
					t.Errorf("excel=%v: row %d (%s): changed_fields %q before %q after %q, want empty", excel, i+1, c.Kind,
						cell("changed_fields"), cell("before"), cell("after"))
				}
				continue
			}
			// An update: the field names in changed_fields, and before and
			// after the JSON objects of the old and new values in that
			// order, every value a string.
			var names []string
			var wantBefore, wantAfter [][2]any
			for _, fc := range c.Fields {
				names = append(names, fc.Field)
				wantBefore = append(wantBefore, [2]any{fc.Field, fc.Old})
				wantAfter = append(wantAfter, [2]any{fc.Field, fc.New})
			}
			if g := cell("changed_fields"); g != strings.Join(names, "; ") {
				t.Errorf("excel=%v: row %d: changed_fields %q, want %q", excel, i+1, g, strings.Join(names, "; "))
			}
			if !slices.Equal(before, wantBefore) || !slices.Equal(after, wantAfter) {
				t.Errorf("excel=%v: row %d: pandas's before %v after %v (cells %q %q), want %v %v",
					excel, i+1, before, after, cell("before"), cell("after"), wantBefore, wantAfter)
			}
			fields := map[string][2]string{}
			for j := range min(len(before), len(after)) {
				b, _ := before[j][1].(string)
				a, _ := after[j][1].(string)
				fields[before[j][0].(string)] = [2]string{b, a}
			}
			updates[c.Key] = fields
		}
		if !maps.Equal(kinds, wantKinds) {
			t.Errorf("excel=%v: rows by run and kind %v, want %v", excel, kinds, wantKinds)
		}
		// The edits of run 2, as pandas read them: accents, quotes, commas
		// and a formula in a JSON value come through exactly.
		wantUpdates := map[string]map[string][2]string{
			"https://ex.int/a": {
				"title":      {"Migrantes en México: vulnerabilidad y riesgos", consumerEditedTitleA},
				"countries":  {"México; Perú", "México; Perú; Guatemala"},
				"extra.note": {"", consumerEditedNoteA},
			},
			"https://ex.int/b": {"title": {`=HYPERLINK("http://evil","x")`, consumerEditedTitleB}},
		}
		if !maps.EqualFunc(updates, wantUpdates, maps.Equal) {
			t.Errorf("excel=%v: updates as pandas read them:\n%q\nwant\n%q", excel, updates, wantUpdates)
		}
	}
}

// TestCSVColumnsAsDocumented: the fixed columns of the records and changes
// tables in docs/export.md are export.RecordColumns and ChangeColumns,
// which the pandas tests hold the CSV headers to, in the same order.
func TestCSVColumnsAsDocumented(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "docs", "export.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| (\\d+) \\| `([^`]+)` \\|")
	tables := map[string][]string{}
	var section string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			section = line
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil {
			if n, _ := strconv.Atoi(m[1]); n != len(tables[section])+1 {
				t.Errorf("%s: row %s out of order", section, m[1])
			}
			tables[section] = append(tables[section], m[2])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for heading, want := range map[string][]string{
		"### Records (`export records`)":                                export.RecordColumns(nil),
		"### Changes (`export changes`, and the per-run `*.csv` files)": export.ChangeColumns(nil),
	} {
		if got := tables[heading]; !slices.Equal(got, want) {
			t.Errorf("docs/export.md %q lists\n%q\nthe code writes\n%q", heading, got, want)
		}
	}
	if got := export.RecordColumns([]string{"a", "b"}); !slices.Equal(got[len(got)-2:], []string{"extra.a", "extra.b"}) {
		t.Errorf("RecordColumns with extras ends %q", got[len(got)-2:])
	}
	if got := export.ChangeColumns([]string{"a"}); got[len(got)-1] != "extra.a" {
		t.Errorf("ChangeColumns with an extra ends %q", got[len(got)-1])
	}
}
func TestFeedparserReadsFeeds(t *testing.T) {
	needConsumers(t, "feedparser")
	st := consumerStore(t)
	dir := t.TempDir()
	info := export.FeedInfo{Title: "New in iom & co", ID: "tag:harvest,2026:iom", HomeURL: "https://harvest.example/", FeedURL: "https://harvest.example/feeds/iom.atom", Updated: time.Now()}
	f := store.ChangeFilter{Kinds: []string{store.KindAdded, store.KindRestored}}
	for _, kind := range []string{"atom", "json"} {
		path := filepath.Join(dir, "feed."+kind)
		err := export.AtomicWriteFile(path, func(w io.Writer) error {
			if kind == "atom" {
				return export.WriteAtom(context.Background(), w, st, f, info)
			}
			return export.WriteJSONFeed(context.Background(), w, st, f, info)
		})
		if err != nil {
			t.Fatal(err)
		}
		got := runPython(t, "read_feed.py", path)
		if got["bozo"].(bool) {
			t.Errorf("%s: feedparser found the feed malformed: %v", kind, got["bozo_exception"])
		}
		wantVersion := map[string]string{"atom": "atom10", "json": "json11"}[kind]
		if got["version"] != wantVersion || got["title"] != info.Title {
			t.Errorf("%s: version %v title %v", kind, got["version"], got["title"])
		}
		entries := got["entries"].([]any)
		if len(entries) != 4 {
			t.Fatalf("%s: %d entries, want 4", kind, len(entries))
		}
		ids := map[string]bool{}
		var titles []string
		for _, e := range entries {
			m := e.(map[string]any)
			ids[m["id"].(string)] = true
			titles = append(titles, m["title"].(string))
			if !strings.HasPrefix(m["link"].(string), "https://ex.int/") {
				t.Errorf("%s: entry link %v", kind, m["link"])
			}
		}
		if len(ids) != 4 {
			t.Errorf("%s: entry ids not distinct: %v", kind, ids)
		}
		for _, want := range consumerTitles {
			if !slices.Contains(titles, want) {
				t.Errorf("%s: title %q not read back exactly (got %q)", kind, want, titles)
			}
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
