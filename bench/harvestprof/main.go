// Command harvestprof is `harvest crawl` for one seed with profiling: it
// builds the same parts as the CLI (crawler, SQLite store, runner.Run
// with change files) and writes a CPU profile, a heap profile and per-phase
// timings, so that the benchmark's harvest time can be taken apart.
//
//	go run ./bench -quick ... (or start ./bench/fixture by hand), then
//	go build -o /tmp/harvestprof ./bench/harvestprof
//	/tmp/harvestprof -seed SEED.yaml -db /tmp/p.db -out /tmp/p-out -cpuprofile cpu.pprof -memprofile heap.pprof
//	go tool pprof -top -cum /tmp/harvestprof cpu.pprof
//
// With -rerun it crawls a second time on the same database (the
// unchanged re-run) and profiles that run instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/harvest-dev/harvest/crawler"
	"github.com/harvest-dev/harvest/runner"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "harvestprof:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	seedPath := flag.String("seed", "", "seed file")
	dbPath := flag.String("db", "", "SQLite database (fresh for a first run)")
	out := flag.String("out", "", "directory for the run's change files")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile here")
	memProfile := flag.String("memprofile", "", "write a heap profile (in use at the end of the run) here")
	traceOut := flag.String("trace", "", "write an execution trace (go tool trace) of the profiled run here")
	rerun := flag.Bool("rerun", false, "crawl once unprofiled, then profile the unchanged re-run")
	repeat := flag.Int("repeat", 1, "profile this many runs in a row (with -rerun: that many unchanged re-runs), timing each")
	flag.Parse()
	if *seedPath == "" || *dbPath == "" {
		return fmt.Errorf("-seed and -db are required")
	}
	s, err := seeds.LoadFile(*seedPath)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	t0 := time.Now()
	st, err := store.Open(ctx, *dbPath, store.Options{Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	tOpen := time.Since(t0)
	deps := runner.Deps{
		Crawler: runner.FromCrawler(crawler.New(crawler.Config{Logger: log})),
		Store:   timedStore{st, &storeTimes{}},
		Logger:  log,
		OutDir:  *out,
	}
	if *rerun {
		if _, err := runner.Run(ctx, deps, s); err != nil {
			return err
		}
	}
	times := &storeTimes{}
	deps.Store = timedStore{st, times}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	if *traceOut != "" {
		f, err := os.Create(*traceOut)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
	}
	var (
		res  *runner.Result
		wall time.Duration
	)
	for i := 0; i < max(1, *repeat); i++ {
		times = &storeTimes{} // the last run's times are printed below
		deps.Store = timedStore{st, times}
		t1 := time.Now()
		res, err = runner.Run(ctx, deps, s)
		wall = time.Since(t1)
		if err != nil {
			break
		}
		if *repeat > 1 {
			fmt.Printf("run %d: %v\n", res.Run.ID, wall.Round(time.Millisecond))
		}
	}
	if *traceOut != "" {
		trace.Stop()
	}
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			return err
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("run %d %s: pages %d, seen %d, added %d\n", res.Run.ID, res.Run.Status, res.Run.Pages, res.Run.Seen, res.Run.Added)
	var sessTimes store.SessionTimes
	if times.sess != nil {
		sessTimes = times.sess.Times()
	}
	// Staging runs on the walk's goroutine as pages are parsed: it is
	// part of the crawl's wall time, as are the page-state lookups.
	fmt.Printf("store open %v; run %v = page states %v (%d lookups, bulk %v) + store staging %v (%d calls) + store finish %v + crawl/parse/files %v\n",
		tOpen.Round(time.Millisecond), wall.Round(time.Millisecond), (times.pageState + times.pageStates).Round(time.Millisecond), times.lookups,
		times.pageStates.Round(time.Millisecond), sessTimes.Stage.Round(time.Millisecond), sessTimes.Stages, sessTimes.Finish.Round(time.Millisecond),
		(wall - times.pageState - times.pageStates - sessTimes.Stage - sessTimes.Finish).Round(time.Millisecond))
	fmt.Printf("Go heap: peak sys %.1f MiB, heap in use at end %.1f MiB, total allocated %.1f MiB, GCs %d\n",
		float64(ms.Sys)/(1<<20), float64(ms.HeapInuse)/(1<<20), float64(ms.TotalAlloc)/(1<<20), ms.NumGC)
	return nil
}

type storeTimes struct {
	pageState, pageStates time.Duration
	lookups               int
	sess                  *store.RunSession // the run's session, for its times
}

// timedStore measures the time the run spends in the store's page-state
// lookups and keeps the run's session, whose own times (staging, Finish)
// are read after the run; every other method is the store's own.
type timedStore struct {
	*store.Store
	t *storeTimes
}

func (ts timedStore) PageState(ctx context.Context, source, url string) (*store.PageState, error) {
	t := time.Now()
	defer func() { ts.t.pageState += time.Since(t); ts.t.lookups++ }()
	return ts.Store.PageState(ctx, source, url)
}

func (ts timedStore) PageStates(ctx context.Context, source string) (map[string]*store.PageState, error) {
	t := time.Now()
	defer func() { ts.t.pageStates += time.Since(t) }()
	return ts.Store.PageStates(ctx, source)
}

func (ts timedStore) BeginRun(ctx context.Context, source string, ignoreChanges []string) (*store.RunSession, error) {
	sess, err := ts.Store.BeginRun(ctx, source, ignoreChanges)
	ts.t.sess = sess
	return sess, err
}
