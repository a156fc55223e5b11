package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/alerts"
	"github.com/harvest-dev/harvest/demo/site"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a
// running command and the reads of a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type serveClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *serveClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *serveClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// hookReceiver verifies and counts webhook deliveries per webhook-id.
type hookReceiver struct {
	t      *testing.T
	secret string
	now    func() time.Time
	mu     sync.Mutex
	ids    map[string]int
	titles []string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := alerts.Verify(h.secret, r.Header, body, h.now(), 0); err != nil {
		h.t.Errorf("webhook: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev struct {
		Data struct{ Title string } `json:"data"`
	}
	json.Unmarshal(body, &ev)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ids[r.Header.Get(alerts.HeaderID)]++
	h.titles = append(h.titles, ev.Data.Title)
	w.WriteHeader(http.StatusOK)
}

func (h *hookReceiver) count() (ids, posts int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.ids {
		posts += n
	}
	return len(h.ids), posts
}

// serveFixture is the demo library, a seeds directory holding its seed,
// an alerts file pointing at a verifying receiver, and a database path.
type serveFixture struct {
	lib      *site.Site
	seeds    string
	alerts   string
	db       string
	receiver *hookReceiver
	clock    *serveClock
	getenv   func(string) string
}

func newServeFixture(t *testing.T) *serveFixture {
	t.Helper()
	lib, err := site.New(site.Options{})
	if err != nil {
		t.Fatal(err)
	}
	libSrv := httptest.NewServer(lib.Handler())
	t.Cleanup(libSrv.Close)
	dir := t.TempDir()
	f := &serveFixture{lib: lib, seeds: filepath.Join(dir, "seeds"), alerts: filepath.Join(dir, "alerts.yaml"),
		db: filepath.Join(dir, "harvest.db"), clock: &serveClock{t: time.Now().UTC().Truncate(time.Second)}}
	if err := os.Mkdir(f.seeds, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.seeds, "demo.yaml"), site.SeedYAML(libSrv.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	const secret = "a-long-shared-hook-secret"
	f.receiver = &hookReceiver{t: t, secret: secret, now: f.clock.Now, ids: map[string]int{}}
	hook := httptest.NewServer(f.receiver)
	t.Cleanup(hook.Close)
	alertsYAML := fmt.Sprintf(`subscriptions:
  - name: everything-new
    url: %s/hook
    secret_env: TEST_HOOK_SECRET
    allow_private_networks: true
`, hook.URL)
	if err := os.WriteFile(f.alerts, []byte(alertsYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	f.getenv = func(k string) string {
		switch k {
		case "TEST_HOOK_SECRET":
			return secret
		case "HARVEST_TOKEN":
			return "serve-test-token"
		}
		return ""
	}
	return f
}

func (f *serveFixture) run(ctx context.Context, stdout, stderr io.Writer, args ...string) int {
	return run(ctx, append([]string{"serve", "--seeds", f.seeds, "--db", f.db, "--alerts", f.alerts, "--log-level", "warn"}, args...),
		&env{stdout: stdout, stderr: stderr, getenv: f.getenv, now: f.clock.Now})
}

func TestServeOnceRunsWhatIsDueAndDeliversAlerts(t *testing.T) {
	f := newServeFixture(t)
	var out, errb bytes.Buffer
	if code := f.run(context.Background(), &out, &errb, "--once"); code != 0 {
		t.Fatalf("serve --once exited %d\n%s\n%s", code, out.String(), errb.String())
	}
	night1 := len(f.lib.Publications(1))
	if !strings.Contains(out.String(), "demo-trafficking: run 1 complete") || !strings.Contains(out.String(), fmt.Sprintf("added %d,", night1)) {
		t.Fatalf("output:\n%s", out.String())
	}
	if ids, posts := f.receiver.count(); ids != night1 || posts != night1 {
		t.Fatalf("webhooks: %d ids in %d posts, want %d of each", ids, posts, night1)
	}

	// Run again at once: nothing is due, nothing is sent.
	out.Reset()
	if code := f.run(context.Background(), &out, &errb, "--once"); code != 0 || !strings.Contains(out.String(), "nothing is due") {
		t.Fatalf("second --once: exit %d: %s", code, out.String())
	}
	// The next day the site has two new publications: two more alerts.
	f.lib.SetNight(2)
	f.clock.Advance(25 * time.Hour)
	out.Reset()
	if code := f.run(context.Background(), &out, &errb, "--once"); code != 0 || !strings.Contains(out.String(), "run 2 complete") {
		t.Fatalf("next day --once: exit %d: %s\n%s", code, out.String(), errb.String())
	}
	added := len(f.lib.Changes().Added)
	if ids, posts := f.receiver.count(); ids != night1+added || posts != night1+added {
		t.Fatalf("webhooks after night 2: %d ids in %d posts, want %d", ids, posts, night1+added)
	}
}

func TestServeHTTPUntilSIGTERM(t *testing.T) {
	f := newServeFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	exit := make(chan int, 1)
	go func() { exit <- f.run(ctx, stdout, stderr, "--addr", "127.0.0.1:0") }()

	listening := regexp.MustCompile(`listening on (http://\S+)`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("serve never listened: %s", stderr.String())
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
	get := func(method, path string, token bool) (int, []byte) {
		req, _ := http.NewRequest(method, base+path, nil)
		if token {
			req.Header.Set("Authorization", "Bearer serve-test-token")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	if code, _ := get("GET", "/healthz", false); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if code, _ := get("GET", "/api/runs", false); code != 401 {
		t.Fatalf("api without token: %d", code)
	}
	// The new source is due at once: wait for its first run.
	var runs struct {
		Items []struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"items"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, b := get("GET", "/api/runs", true)
		if err := json.Unmarshal(b, &runs); err != nil {
			t.Fatalf("runs: %v: %s", err, b)
		}
		if len(runs.Items) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no run within 20s: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if runs.Items[0].Status != "complete" {
		t.Fatalf("first run: %+v", runs.Items[0])
	}
	// The run is listed once committed; its change files and lease are
	// done a moment later, and until then "run now" answers 409.
	for deadline := time.Now().Add(10 * time.Second); ; {
		code, b := get("POST", "/api/sources/demo-trafficking/run", true)
		if code == http.StatusAccepted {
			break
		}
		if code != http.StatusConflict || time.Now().After(deadline) {
			t.Fatalf("run now: %d %s", code, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := get("POST", "/api/sources/nope/run", true); code != http.StatusNotFound {
		t.Fatalf("run now of an unknown source: %d", code)
	}
	if code, b := get("GET", "/feeds/demo-trafficking.atom", false); code != 200 || !bytes.Contains(b, []byte("<entry>")) {
		t.Fatalf("feed: %d %.200s", code, b)
	}
	if code, b := get("GET", "/metrics", true); code != 200 || !bytes.Contains(b, []byte(`harvest_runs_total{source="demo-trafficking",status="complete"}`)) {
		t.Fatalf("metrics: %d\n%s", code, b)
	}

	cancel() // what SIGTERM does through main's signal.NotifyContext
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("serve exited %d after SIGTERM: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	if strings.Contains(stderr.String(), "serve-test-token") {
		t.Error("the token appears in the log")
	}
}
