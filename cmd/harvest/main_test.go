package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/demo/site"
)

// harvestCLI runs the harvest command line in-process, as main does.
func harvestCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return harvestCLIAt(t, time.Now, args...)
}

// harvestCLIAt is harvestCLI with the clock now.
func harvestCLIAt(t *testing.T, now func() time.Time, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }, now: now})
	return out.String(), errb.String(), code
}

// TestDemoThreeNightsThenExport runs the README's first command and then
// reads the exports back the way a data team would.
func TestDemoThreeNightsThenExport(t *testing.T) {
	dir := t.TempDir()
	out, stderr, code := harvestCLI(t, "demo", "--out", dir)
	if code != 0 {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	lib, err := site.New(site.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := lib.Changes()
	night1 := len(lib.Publications(1))
	for _, line := range []string{
		"night 1  demo-trafficking: run 1 complete",
		"records seen " + itoa(night1),
		"added " + itoa(night1) + ", updated 0, removed 0, restored 0",
		"night 2  demo-trafficking: run 2 complete",
		"added " + itoa(len(want.Added)) + ", updated " + itoa(len(want.Updated)) + ", removed 0, restored 0",
		"night 3  demo-trafficking: run 3 complete",
		"added 0, updated 0, removed " + itoa(len(want.Removed)) + ", restored 0",
		"change files: " + filepath.Join(dir, "changes", "demo-trafficking", "3"),
	} {
		if !strings.Contains(out, line) {
			t.Errorf("demo output lacks %q:\n%s", line, out)
		}
	}
	db := filepath.Join(dir, "harvest.db")

	// A source the database never ran: an empty export, exit 0, and a
	// warning naming it (a typo must not read as an emptied library).
	so, se, code := harvestCLI(t, "export", "records", "--db", db, "--source", "demo-trafficing", "--format", "csv")
	if code != 0 || strings.Count(so, "\r\n") != 1 || !strings.Contains(se, "source=demo-trafficing") ||
		!strings.Contains(se, "no run of this source") {
		t.Errorf("export of an unknown source: exit %d, stdout %q, stderr %q; want the header alone and a warning naming it", code, so, se)
	}
	if _, se, _ := harvestCLI(t, "export", "records", "--db", db, "--source", "demo-trafficking", "--format", "csv"); strings.Contains(se, "no run") {
		t.Errorf("export of a known source warned: %s", se)
	}

	// Changes since night 2 as CSV, read back with encoding/csv.
	csvPath := filepath.Join(dir, "changes.csv")
	if _, se, code := harvestCLI(t, "export", "changes", "--db", db, "--since", "2", "--format", "csv", "--out", csvPath); code != 0 {
		t.Fatalf("export changes: exit %d: %s", code, se)
	}
	raw, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("\r\n")) {
		t.Error("CSV rows do not end in CRLF")
	}
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatalf("changes CSV does not parse: %v", err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"kind", "run_id", "key", "title", "changed_fields", "before", "after"} {
		if _, ok := col[h]; !ok {
			t.Fatalf("changes CSV lacks column %q: %v", h, rows[0])
		}
	}
	kinds := map[string]int{}
	var sawCountryEdit bool
	for _, r := range rows[1:] {
		kinds[r[col["kind"]]]++
		if r[col["kind"]] == "updated" && strings.Contains(r[col["changed_fields"]], "countries") {
			var before, after map[string]string
			if err := json.Unmarshal([]byte(r[col["before"]]), &before); err != nil {
				t.Fatalf("before %q: %v", r[col["before"]], err)
			}
			if err := json.Unmarshal([]byte(r[col["after"]]), &after); err != nil {
				t.Fatalf("after %q: %v", r[col["after"]], err)
			}
			if before["countries"] == after["countries"] || !strings.HasPrefix(after["countries"], before["countries"]) {
				t.Errorf("country edit before %q after %q: want a country added", before["countries"], after["countries"])
			}
			sawCountryEdit = true
		}
	}
	if kinds["added"] != len(want.Added) || kinds["updated"] != len(want.Updated) || kinds["removed"] != len(want.Removed) {
		t.Errorf("changes since run 2 by kind = %v, want added %d updated %d removed %d", kinds, len(want.Added), len(want.Updated), len(want.Removed))
	}
	if !sawCountryEdit {
		t.Error("no updated row with a countries before/after")
	}

	// The snapshot as JSON, read back with encoding/json.
	js, se, code := harvestCLI(t, "export", "records", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("export records: exit %d: %s", code, se)
	}
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Records       []struct {
			Key     string   `json:"key"`
			Title   string   `json:"title"`
			Authors []string `json:"authors"`
		} `json:"records"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("records JSON: %v", err)
	}
	current := len(lib.Publications(3))
	if doc.SchemaVersion != 1 || len(doc.Records) != current {
		t.Errorf("records JSON: schema %d, %d records; want 1, %d", doc.SchemaVersion, len(doc.Records), current)
	}
	for _, r := range doc.Records {
		if strings.HasSuffix(r.Key, want.Removed[0].Path) {
			t.Errorf("removed publication %s still in the snapshot", want.Removed[0].Slug)
		}
	}

	// After each run the feeds of added publications are refreshed on
	// disk, newest first: night 2's additions lead.
	atom, err := os.ReadFile(filepath.Join(dir, "changes", "demo-trafficking", "feed.atom"))
	if err != nil {
		t.Fatal(err)
	}
	var feed struct {
		Entries []struct {
			ID    string `xml:"id"`
			Title string `xml:"title"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal(atom, &feed); err != nil {
		t.Fatalf("feed.atom: %v", err)
	}
	if len(feed.Entries) != night1+len(want.Added) {
		t.Errorf("feed has %d entries, want %d", len(feed.Entries), night1+len(want.Added))
	} else if feed.Entries[0].Title != want.Added[0].Title && feed.Entries[1].Title != want.Added[0].Title {
		t.Errorf("feed starts with %q, %q; want night 2's additions first", feed.Entries[0].Title, feed.Entries[1].Title)
	}
	if _, err := os.Stat(filepath.Join(dir, "changes", "feed.json")); err != nil {
		t.Errorf("all-sources JSON Feed: %v", err)
	}

	// A consumer's cursor: the first export takes every change, the
	// second finds nothing newer; the cursor file moves only forward.
	cursor, cursorOut := filepath.Join(dir, "cursor"), filepath.Join(dir, "since-cursor.jsonl")
	if _, se, code := harvestCLI(t, "export", "changes", "--db", db, "--format", "jsonl", "--since-cursor", cursor, "--out", cursorOut); code != 0 {
		t.Fatalf("export --since-cursor: exit %d: %s", code, se)
	}
	first, _ := os.ReadFile(cursorOut)
	wantChanges := night1 + len(want.Added) + len(want.Updated) + len(want.Removed)
	if n := strings.Count(string(first), "\n"); n != wantChanges {
		t.Errorf("first cursor export has %d lines, want every change (%d)", n, wantChanges)
	}
	if _, se, code := harvestCLI(t, "export", "changes", "--db", db, "--format", "jsonl", "--since-cursor", cursor, "--out", cursorOut); code != 0 || !strings.Contains(se, "exported 0 changes") {
		t.Errorf("second cursor export (exit %d) should find nothing new: %s", code, se)
	}

	// --excel starts the CSV with a UTF-8 byte-order mark.
	xl, _, code := harvestCLI(t, "export", "records", "--db", db, "--excel")
	if code != 0 || !strings.HasPrefix(xl, "\uFEFFsource,key,url,title") {
		t.Errorf("--excel CSV starts %q (exit %d)", xl[:min(len(xl), 40)], code)
	}

	// The feed command: Atom of added publications, newest first.
	atomOut, se, code := harvestCLI(t, "export", "feed", "--db", db, "--format", "atom")
	var cliFeed struct {
		Entries []struct {
			Title string `xml:"title"`
		} `xml:"entry"`
	}
	if code != 0 || xml.Unmarshal([]byte(atomOut), &cliFeed) != nil || len(cliFeed.Entries) != night1+len(want.Added) {
		t.Errorf("export feed (exit %d, %d entries): %s", code, len(cliFeed.Entries), se)
	}

	// harvest runs lists the three nights.
	runs, _, code := harvestCLI(t, "runs", "--db", db)
	if code != 0 || strings.Count(runs, "complete") != 3 {
		t.Errorf("runs (exit %d):\n%s", code, runs)
	}
}

func TestHelpAndUsage(t *testing.T) {
	out, _, code := harvestCLI(t, "--help")
	if code != 0 || !strings.Contains(out, "crawl") || !strings.Contains(out, "demo") {
		t.Errorf("--help (exit %d):\n%s", code, out)
	}
	for _, cmd := range []string{"crawl", "demo", "extract", "runs"} {
		_, se, code := harvestCLI(t, cmd, "--help")
		if code != 0 || !strings.Contains(se, "Usage: harvest "+cmd) {
			t.Errorf("%s --help exit %d:\n%s", cmd, code, se)
		}
	}
	if _, se, code := harvestCLI(t, "nonsense"); code != 2 || !strings.Contains(se, `unknown command "nonsense"`) {
		t.Errorf("unknown command: exit %d: %s", code, se)
	}
	if _, se, code := harvestCLI(t, "export", "changes", "--since", "yesterday", "--db", "x.db"); code != 2 || !strings.Contains(se, "--since") {
		t.Errorf("bad --since: exit %d: %s", code, se)
	}
}

func TestSeedsCheck(t *testing.T) {
	out, se, code := harvestCLI(t, "seeds", "check", "../../seeds/testdata/drupal.good.yaml")
	if code != 0 || !strings.Contains(out, "ok ") {
		t.Errorf("good seed: exit %d\n%s%s", code, out, se)
	}
	out, se, code = harvestCLI(t, "seeds", "check", "../../seeds/testdata/bad-regex.bad.yaml", "../../seeds/testdata/no-title.bad.yaml")
	if code != 1 {
		t.Errorf("bad seeds: exit %d, want 1", code)
	}
	for _, want := range []string{"bad-regex.bad.yaml:7: fields.year.regex: bad regex", "no-title.bad.yaml:5: fields: missing: a title rule"} {
		if !strings.Contains(out, want) {
			t.Errorf("seeds check output lacks %q:\n%s%s", want, out, se)
		}
	}
}

func TestExtractJSONLFromSavedPage(t *testing.T) {
	dir := t.TempDir()
	lib, err := site.New(site.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(seed, site.SeedYAML("https://library.example.org"), 0o644); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "page0.html")
	if err := os.WriteFile(page, renderListing(t, lib), 0o644); err != nil {
		t.Fatal(err)
	}
	out, se, code := harvestCLI(t, "extract", "--seed", seed, "--file", page, "--base-url", "https://library.example.org/resources?category=trafficking", "--format", "jsonl")
	if code != 0 {
		t.Fatalf("extract exit %d: %s", code, se)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 10 {
		t.Fatalf("extract printed %d lines, want 10 records:\n%s", len(lines), out)
	}
	var first struct {
		URL   string            `json:"url"`
		Title string            `json:"title"`
		Extra map[string]string `json:"extra"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatalf("line 1 is not JSON: %v", err)
	}
	p0 := lib.Publications(1)[0]
	if first.Title != p0.Title || first.URL != "https://library.example.org"+p0.Path() || first.Extra == nil {
		t.Errorf("first record = %+v, want title %q url %s and an extra object", first, p0.Title, p0.Path())
	}

	table, _, code := harvestCLI(t, "extract", "--seed", seed, "--file", page)
	if code != 0 || !strings.Contains(table, "field fill:") || !strings.Contains(table, "10/10") {
		t.Errorf("table view (exit %d):\n%s", code, table)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// demoLibrarySeeds serves the demo library on loopback until the test
// ends and writes its seed into DIR/seeds, a new directory; it returns
// the library, DIR and the seed directory.
func demoLibrarySeeds(t *testing.T) (lib *site.Site, dir, seedDir string) {
	t.Helper()
	lib, err := site.New(site.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(lib.Handler())
	t.Cleanup(srv.Close)
	dir = t.TempDir()
	seedDir = filepath.Join(dir, "seeds")
	if err := os.MkdirAll(seedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seedDir, "demo.yaml"), site.SeedYAML(srv.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	return lib, dir, seedDir
}

// TestCrawlSeedsDirectory runs "harvest crawl" on a seed directory against
// the demo library served by httptest, twice, with JSON logs.
func TestCrawlSeedsDirectory(t *testing.T) {
	lib, dir, seedDir := demoLibrarySeeds(t)
	db := filepath.Join(dir, "h.db")
	out, se, code := harvestCLI(t, "crawl", "--seeds", seedDir, "--db", db, "--out", filepath.Join(dir, "out"), "--log-format", "json")
	if code != 0 {
		t.Fatalf("crawl exit %d\n%s\n%s", code, out, se)
	}
	n := len(lib.Publications(1))
	if !strings.Contains(out, "SOURCE") || !regexp.MustCompile(`demo-trafficking\s+1\s+complete\s+5\s+0\s+`+strconv.Itoa(n)+`\s+`+strconv.Itoa(n)+`\s`).MatchString(out) {
		t.Errorf("summary table:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(se), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] == nil {
			t.Errorf("--log-format json wrote a non-JSON line: %q", line)
		}
	}
	if !strings.Contains(se, `"msg":"run finished"`) {
		t.Errorf("no run-finished log line:\n%s", se)
	}
	// The second night finds nothing new: every listing page answers 304.
	out, se, code = harvestCLI(t, "crawl", "--seeds", seedDir, "--db", db, "-q")
	if code != 0 || !regexp.MustCompile(`demo-trafficking\s+2\s+complete\s+5\s+0\s+`+strconv.Itoa(n)+`\s+0\s+0\s+0\s+0`).MatchString(out) {
		t.Errorf("second crawl (exit %d):\n%s\n%s", code, out, se)
	}
	if strings.Contains(se, "level=INFO") {
		t.Errorf("-q still logs info lines:\n%s", se)
	}
	js, _, code := harvestCLI(t, "runs", "--db", db, "--json")
	var runs []map[string]any
	if err := json.Unmarshal([]byte(js), &runs); err != nil || code != 0 || len(runs) != 2 {
		t.Fatalf("runs --json (exit %d): %v\n%s", code, err, js)
	}
	if runs[1]["added"] != float64(n) || runs[0]["pages"] != float64(5) || runs[0]["status"] != "complete" {
		t.Errorf("runs --json: counts must be top-level keys: %v", runs[1])
	}
	show, _, code := harvestCLI(t, "runs", "--db", db, "show", "2")
	if code != 0 || strings.Count(show, "not modified") != 5 {
		t.Errorf("runs show 2 should list 5 pages answered 304 (exit %d):\n%s", code, show)
	}
}

// TestStreamingGCLeavesUsersChoice: harvest export tunes the collector
// only when the user has not set GOGC or GOMEMLIMIT (docs/export.md).
func TestStreamingGCLeavesUsersChoice(t *testing.T) {
	for env, want := range map[string]bool{
		"":                  true,
		"GOGC=200":          false,
		"GOMEMLIMIT=256MiB": false,
		"GOGC=off":          false,
		"HARVEST_CONTACT=x": true,
	} {
		getenv := func(k string) string {
			if name, v, ok := strings.Cut(env, "="); ok && name == k {
				return v
			}
			return ""
		}
		if got := wantStreamingGC(getenv); got != want {
			t.Errorf("with %q set: tune the collector = %v, want %v", env, got, want)
		}
	}
}

// TestExportChangesSinceTimeAndDuration runs --since in its three forms
// through the CLI. Three crawls of the demo library a day apart, each with
// the clock fixed at its night, stamp every change of night n with night
// n's time; the exports then run with the clock fixed too, so that a
// duration means one instant. An RFC 3339 time (in any zone) and a
// duration back from the clock select exactly the changes at or after
// that instant, the instant itself included; a run id selects the changes
// of that run and of every later one.
func TestExportChangesSinceTimeAndDuration(t *testing.T) {
	lib, dir, seedDir := demoLibrarySeeds(t)
	db := filepath.Join(dir, "h.db")
	// cli is harvestCLI with the clock stopped at now.
	cli := func(now time.Time, args ...string) (stdout, stderr string, code int) {
		return harvestCLIAt(t, func() time.Time { return now }, args...)
	}
	night := func(n int) time.Time { return time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC).AddDate(0, 0, n-1) }
	for n := 1; n <= 3; n++ {
		lib.SetNight(n)
		if out, se, code := cli(night(n), "crawl", "--seeds", seedDir, "--db", db, "-q"); code != 0 {
			t.Fatalf("night %d: crawl exit %d\n%s\n%s", n, code, out, se)
		}
	}
	exportNow := night(3).Add(90 * time.Minute) // 2026-03-03T03:30:00Z
	type change struct {
		ID    int64  `json:"change_id"`
		RunID int64  `json:"run_id"`
		At    string `json:"at"`
		Kind  string `json:"kind"`
	}
	export := func(args ...string) []change {
		t.Helper()
		out, se, code := cli(exportNow, append([]string{"export", "changes", "--db", db, "--format", "jsonl"}, args...)...)
		if code != 0 {
			t.Fatalf("export changes %q: exit %d: %s", args, code, se)
		}
		var cs []change
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if line == "" {
				continue
			}
			var c change
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				t.Fatalf("export changes %q: line %q: %v", args, line, err)
			}
			cs = append(cs, c)
		}
		return cs
	}

	// Every change, and the history they tell: night 1 added the first
	// publications, night 2 added and edited some, night 3 took some down
	// (the seed's removal guard waits a night), each at its night's time.
	all := export()
	want := lib.Changes()
	wantKinds := map[string]int{
		"1 added": len(lib.Publications(1)), "2 added": len(want.Added), "2 updated": len(want.Updated), "3 removed": len(want.Removed),
	}
	kinds := map[string]int{}
	for _, c := range all {
		kinds[strconv.FormatInt(c.RunID, 10)+" "+c.Kind]++
		if at := night(int(c.RunID)).Format(time.RFC3339); c.At != at {
			t.Errorf("change %d of run %d at %s, want %s (the clock of its night)", c.ID, c.RunID, c.At, at)
		}
	}
	if len(kinds) != len(wantKinds) {
		t.Fatalf("changes by run and kind %v, want %v", kinds, wantKinds)
	}
	for k, n := range wantKinds {
		if n == 0 || kinds[k] != n {
			t.Fatalf("changes by run and kind %v, want %v", kinds, wantKinds)
		}
	}

	equal := func(a, b []int64) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	ids := func(cs []change) []int64 {
		var out []int64
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	runsOf := func(cs []change) []int64 {
		var out []int64
		for _, c := range cs {
			if len(out) == 0 || out[len(out)-1] != c.RunID {
				out = append(out, c.RunID)
			}
		}
		return out
	}
	for _, tc := range []struct {
		since string
		from  time.Time // changes at or after this instant
		runs  []int64   // the runs whose changes those are
	}{
		{"2026-03-02T02:00:00Z", night(2), []int64{2, 3}}, // exactly night 2: its changes included
		{"2026-03-02T02:00:01Z", night(2).Add(time.Second), []int64{3}},
		{"2026-03-02T01:59:59Z", night(2).Add(-time.Second), []int64{2, 3}},
		{"2026-03-02T03:00:00+01:00", night(2), []int64{2, 3}}, // the same instant as night 2
		{"2026-03-02T02:00:00.5Z", night(2).Add(500 * time.Millisecond), []int64{3}},
		{"2026-02-28T00:00:00Z", night(1).AddDate(0, 0, -1), []int64{1, 2, 3}},
		{"2026-03-03T02:00:01Z", night(3).Add(time.Second), nil},
		{"25h30m", night(2), []int64{2, 3}}, // back from 2026-03-03T03:30Z to night 2 exactly
		{"25h29m59s", night(2).Add(time.Second), []int64{3}},
		{"1h30m", night(3), []int64{3}},
		{"1h29m", night(3).Add(time.Minute), nil},
		{"96h", exportNow.Add(-96 * time.Hour), []int64{1, 2, 3}},
	} {
		got := export("--since", tc.since)
		var wantIDs []int64
		for _, c := range all {
			if at, _ := time.Parse(time.RFC3339, c.At); !at.Before(tc.from) {
				wantIDs = append(wantIDs, c.ID)
			}
		}
		if !equal(ids(got), wantIDs) || !equal(runsOf(got), tc.runs) {
			t.Errorf("--since %s: changes %v of runs %v, want those at or after %s: %v of runs %v",
				tc.since, ids(got), runsOf(got), tc.from.Format(time.RFC3339Nano), wantIDs, tc.runs)
		}
	}

	// --since RUN: the changes of runs >= RUN, that run's own included.
	for id, runs := range map[int64][]int64{1: {1, 2, 3}, 2: {2, 3}, 3: {3}, 4: nil} {
		got := export("--since", strconv.FormatInt(id, 10))
		var wantIDs []int64
		for _, c := range all {
			if c.RunID >= id {
				wantIDs = append(wantIDs, c.ID)
			}
		}
		if !equal(ids(got), wantIDs) || !equal(runsOf(got), runs) {
			t.Errorf("--since %d: changes %v of runs %v, want %v of runs %v", id, ids(got), runsOf(got), wantIDs, runs)
		}
	}
}
