package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/harvest-dev/harvest/daemon"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/runner"
	"github.com/harvest-dev/harvest/store"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func rec(source string, i int) record.Record {
	country := "Mexico"
	if i%3 == 0 {
		country = "Peru"
	}
	return record.Record{
		Source: source, Key: fmt.Sprintf("https://%s.example/pub/%03d", source, i), URL: fmt.Sprintf("https://%s.example/pub/%03d", source, i),
		Title: fmt.Sprintf("Report %d on migration", i), Summary: fmt.Sprintf("Summary of report %d", i),
		Countries: []string{country}, Year: 2000 + i%5, Categories: []string{"Trafficking"},
		Extra: map[string]string{"pdf": fmt.Sprintf("https://%s.example/pub/%03d.pdf", source, i)},
	}
}

// env is a store with two sources' runs and a server over it.
type env struct {
	t     *testing.T
	st    *store.Store
	clock *fakeClock
	srv   *Server
	http  *httptest.Server
	logs  *bytes.Buffer
	logMu sync.Mutex
	runs  map[string][]*store.RunResult
	reg   *prometheus.Registry
	m     *Metrics
}

func newEnv(t *testing.T, token string) *env {
	t.Helper()
	e := &env{t: t, clock: &fakeClock{t: time.Date(2026, 2, 1, 3, 0, 0, 0, time.UTC)}, logs: &bytes.Buffer{}, runs: map[string][]*store.RunResult{}}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), store.Options{Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	e.apply("alpha", store.StatusComplete, 0, 15)
	e.apply("beta", store.StatusComplete, 0, 10)
	e.apply("alpha", store.StatusComplete, 2, 17) // 0,1 missed once; 15,16 added
	e.reg = prometheus.NewRegistry()
	if e.m, err = NewMetrics(e.reg, st, nil); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: e.logs, mu: &e.logMu}, nil))
	e.srv, err = New(Config{Store: st, Gatherer: e.reg, Token: token, Logger: log, Now: e.clock.Now, BaseURL: "http://harvest.test"})
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.http.Close)
	return e
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// apply stores a run of source seeing records from..to-1.
func (e *env) apply(source string, status store.Status, from, to int) *store.RunResult {
	e.t.Helper()
	e.clock.Advance(time.Hour)
	var rs []record.Record
	for i := from; i < to; i++ {
		rs = append(rs, rec(source, i))
	}
	res, err := e.st.ApplyRun(context.Background(), store.RunInput{Source: source, Status: status, Records: rs,
		Pages: []store.PageOutcome{{URL: "https://" + source + ".example/list", Status: 200, Bytes: 1234, Duration: 80 * time.Millisecond, Items: len(rs)}}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.runs[source] = append(e.runs[source], res)
	return res
}

func (e *env) do(method, path, token string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *env) getJSON(path string, v any) {
	e.t.Helper()
	res := e.do("GET", path, "")
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		e.t.Fatalf("GET %s: %s: %s", path, res.Status, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("GET %s: content type %q", path, ct)
	}
	if err := json.Unmarshal(body, v); err != nil {
		e.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

func TestTokenIsRequiredExceptForHealthAndFeeds(t *testing.T) {
	const token = "correct-horse-battery-staple"
	e := newEnv(t, token)
	protected := []string{"/", "/metrics", "/api/sources", "/api/runs", "/api/runs/1", "/api/records", "/api/changes",
		"/export/records.csv", "/export/changes.jsonl"}
	for _, p := range protected {
		for _, bad := range []string{"", "wrong", token + "x"} {
			res := e.do("GET", p, bad)
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("GET %s with token %q: %s, want 401 with WWW-Authenticate", p, bad, res.Status)
			}
		}
		res := e.do("GET", p, token)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("GET %s with the token: %s", p, res.Status)
		}
	}
	// "Basic" with the right secret is not a bearer token.
	req, _ := http.NewRequest("GET", e.http.URL+"/api/runs", nil)
	req.Header.Set("Authorization", "Basic "+token)
	if res, _ := e.http.Client().Do(req); res.StatusCode != 401 {
		t.Errorf("Basic auth: %s", res.Status)
	}
	if res := e.do("POST", "/api/sources/alpha/run", ""); res.StatusCode != 401 {
		t.Errorf("POST run without token: %s", res.Status)
	}
	for _, p := range []string{"/healthz", "/feeds/all.atom", "/feeds/alpha.json"} {
		res := e.do("GET", p, "")
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("public %s: %s", p, res.Status)
		}
	}
	e.logMu.Lock()
	logs := e.logs.String()
	e.logMu.Unlock()
	if strings.Contains(logs, token) {
		t.Error("the token appears in the log")
	}
	if !strings.Contains(logs, "path=/api/runs") {
		t.Errorf("no access log: %s", logs)
	}
}

func TestNoTokenConfiguredMeansOpen(t *testing.T) {
	e := newEnv(t, "")
	res := e.do("GET", "/api/runs", "")
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /api/runs without a configured token: %s", res.Status)
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t, "")
	res := e.do("GET", "/healthz", "")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("healthz = %s %q", res.Status, body)
	}
	e.st.Close()
	res = e.do("GET", "/healthz", "")
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("healthz with the database closed = %s, want 503", res.Status)
	}
}

func TestAPIRecordsFiltersAndCursor(t *testing.T) {
	e := newEnv(t, "")
	type recPage struct {
		Items      []record.Record `json:"items"`
		NextCursor string          `json:"next_cursor"`
	}
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		var p recPage
		e.getJSON("/api/records?limit=7&cursor="+cursor, &p)
		pages++
		for _, r := range p.Items {
			if seen[r.Source+r.Key] {
				t.Fatalf("record %s %s on two pages", r.Source, r.Key)
			}
			seen[r.Source+r.Key] = true
		}
		if p.NextCursor == "" {
			if len(p.Items) > 7 {
				t.Fatalf("page of %d items with limit 7", len(p.Items))
			}
			break
		}
		cursor = p.NextCursor
	}
	if len(seen) != 27 || pages != 4 { // alpha 17, beta 10
		t.Fatalf("walked %d records over %d pages, want 27 over 4", len(seen), pages)
	}
	var p recPage
	e.getJSON("/api/records?source=beta&country=peru&year=2003", &p)
	// beta: i%3==0 -> Peru: 0,3,6,9; year 2000+i%5 == 2003 -> i=3
	if len(p.Items) != 1 || p.Items[0].Key != "https://beta.example/pub/003" || p.Items[0].FirstSeen.IsZero() {
		t.Fatalf("filtered = %+v", p.Items)
	}
	e.getJSON("/api/records?q=REPORT+12+on", &p)
	if len(p.Items) != 1 || p.Items[0].Source != "alpha" {
		t.Fatalf("q filter = %+v", p.Items)
	}
	for _, bad := range []string{"/api/records?limit=0", "/api/records?year=abc", "/api/records?cursor=!!!"} {
		res := e.do("GET", bad, "")
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("GET %s: %s, want 400", bad, res.Status)
		}
	}
}

func TestAPIChangesCursorSinceAndKind(t *testing.T) {
	e := newEnv(t, "")
	type chPage struct {
		Items      []store.Change `json:"items"`
		NextCursor string         `json:"next_cursor"`
	}
	var all []store.Change
	cursor := ""
	for {
		var p chPage
		e.getJSON("/api/changes?limit=10&cursor="+cursor, &p)
		all = append(all, p.Items...)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if len(all) != 27 { // 15 + 10 + 2 added
		t.Fatalf("changes walked = %d, want 27", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatal("changes not in id order")
		}
	}
	var p chPage
	last := e.runs["alpha"][1].Run.ID
	e.getJSON(fmt.Sprintf("/api/changes?since=%d&kind=added", last), &p)
	if len(p.Items) != 2 || p.Items[0].Record.Title != "Report 15 on migration" {
		t.Fatalf("since run %d = %+v", last, p.Items)
	}
	e.getJSON("/api/changes?source=beta&kind=removed", &p)
	if len(p.Items) != 0 {
		t.Fatalf("removed changes of beta = %+v", p.Items)
	}
	for _, bad := range []string{"/api/changes?kind=deleted", "/api/changes?since=yesterday", "/api/changes?cursor=x"} {
		res := e.do("GET", bad, "")
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("GET %s: %s, want 400", bad, res.Status)
		}
	}
}

func TestAPIRunsAndOneRun(t *testing.T) {
	e := newEnv(t, "")
	var p struct {
		Items      []store.Run `json:"items"`
		NextCursor string      `json:"next_cursor"`
	}
	e.getJSON("/api/runs?limit=2", &p)
	if len(p.Items) != 2 || p.Items[0].Source != "alpha" || p.Items[0].Added != 2 || p.NextCursor == "" {
		t.Fatalf("runs page 1 = %+v", p)
	}
	next := p.NextCursor
	p.Items, p.NextCursor = nil, ""
	e.getJSON("/api/runs?limit=2&cursor="+next, &p)
	if len(p.Items) != 1 || p.Items[0].Source != "alpha" || p.Items[0].Added != 15 || p.NextCursor != "" {
		t.Fatalf("runs page 2 = %+v", p)
	}
	p.Items, p.NextCursor = nil, ""
	e.getJSON("/api/runs?source=beta", &p)
	if len(p.Items) != 1 || p.Items[0].Source != "beta" {
		t.Fatalf("runs of beta = %+v", p)
	}
	var one struct {
		Run      store.Run           `json:"run"`
		Pages    []store.PageOutcome `json:"pages"`
		Warnings []string            `json:"warnings"`
	}
	id := e.runs["beta"][0].Run.ID
	e.getJSON(fmt.Sprintf("/api/runs/%d", id), &one)
	if one.Run.ID != id || len(one.Pages) != 1 || one.Pages[0].Bytes != 1234 || one.Pages[0].Items != 10 || one.Warnings == nil {
		t.Fatalf("run %d = %+v", id, one)
	}
	for path, want := range map[string]int{"/api/runs/999": 404, "/api/runs/abc": 400, "/api/runs?cursor=-1": 400} {
		res := e.do("GET", path, "")
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %s, want %d", path, res.Status, want)
		}
	}
}

func TestAPISourcesWithoutScheduler(t *testing.T) {
	e := newEnv(t, "")
	var p struct {
		Items []struct {
			Source  string    `json:"source"`
			State   string    `json:"state"`
			Records int       `json:"records"`
			LastRun store.Run `json:"last_run"`
		} `json:"items"`
	}
	e.getJSON("/api/sources", &p)
	if len(p.Items) != 2 || p.Items[0].Source != "alpha" || p.Items[0].Records != 17 || p.Items[1].Records != 10 ||
		p.Items[0].State != "not scheduled" || p.Items[0].LastRun.Added != 2 {
		t.Fatalf("sources = %+v", p.Items)
	}
	res := e.do("POST", "/api/sources/alpha/run", "")
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("POST run without a scheduler: %s", res.Status)
	}
}

func TestExportDownloads(t *testing.T) {
	e := newEnv(t, "")
	for path, want := range map[string]string{
		"/export/records.csv":   "text/csv",
		"/export/records.json":  "application/json",
		"/export/records.jsonl": "application/x-ndjson",
		"/export/changes.csv":   "text/csv",
		"/export/changes.json":  "application/json",
		"/export/changes.jsonl": "application/x-ndjson",
	} {
		res := e.do("GET", path, "")
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), want) ||
			!strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
			t.Errorf("GET %s: %s %q %q", path, res.Status, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
		}
		if !bytes.Contains(body, []byte("Report 1 on migration")) {
			t.Errorf("GET %s: body lacks a record: %.200s", path, body)
		}
	}
	res := e.do("GET", "/export/records.csv?source=beta&country=Peru", "")
	rows, err := csv.NewReader(res.Body).ReadAll()
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || !strings.Contains(strings.Join(rows[0], ","), "extra.pdf") {
		t.Fatalf("filtered CSV: %d rows (want header + 4), header %v", len(rows), rows[0])
	}
	res = e.do("GET", "/export/changes.jsonl?kind=added&source=alpha&cursor="+fmt.Sprint(e.runs["alpha"][0].Changes[14].ID), "")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if n := strings.Count(strings.TrimSpace(string(body)), "\n") + 1; n != 2 {
		t.Errorf("changes after the cursor: %d lines, want 2: %s", n, body)
	}
	for _, bad := range []string{"/export/records.xml", "/export/things.csv", "/export/records"} {
		res := e.do("GET", bad, "")
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Errorf("GET %s: %s, want 404", bad, res.Status)
		}
	}
}

// countingWriter is a ResponseWriter that records how the handler writes:
// a download must arrive in many bounded writes, not one body built in
// memory.
type countingWriter struct {
	h        http.Header
	status   int
	writes   int
	maxWrite int
	total    int
}

func (c *countingWriter) Header() http.Header { return c.h }
func (c *countingWriter) WriteHeader(s int)   { c.status = s }
func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	c.total += len(p)
	c.maxWrite = max(c.maxWrite, len(p))
	return len(p), nil
}

func TestLargeExportStreams(t *testing.T) {
	e := newEnv(t, "")
	const n = 1500
	var rs []record.Record
	for i := 0; i < n; i++ {
		r := rec("big", i)
		r.Summary = strings.Repeat(fmt.Sprintf("A long summary of report %d. ", i), 50)
		rs = append(rs, r)
	}
	if _, err := e.st.ApplyRun(context.Background(), store.RunInput{Source: "big", Status: store.StatusComplete, Records: rs}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/export/records.csv?source=big", "/export/records.jsonl?source=big", "/export/changes.json?source=big"} {
		cw := &countingWriter{h: http.Header{}}
		e.srv.Handler().ServeHTTP(cw, httptest.NewRequest("GET", path, nil))
		if cw.status != 0 && cw.status != 200 {
			t.Fatalf("%s: status %d", path, cw.status)
		}
		if cw.total < 2<<20 {
			t.Fatalf("%s: %d bytes; the test needs a large export", path, cw.total)
		}
		if cw.writes < cw.total/(128<<10) || cw.maxWrite > 128<<10 {
			t.Errorf("%s: %d bytes in %d writes (largest %d): not streamed in bounded pieces", path, cw.total, cw.writes, cw.maxWrite)
		}
	}
}

func TestFeeds(t *testing.T) {
	e := newEnv(t, "")
	res := e.do("GET", "/feeds/alpha.atom", "")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf("atom: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	if c := strings.Count(string(body), "<entry>"); c != 17 || strings.Contains(string(body), "beta.example") {
		t.Errorf("alpha atom has %d entries (want 17, none of beta)", c)
	}
	if !strings.Contains(string(body), "http://harvest.test/feeds/alpha.atom") {
		t.Error("atom lacks its self link")
	}
	var jf struct {
		Version string `json:"version"`
		Items   []any  `json:"items"`
	}
	res = e.do("GET", "/feeds/all.json", "")
	if err := json.NewDecoder(res.Body).Decode(&jf); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/feed+json") || len(jf.Items) != 27 || !strings.Contains(jf.Version, "1.1") {
		t.Errorf("all.json: %s, %d items, version %q", res.Header.Get("Content-Type"), len(jf.Items), jf.Version)
	}
	for _, bad := range []string{"/feeds/nope.atom", "/feeds/all.rss", "/feeds/all"} {
		res := e.do("GET", bad, "")
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Errorf("GET %s: %s, want 404", bad, res.Status)
		}
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, "")
	if _, err := e.st.Enqueue(context.Background(), []store.OutboxEvent{{EventID: "e1", Subscription: "s", Payload: []byte("{}"), CreatedAt: e.clock.Now()}}); err != nil {
		t.Fatal(err)
	}
	res := e.runs["alpha"][1]
	e.m.ObserveRun("alpha", &runner.Result{RunResult: *res}, nil)
	e.m.ObserveRun("beta", nil, fmt.Errorf("store gone"))
	r := e.do("GET", "/metrics", "")
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, want := range []string{
		`harvest_runs_total{source="alpha",status="complete"} 1`,
		`harvest_runs_total{source="beta",status="error"} 1`,
		`harvest_records_changed_total{kind="added",source="alpha"} 2`,
		`harvest_pages_fetched_total{outcome="ok",source="alpha"} 1`,
		`harvest_fetched_bytes_total{source="alpha"} 1234`,
		`harvest_fetch_duration_seconds_count{source="alpha"} 1`,
		`harvest_outbox_deliveries{state="pending"} 1`,
		`harvest_last_success_timestamp_seconds{source="beta"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestIndexPage(t *testing.T) {
	e := newEnv(t, "")
	res := e.do("GET", "/", "")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("index: %s", res.Status)
	}
	for _, want := range []string{"alpha", "beta", `href="feeds/alpha.atom"`, `href="export/records.csv"`, "complete"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("index lacks %q", want)
		}
	}
	res = e.do("GET", "/nothing-here", "")
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("unknown path: %s", res.Status)
	}
}

// scheduler is a Scheduler whose answers the test sets.
type scheduler struct {
	mu      sync.Mutex
	running map[string]bool
	known   map[string]bool
	closing bool
}

func (s *scheduler) Trigger(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.known[id]:
		return fmt.Errorf("source %s: %w", id, daemon.ErrUnknownSource)
	case s.closing:
		return daemon.ErrShuttingDown
	case s.running[id]:
		return fmt.Errorf("source %s: %w", id, daemon.ErrRunning)
	}
	s.running[id] = true
	return nil
}

func (s *scheduler) Status(ctx context.Context) ([]daemon.SourceStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []daemon.SourceStatus
	for _, id := range []string{"alpha", "gamma"} {
		st := daemon.SourceStatus{Source: id, Schedule: "@daily", State: "scheduled", SourceSchedule: store.SourceSchedule{Source: id}}
		if s.running[id] {
			st.State = "running"
		}
		out = append(out, st)
	}
	return out, nil
}

func TestRunNowAndSourcesWithScheduler(t *testing.T) {
	e := newEnv(t, "")
	sch := &scheduler{running: map[string]bool{}, known: map[string]bool{"alpha": true, "gamma": true}}
	srv, err := New(Config{Store: e.st, Scheduler: sch, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(srv.Handler())
	defer h.Close()
	post := func(path string) int {
		res, err := http.Post(h.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := post("/api/sources/alpha/run"); got != http.StatusAccepted {
		t.Errorf("first POST = %d, want 202", got)
	}
	if got := post("/api/sources/alpha/run"); got != http.StatusConflict {
		t.Errorf("POST while running = %d, want 409", got)
	}
	if got := post("/api/sources/nope/run"); got != http.StatusNotFound {
		t.Errorf("POST of an unknown source = %d, want 404", got)
	}
	sch.mu.Lock()
	sch.closing = true
	sch.mu.Unlock()
	if got := post("/api/sources/gamma/run"); got != http.StatusServiceUnavailable {
		t.Errorf("POST while shutting down = %d, want 503", got)
	}
	if res, _ := http.Get(h.URL + "/api/sources/alpha/run"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET of the run endpoint = %s, want 405", res.Status)
	}
	res, _ := http.Get(h.URL + "/api/sources")
	var p struct {
		Items []struct {
			Source, State string
			Records       int
		} `json:"items"`
	}
	json.NewDecoder(res.Body).Decode(&p)
	res.Body.Close()
	got := fmt.Sprint(p.Items)
	if got != "[{alpha running 17} {gamma scheduled 0} {beta not scheduled 10}]" {
		t.Errorf("sources = %s", got)
	}
}
