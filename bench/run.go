package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/harvest-dev/harvest/bench/internal/library"
)

//go:embed seed.yaml.tmpl
var seedTemplate string

// sourceID is the id of the benchmark seed.
const sourceID = "bench-library"

// python is the interpreter Scrapy runs under (Debian's python3-scrapy).
const python = "/usr/bin/python3"

// sample is one timed run of one contestant.
type sample struct {
	Contestant string  `json:"contestant"`
	Pair       int     `json:"pair"`
	Wall       float64 `json:"wall_s"`
	User       float64 `json:"user_s"`
	Sys        float64 `json:"sys_s"`
	MaxRSSKiB  int64   `json:"max_rss_kib"`
}

// CPU is user + system seconds.
func (s sample) CPU() float64 { return s.User + s.Sys }

// toolchain is what the harness runs: built binaries and their places.
type toolchain struct {
	root   string // repository root
	bin    string // built binaries
	work   string // scratch space of this harness run
	scrapy bool   // Scrapy importable by /usr/bin/python3
	log    io.Writer
}

// build compiles harvest, the fixture server and the ceiling into bin.
// harvestSrc is where harvest is built from ("" or root: the working
// tree; see exportRev).
func build(ctx context.Context, root, harvestSrc, bin string) error {
	if harvestSrc == "" {
		harvestSrc = root
	}
	for _, t := range []struct{ out, pkg, dir string }{
		{"harvest", "./cmd/harvest", harvestSrc}, {"fixture", "./bench/fixture", root}, {"ceiling", "./bench/ceiling", root},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, t.out), t.pkg)
		cmd.Dir = t.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w\n%s", t.pkg, err, out)
		}
	}
	return nil
}

// exportRev writes the tree of git revision rev of the repository at
// root into dir (git archive), so that harvest can be built from a
// commit while the working tree is being edited.
func exportRev(ctx context.Context, root, rev, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	archive := exec.CommandContext(ctx, "git", "archive", "--format=tar", rev)
	archive.Dir = root
	tarball, err := archive.Output()
	if err != nil {
		return fmt.Errorf("git archive %s: %w", rev, err)
	}
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", dir)
	untar.Stdin = bytes.NewReader(tarball)
	if out, err := untar.CombinedOutput(); err != nil {
		return fmt.Errorf("unpack %s: %w\n%s", rev, err, out)
	}
	return nil
}

// scrapyAvailable reports whether /usr/bin/python3 can import scrapy.
func scrapyAvailable(ctx context.Context) bool {
	return exec.CommandContext(ctx, python, "-c", "import scrapy").Run() == nil
}

// timeCmd is GNU time, which reports a child's peak RSS truly.
//
// A Go program cannot take peak RSS from its own child's rusage: Go
// starts children with vfork semantics (CLONE_VM), and at exec Linux
// folds the high-water RSS of the memory the child shared, the
// harness's, into the child's ru_maxrss. GNU time forks (without
// CLONE_VM) a copy of its ~1 MB self, so the target's Maxrss is its own.
const timeCmd = "/usr/bin/time"

// measure runs a command to completion under GNU time and returns its
// wall time (taken here) and the child's user and system CPU and peak
// RSS (from its rusage, as GNU time reports them).
func measure(ctx context.Context, name string, cmd *exec.Cmd) (sample, error) {
	if cmd.Err != nil {
		return sample{}, fmt.Errorf("%s: %w", name, cmd.Err)
	}
	usage, err := os.CreateTemp("", "bench-rusage-")
	if err != nil {
		return sample{}, err
	}
	usage.Close()
	defer os.Remove(usage.Name())
	cmd.Args = append([]string{timeCmd, "-q", "-f", "%U %S %M", "-o", usage.Name(), cmd.Path}, cmd.Args[1:]...)
	cmd.Path = timeCmd
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, fmt.Errorf("%s: start %s: %w (install GNU time: apt-get install -y time)", name, timeCmd, err)
	}
	err = cmd.Wait()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w\n%s", name, err, tail(stderr.String(), 2000))
	}
	b, err := os.ReadFile(usage.Name())
	if err != nil {
		return sample{}, fmt.Errorf("%s: read rusage: %w", name, err)
	}
	s := sample{Contestant: name, Wall: wall.Seconds()}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if _, err := fmt.Sscanf(lines[len(lines)-1], "%g %g %d", &s.User, &s.Sys, &s.MaxRSSKiB); err != nil {
		return sample{}, fmt.Errorf("%s: rusage %q: %w", name, b, err)
	}
	return s, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// fixture is a running fixture server process.
type fixture struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	origin string // http://127.0.0.1:PORT
	lib    *library.Library
}

// startFixture starts the fixture server as its own process and waits
// for the address it prints.
func startFixture(ctx context.Context, tc *toolchain, pages int, seed uint64, gz bool) (*fixture, error) {
	args := []string{"-addr", "127.0.0.1:0", "-pages", strconv.Itoa(pages), "-seed", strconv.FormatUint(seed, 10)}
	if gz {
		args = append(args, "-gzip")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(tc.bin, "fixture"), args...)
	cmd.Stderr = tc.log
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start fixture: %w", err)
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		io.Copy(io.Discard, stdout)
	}()
	f := &fixture{cmd: cmd, stdin: stdin, lib: library.New(library.Config{Seed: seed, Pages: pages})}
	select {
	case l, ok := <-line:
		if origin, found := strings.CutPrefix(l, "listening on "); ok && found {
			f.origin = origin
			return f, nil
		}
		f.stop()
		return nil, fmt.Errorf("fixture: unexpected first line %q", l)
	case <-time.After(60 * time.Second):
		f.stop()
		return nil, errors.New("fixture: no address after 60s")
	}
}

// stop ends the fixture: it exits when its standard input closes.
func (f *fixture) stop() {
	f.stdin.Close()
	done := make(chan struct{})
	go func() { f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		f.cmd.Process.Kill()
		<-done
	}
}

// stats reads the fixture's response counters.
func (f *fixture) stats(ctx context.Context) (library.Stats, error) {
	var s library.Stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.origin+"/_stats", nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, fmt.Errorf("fixture stats: %w", err)
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// job is one configuration of a set: the fixture and the mode.
type job struct {
	fx      *fixture
	mode    string // param | next
	pages   int
	seedDir string // holds the harvest seed for this mode
	want    []rec  // expected records, normalised
}

// writeSeed renders the benchmark seed for origin and mode into dir.
func writeSeed(dir, origin, mode string) error {
	t, err := template.New("seed").Parse(seedTemplate)
	if err != nil {
		return fmt.Errorf("seed template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, map[string]string{"Origin": origin, "Mode": mode}); err != nil {
		return fmt.Errorf("seed template: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, sourceID+".yaml"), b.Bytes(), 0o644)
}

// harvestResult is a first crawl on a fresh database and the unchanged
// re-run on the same database.
type harvestResult struct {
	first, rerun sample
}

// runHarvest crawls the fixture with the harvest binary on a fresh
// database (change files to a fresh --out), checks its records, then
// crawls again unchanged and checks that the re-run changed nothing and
// was answered with 304s.
func runHarvest(ctx context.Context, tc *toolchain, j *job) (harvestResult, error) {
	var hr harvestResult
	dir, err := os.MkdirTemp(tc.work, "harvest-")
	if err != nil {
		return hr, err
	}
	defer os.RemoveAll(dir)
	db, out := filepath.Join(dir, "bench.db"), filepath.Join(dir, "out")
	crawl := func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, filepath.Join(tc.bin, "harvest"), "crawl",
			"--seeds", j.seedDir, "--db", db, "--out", out, "--log-level", "warn")
		cmd.Stdout = io.Discard
		return cmd
	}
	hr.first, err = measure(ctx, "harvest", crawl())
	if err != nil {
		return hr, err
	}
	got, err := readJSONL(filepath.Join(out, sourceID, "latest", "added.jsonl"), true)
	if err != nil {
		return hr, fmt.Errorf("harvest: %w", err)
	}
	if err := compare(j.want, normalise(got)); err != nil {
		return hr, fmt.Errorf("harvest (%s, N=%d) records are not the expected ones: %w", j.mode, j.pages, err)
	}

	before, err := j.fx.stats(ctx)
	if err != nil {
		return hr, err
	}
	hr.rerun, err = measure(ctx, "harvest-rerun", crawl())
	if err != nil {
		return hr, err
	}
	after, err := j.fx.stats(ctx)
	if err != nil {
		return hr, err
	}
	var m struct {
		Counts struct {
			Seen, Added, Updated, Removed int
		} `json:"counts"`
	}
	b, err := os.ReadFile(filepath.Join(out, sourceID, "latest", "manifest.json"))
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return hr, fmt.Errorf("harvest re-run manifest: %w", err)
	}
	c := m.Counts
	if c.Seen != len(j.want) || c.Added+c.Updated+c.Removed != 0 {
		return hr, fmt.Errorf("harvest re-run: seen %d (want %d), added %d, updated %d, removed %d (want none)",
			c.Seen, len(j.want), c.Added, c.Updated, c.Removed)
	}
	if full := after.Full - before.Full; full > 0 {
		return hr, fmt.Errorf("harvest re-run: %d pages fetched in full, want all answered 304 (%d were)", full, after.NotModified-before.NotModified)
	}
	return hr, nil
}

// runScrapy runs the Scrapy spider and checks its records.
func runScrapy(ctx context.Context, tc *toolchain, j *job) (sample, error) {
	out := filepath.Join(tc.work, "scrapy.jsonl")
	os.Remove(out)
	defer os.Remove(out)
	cmd := exec.CommandContext(ctx, python, "-m", "scrapy", "runspider",
		filepath.Join(tc.root, "bench", "scrapy", "library_spider.py"),
		"-a", "start="+j.fx.origin+library.ListPath, "-a", "pages="+strconv.Itoa(j.pages), "-a", "mode="+j.mode,
		"-O", out+":jsonlines")
	cmd.Dir = tc.work
	s, err := measure(ctx, "scrapy", cmd)
	if err != nil {
		return s, err
	}
	return s, check(j, "scrapy", out)
}

// runCeiling runs the Go ceiling program and checks its records.
func runCeiling(ctx context.Context, tc *toolchain, j *job) (sample, error) {
	out := filepath.Join(tc.work, "ceiling.jsonl")
	defer os.Remove(out)
	cmd := exec.CommandContext(ctx, filepath.Join(tc.bin, "ceiling"),
		"-start", j.fx.origin+library.ListPath, "-pages", strconv.Itoa(j.pages), "-mode", j.mode,
		"-workers", "16", "-out", out)
	s, err := measure(ctx, "ceiling", cmd)
	if err != nil {
		return s, err
	}
	return s, check(j, "ceiling", out)
}

func check(j *job, name, path string) error {
	got, err := readJSONL(path, false)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := compare(j.want, normalise(got)); err != nil {
		return fmt.Errorf("%s (%s, N=%d) records are not the expected ones: %w", name, j.mode, j.pages, err)
	}
	return nil
}

// lockedWriter serialises writes: the fixture's standard error and the
// harness's progress lines share one log.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
