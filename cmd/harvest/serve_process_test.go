package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/alerts"
	"github.com/harvest-dev/harvest/demo/site"
	"github.com/harvest-dev/harvest/store"
)

// childEnv names the variable that turns the test binary into a harvest
// process running the arguments it holds (separated by \x1f).
const childEnv = "HARVEST_SERVE_TEST_CHILD"

// TestServeChildProcess is not a test: it is the harvest process the
// tests below start as a subprocess.
func TestServeChildProcess(t *testing.T) {
	args := os.Getenv(childEnv)
	if args == "" {
		t.Skip("runs only as a child process of the serve process tests")
	}
	os.Exit(run(context.Background(), strings.Split(args, "\x1f"),
		&env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, now: time.Now}))
}

func harvestProcess(t *testing.T, secret string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChildProcess$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"), "TEST_HOOK_SECRET="+secret)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// Two serve --once processes started together on one database: the
// source runs exactly once.
func TestTwoServeProcessesRunASourceOnce(t *testing.T) {
	lib, err := site.New(site.Options{})
	if err != nil {
		t.Fatal(err)
	}
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(150 * time.Millisecond) // keep the first run going while the other process looks
		lib.Handler().ServeHTTP(w, r)
	})
	libSrv := httptest.NewServer(slow)
	defer libSrv.Close()
	dir := t.TempDir()
	seedDir, db := filepath.Join(dir, "seeds"), filepath.Join(dir, "h.db")
	os.Mkdir(seedDir, 0o755)
	if err := os.WriteFile(filepath.Join(seedDir, "demo.yaml"), site.SeedYAML(libSrv.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--once", "--seeds", seedDir, "--db", db, "--log-level", "warn"}
	var outs []*bytes.Buffer
	var cmds []*exec.Cmd
	for i := 0; i < 2; i++ {
		c, o := harvestProcess(t, "", args...)
		cmds, outs = append(cmds, c), append(outs, o)
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	ran := 0
	for _, o := range outs {
		ran += strings.Count(o.String(), "demo-trafficking: run ")
	}
	st, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, _ := st.Runs(context.Background(), store.RunFilter{})
	if ran != 1 || len(runs) != 1 {
		t.Fatalf("the source ran %d times (%d stored) in two processes, want once:\n%s\n---\n%s", ran, len(runs), outs[0], outs[1])
	}
}

// A process killed with SIGKILL after posting a webhook but before
// marking it delivered: the next process delivers it again with the same
// webhook-id, and every event arrives.
func TestKilledBetweenSendingAndMarkingRedelivers(t *testing.T) {
	lib, err := site.New(site.Options{})
	if err != nil {
		t.Fatal(err)
	}
	libSrv := httptest.NewServer(lib.Handler())
	defer libSrv.Close()
	const secret = "process-test-secret"

	var (
		mu     sync.Mutex
		victim *exec.Cmd
		killed string
		ids    = map[string]int{}
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := new(bytes.Buffer)
		body.ReadFrom(r.Body)
		if err := alerts.Verify(secret, r.Header, body.Bytes(), time.Now(), 0); err != nil {
			t.Errorf("webhook: %v", err)
		}
		id := r.Header.Get(alerts.HeaderID)
		mu.Lock()
		defer mu.Unlock()
		ids[id]++
		if victim != nil && killed == "" {
			killed = id
			victim.Process.Kill() // SIGKILL before the sender hears the answer
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer hook.Close()

	dir := t.TempDir()
	seedDir, db, alertsFile := filepath.Join(dir, "seeds"), filepath.Join(dir, "h.db"), filepath.Join(dir, "alerts.yaml")
	os.Mkdir(seedDir, 0o755)
	os.WriteFile(filepath.Join(seedDir, "demo.yaml"), site.SeedYAML(libSrv.URL), 0o644)
	os.WriteFile(alertsFile, []byte("subscriptions:\n  - name: all\n    url: "+hook.URL+"\n    secret_env: TEST_HOOK_SECRET\n    allow_private_networks: true\n"), 0o644)
	args := []string{"serve", "--once", "--seeds", seedDir, "--db", db, "--alerts", alertsFile, "--log-level", "warn"}

	mu.Lock()
	c, out := harvestProcess(t, secret, args...)
	victim = c
	mu.Unlock()
	done := make(chan struct{})
	go func() {
		c.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("first process did not finish or get killed")
	}
	mu.Lock()
	if killed == "" {
		mu.Unlock()
		t.Fatalf("the first process was never killed:\n%s", out)
	}
	victim = nil
	mu.Unlock()

	c2, out2 := harvestProcess(t, secret, args...)
	if err := c2.Wait(); err != nil {
		t.Fatalf("second process: %v\n%s", err, out2)
	}
	if !strings.Contains(out2.String(), "nothing is due") {
		t.Errorf("the second process ran the source again (the first run was committed before sending):\n%s", out2)
	}
	mu.Lock()
	defer mu.Unlock()
	night1 := len(lib.Publications(1))
	if len(ids) != night1 {
		t.Fatalf("distinct webhook ids = %d, want %d (one per added publication)", len(ids), night1)
	}
	if ids[killed] != 2 {
		t.Errorf("the event in flight at the kill arrived %d times, want 2 (same id again)", ids[killed])
	}
	for id, n := range ids {
		if id != killed && n != 1 {
			t.Errorf("event %s arrived %d times", id, n)
		}
	}
	st, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if s, _ := st.OutboxStats(context.Background()); s.Pending != 0 || s.Delivered != night1 {
		t.Errorf("outbox = %+v, want all %d delivered", s, night1)
	}
}
