package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/record"
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
		msg := "real consumers unavailable (" + python + " with " + strings.Join(modules, ", ") + "): " + strings.TrimSpace(string(out)) +
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

// consumerStore is a real store holding publications with the values that
// break naive exports: accents, formula prefixes, markup, RTL text, list
// values with semicolons.
func consumerStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	clock := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "h.db"), store.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	recs := []record.Record{
		{Key: "https://ex.int/a", URL: "https://ex.int/a", Title: "Migrantes en México: vulnerabilidad y riesgos", Countries: []string{"México", "Perú"}, Year: 2016},
		{Key: "https://ex.int/b", URL: "https://ex.int/b", Title: "=HYPERLINK(\"http://evil\",\"x\")", Countries: []string{"-1+2"}, Year: 2020},
		{Key: "https://ex.int/c", URL: "https://ex.int/c", Title: trouble, Countries: []string{"Côte d'Ivoire; Ghana"}, Year: 2021},
		{Key: "https://ex.int/d", URL: "https://ex.int/d", Title: "@SUM(A1) & +report", Countries: nil, Year: 2022},
	}
	for i := range recs {
		recs[i].Normalize()
	}
	if _, err := st.ApplyRun(ctx, store.RunInput{Source: "iom", Status: store.StatusComplete, Records: recs}); err != nil {
		t.Fatal(err)
	}
	return st
}

var consumerTitles = []string{"Migrantes en México: vulnerabilidad y riesgos", "=HYPERLINK(\"http://evil\",\"x\")", trouble, "@SUM(A1) & +report"}

func TestPandasReadsCSV(t *testing.T) {
	needConsumers(t, "pandas")
	st := consumerStore(t)
	for _, excel := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "records.csv")
		err := export.AtomicWriteFile(path, func(w io.Writer) error {
			_, err := export.WriteRecords(context.Background(), w, st, store.RecordFilter{}, export.Options{Format: export.FormatCSV, Excel: excel})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		enc := "utf-8"
		if excel {
			enc = "utf-8-sig" // what Excel users' pandas reads a BOM file with
		}
		got := runPython(t, "read_csv.py", path, enc)
		if got["rows"].(float64) != 4 {
			t.Errorf("excel=%v: pandas read %v rows, want 4", excel, got["rows"])
		}
		cols := toStrings(got["columns"])
		if !slices.Equal(cols[:4], []string{"source", "key", "url", "title"}) {
			t.Errorf("excel=%v: columns %v", excel, cols)
		}
		if f := toStrings(got["formula_cells"]); len(f) != 0 {
			t.Errorf("excel=%v: cells start with a formula character: %v", excel, f)
		}
		titles := toStrings(got["titles"])
		for _, want := range consumerTitles {
			plain := slices.Contains(titles, want)
			neutral := slices.Contains(titles, "'"+want)
			if !plain && !neutral {
				t.Errorf("excel=%v: title %q not read back (got %q)", excel, want, titles)
			}
			if neutral != strings.ContainsAny(want[:1], "=+-@") {
				t.Errorf("excel=%v: title %q neutralised=%v", excel, want, neutral)
			}
		}
		if !slices.Contains(toStrings(got["countries"]), `México; Perú`) || !slices.Contains(toStrings(got["countries"]), `Côte d'Ivoire\; Ghana`) {
			t.Errorf("excel=%v: countries %q: want accents intact and a literal ';' escaped", excel, got["countries"])
		}
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
