// Command bench is harvest's benchmark harness (issue 7): it serves a
// generated Drupal Views library from a fixture process on loopback and
// runs harvest end to end, a Scrapy spider and a minimal Go ceiling
// against it in turn (A B C A B C ...), checks that all of them extracted
// exactly the library's records, and reports wall time, CPU time, peak
// RSS, pages/s and the harvest/peer ratios as medians of per-pair ratios.
//
//	go run ./bench                          # full run: N=500,2000, param+next, 5 pairs
//	go run ./bench -quick                   # smoke: N=100, 2 pairs
//	go run ./bench -n 500 -modes param -pairs 7
//
// It prints a Markdown table and writes bench/out/results.json. See
// bench/README.md for the method.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is one harness invocation.
type config struct {
	Ns              []int    `json:"n"`
	Modes           []string `json:"modes"`
	Pairs           int      `json:"pairs"`
	ScrapyNextPairs int      `json:"scrapy_next_pairs"`
	Contestants     []string `json:"contestants"`
	Gzip            bool     `json:"gzip"`
	Seed            uint64   `json:"seed"`
	HarvestRev      string   `json:"harvest_rev,omitempty"` // "": the working tree
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func mainErr(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ns := fs.String("n", "500,2000", "listing pages of the fixture (20 items each), comma-separated")
	modes := fs.String("modes", "param,next", "pagination modes: param (pages known up front), next (follow next links)")
	pairs := fs.Int("pairs", 5, "rounds of all contestants (ratios are medians of per-pair ratios)")
	scrapyNext := fs.Int("scrapy-next-pairs", 1, "rounds that include Scrapy in next mode (it runs at ~7 pages/s there; 0: as -pairs)")
	contestants := fs.String("contestants", "harvest,scrapy,ceiling", "who runs")
	gz := fs.Bool("gzip", false, "fixture gzips responses")
	seed := fs.Uint64("seed", 1, "seed of the generated library")
	quick := fs.Bool("quick", false, "smoke run: N=100, 2 pairs (overrides -n and -pairs)")
	rev := fs.String("rev", "", "build harvest from this git revision (e.g. HEAD) instead of the working tree")
	outDir := fs.String("out", filepath.Join("bench", "out"), "directory for results.json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := config{Pairs: *pairs, ScrapyNextPairs: *scrapyNext, Gzip: *gz, Seed: *seed}
	if *quick {
		*ns, cfg.Pairs = "100", 2
	}
	for _, s := range splitList(*ns) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("-n: %q is not a page count", s)
		}
		cfg.Ns = append(cfg.Ns, n)
	}
	for _, m := range splitList(*modes) {
		if m != "param" && m != "next" {
			return fmt.Errorf("-modes: unknown mode %q", m)
		}
		cfg.Modes = append(cfg.Modes, m)
	}
	for _, c := range splitList(*contestants) {
		if c != "harvest" && c != "scrapy" && c != "ceiling" {
			return fmt.Errorf("-contestants: unknown contestant %q", c)
		}
		cfg.Contestants = append(cfg.Contestants, c)
	}
	if cfg.Pairs < 1 || len(cfg.Ns) == 0 || len(cfg.Modes) == 0 || len(cfg.Contestants) == 0 {
		return errors.New("nothing to run")
	}
	if cfg.ScrapyNextPairs <= 0 || cfg.ScrapyNextPairs > cfg.Pairs {
		cfg.ScrapyNextPairs = cfg.Pairs
	}

	root, err := repoRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "harvest-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	tc := &toolchain{root: root, bin: filepath.Join(work, "bin"), work: work, log: &lockedWriter{w: stderr}}
	harvestSrc := root
	if *rev != "" {
		harvestSrc = filepath.Join(work, "src")
		if err := exportRev(ctx, root, *rev, harvestSrc); err != nil {
			return err
		}
		cfg.HarvestRev = *rev
		if out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", *rev).Output(); err == nil {
			cfg.HarvestRev = strings.TrimSpace(string(out))
		}
	}
	fmt.Fprintln(stderr, "bench: building harvest, fixture and ceiling")
	if err := build(ctx, root, harvestSrc, tc.bin); err != nil {
		return err
	}
	if contains(cfg.Contestants, "scrapy") {
		if tc.scrapy = scrapyAvailable(ctx); !tc.scrapy {
			return fmt.Errorf("scrapy is not importable by %s: apt-get install -y python3-scrapy, or run with -contestants harvest,ceiling", python)
		}
	}
	res, err := runAll(ctx, tc, cfg)
	if err != nil {
		return err
	}
	res.Command = "go run ./bench " + strings.Join(args, " ")
	printReport(stdout, res)
	if *outDir != "" {
		if !filepath.IsAbs(*outDir) {
			*outDir = filepath.Join(root, *outDir)
		}
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			return err
		}
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		path := filepath.Join(*outDir, "results.json")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
		fmt.Fprintln(stderr, "bench: wrote", path)
	}
	return nil
}

// runAll runs every (N, mode) set: for each N a fixture process, for each
// mode the pairs of contestant runs.
func runAll(ctx context.Context, tc *toolchain, cfg config) (*results, error) {
	res := &results{Config: cfg, Machine: machineInfo(ctx), Started: time.Now().UTC().Truncate(time.Second)}
	begin := time.Now()
	for _, n := range cfg.Ns {
		fx, err := startFixture(ctx, tc, n, cfg.Seed, cfg.Gzip)
		if err != nil {
			return nil, err
		}
		want := normalise(fx.lib.Expected(fx.origin))
		pageBytes := 0
		for _, p := range []int{0, n / 2, n - 1} {
			pageBytes += len(fx.lib.Page(p))
		}
		for _, mode := range cfg.Modes {
			j := &job{fx: fx, mode: mode, pages: n, want: want, seedDir: filepath.Join(tc.work, "seeds-"+mode+"-"+strconv.Itoa(n))}
			if err := writeSeed(j.seedDir, fx.origin, mode); err != nil {
				fx.stop()
				return nil, err
			}
			set := &set{N: n, Mode: mode, Pages: n, Items: len(want), PageBytes: pageBytes / 3}
			if err := runSet(ctx, tc, cfg, j, set); err != nil {
				fx.stop()
				return nil, err
			}
			set.summarise(cfg)
			res.Sets = append(res.Sets, set)
		}
		fx.stop()
	}
	res.Seconds = time.Since(begin).Seconds()
	return res, nil
}

// runSet runs the pairs of one (N, mode): harvest, Scrapy, ceiling, then
// again, so that machine noise falls on all of them alike.
func runSet(ctx context.Context, tc *toolchain, cfg config, j *job, st *set) error {
	for pair := 1; pair <= cfg.Pairs; pair++ {
		for _, c := range cfg.Contestants {
			if err := ctx.Err(); err != nil {
				return err
			}
			var ss []sample
			switch c {
			case "harvest":
				hr, err := runHarvest(ctx, tc, j)
				if err != nil {
					return err
				}
				ss = []sample{hr.first, hr.rerun}
			case "scrapy":
				if j.mode == "next" && pair > cfg.ScrapyNextPairs {
					continue
				}
				s, err := runScrapy(ctx, tc, j)
				if err != nil {
					return err
				}
				ss = []sample{s}
			case "ceiling":
				s, err := runCeiling(ctx, tc, j)
				if err != nil {
					return err
				}
				ss = []sample{s}
			}
			for _, s := range ss {
				s.Pair = pair
				st.Samples = append(st.Samples, s)
				fmt.Fprintf(tc.log, "bench: N=%d %s pair %d %-13s wall %7.2fs cpu %7.2fs rss %6.1f MiB (records verified)\n",
					j.pages, j.mode, pair, s.Contestant, s.Wall, s.CPU(), float64(s.MaxRSSKiB)/1024)
			}
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// repoRoot finds the module root (the directory holding go.mod with
// module github.com/harvest-dev/harvest) from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/harvest-dev/harvest\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the harvest repository (go.mod not found)")
		}
		dir = parent
	}
}
