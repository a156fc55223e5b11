package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"
)

// results is everything one harness run measured (bench/out/results.json).
type results struct {
	Command string    `json:"command"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Machine machine   `json:"machine"`
	Config  config    `json:"config"`
	Sets    []*set    `json:"sets"`
}

// machine describes where the numbers were taken.
type machine struct {
	CPUs   int    `json:"cpus"`
	Model  string `json:"cpu_model"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	Python string `json:"python,omitempty"`
	Scrapy string `json:"scrapy,omitempty"`
}

// set is one (N, mode) with its samples and summaries.
type set struct {
	N         int                 `json:"n"`
	Mode      string              `json:"mode"`
	Pages     int                 `json:"pages"`
	Items     int                 `json:"items"`
	PageBytes int                 `json:"page_bytes"` // mean size of a listing page
	Summary   map[string]*summary `json:"summary"`
	// Ratios are medians of per-pair wall-time ratios.
	HarvestScrapy  *ratio   `json:"harvest_over_scrapy,omitempty"`
	HarvestCeiling *ratio   `json:"harvest_over_ceiling,omitempty"`
	RerunFirst     *ratio   `json:"harvest_rerun_over_first,omitempty"`
	Samples        []sample `json:"samples"`
}

// summary is one contestant's figures over its runs of a set.
type summary struct {
	Runs        int     `json:"runs"`
	WallMedian  float64 `json:"wall_s_median"`
	WallMin     float64 `json:"wall_s_min"`
	WallMax     float64 `json:"wall_s_max"`
	CPUMedian   float64 `json:"cpu_s_median"`
	PeakRSSMiB  float64 `json:"peak_rss_mib_max"`
	PagesPerSec float64 `json:"pages_per_s"` // N / median wall
}

// ratio is the median of per-pair ratios and the pairs it is over.
type ratio struct {
	Median float64   `json:"median"`
	Pairs  int       `json:"pairs"`
	Values []float64 `json:"values"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (st *set) byPair(name string) map[int]sample {
	m := map[int]sample{}
	for _, s := range st.Samples {
		if s.Contestant == name {
			m[s.Pair] = s
		}
	}
	return m
}

// pairRatio is the median over pairs of a's wall time over b's.
func (st *set) pairRatio(a, b string) *ratio {
	am, bm := st.byPair(a), st.byPair(b)
	var vs []float64
	for p := 1; p <= len(st.Samples); p++ {
		x, ok1 := am[p]
		y, ok2 := bm[p]
		if ok1 && ok2 && y.Wall > 0 {
			vs = append(vs, x.Wall/y.Wall)
		}
	}
	if len(vs) == 0 {
		return nil
	}
	return &ratio{Median: median(vs), Pairs: len(vs), Values: vs}
}

func (st *set) summarise(cfg config) {
	st.Summary = map[string]*summary{}
	for _, name := range []string{"harvest", "harvest-rerun", "scrapy", "ceiling"} {
		var walls, cpus []float64
		var rss int64
		for _, s := range st.Samples {
			if s.Contestant != name {
				continue
			}
			walls = append(walls, s.Wall)
			cpus = append(cpus, s.CPU())
			rss = max(rss, s.MaxRSSKiB)
		}
		if len(walls) == 0 {
			continue
		}
		sm := &summary{Runs: len(walls), WallMedian: median(walls), CPUMedian: median(cpus), PeakRSSMiB: float64(rss) / 1024}
		sm.WallMin, sm.WallMax = walls[0], walls[0]
		for _, w := range walls {
			sm.WallMin, sm.WallMax = min(sm.WallMin, w), max(sm.WallMax, w)
		}
		if sm.WallMedian > 0 {
			sm.PagesPerSec = float64(st.Pages) / sm.WallMedian
		}
		st.Summary[name] = sm
	}
	st.HarvestScrapy = st.pairRatio("harvest", "scrapy")
	st.HarvestCeiling = st.pairRatio("harvest", "ceiling")
	st.RerunFirst = st.pairRatio("harvest-rerun", "harvest")
}

func (r *results) find(n int, mode string) *set {
	for _, s := range r.Sets {
		if s.N == n && s.Mode == mode {
			return s
		}
	}
	return nil
}

// printReport writes the Markdown tables: per-contestant figures, ratios,
// and every issue-7 target with the measured value.
func printReport(w io.Writer, r *results) {
	m := r.Machine
	fmt.Fprintf(w, "Machine: %d CPUs, %s, Linux %s, %s", m.CPUs, m.Model, m.Kernel, m.Go)
	if m.Scrapy != "" {
		fmt.Fprintf(w, ", Scrapy %s (Python %s)", m.Scrapy, m.Python)
	}
	fmt.Fprintf(w, ".\nCommand: `%s` (%d pairs; %.0f s in all)", r.Command, r.Config.Pairs, r.Seconds)
	if r.Config.HarvestRev != "" {
		fmt.Fprintf(w, "; harvest built from commit %s", r.Config.HarvestRev)
	}
	fmt.Fprint(w, ".\n\n")

	fmt.Fprintln(w, "| N pages | mode | contestant | runs | wall s (median) | CPU s (median) | peak RSS MiB | pages/s |")
	fmt.Fprintln(w, "|---:|---|---|---:|---:|---:|---:|---:|")
	for _, st := range r.Sets {
		for _, name := range []string{"harvest", "harvest-rerun", "scrapy", "ceiling"} {
			sm := st.Summary[name]
			if sm == nil {
				continue
			}
			label := name
			if name == "harvest-rerun" {
				label = "harvest, unchanged re-run"
			}
			fmt.Fprintf(w, "| %d | %s | %s | %d | %.2f | %.2f | %.1f | %.0f |\n",
				st.N, st.Mode, label, sm.Runs, sm.WallMedian, sm.CPUMedian, sm.PeakRSSMiB, sm.PagesPerSec)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| N pages | mode | harvest/Scrapy | harvest/ceiling | harvest re-run/first |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|")
	for _, st := range r.Sets {
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s |\n", st.N, st.Mode, fmtRatio(st.HarvestScrapy), fmtRatio(st.HarvestCeiling), fmtRatio(st.RerunFirst))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target (issue 7) | measured | verdict |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, t := range targets(r) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", t[0], t[1], t[2])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Page size: %s; every run's records were checked against the fixture's own list (N x 20 items, 8 fields) before any time was kept.\n", pageSizes(r))
}

func pageSizes(r *results) string {
	seen := map[int]bool{}
	var parts []string
	for _, st := range r.Sets {
		if !seen[st.N] {
			seen[st.N] = true
			parts = append(parts, fmt.Sprintf("%.0f KB (N=%d)", float64(st.PageBytes)/1000, st.N))
		}
	}
	return strings.Join(parts, ", ")
}

func fmtRatio(r *ratio) string {
	if r == nil {
		return "–"
	}
	return fmt.Sprintf("%.3f (%d pairs)", r.Median, r.Pairs)
}

// targets lists each target of issue 7 the harness measures, with the
// measured value and whether it is met; nothing is loosened.
func targets(r *results) [][3]string {
	var out [][3]string
	verdict := func(ok bool, miss string) string {
		if ok {
			return "met"
		}
		return "**missed** " + miss
	}
	for _, n := range r.Config.Ns {
		p := r.find(n, "param")
		if p == nil {
			continue
		}
		if x := p.HarvestCeiling; x != nil {
			out = append(out, [3]string{fmt.Sprintf("N=%d param: harvest wall <= 1.25x ceiling", n),
				fmt.Sprintf("%.2fx", x.Median), verdict(x.Median <= 1.25, fmt.Sprintf("by %.2fx", x.Median/1.25))})
		}
		if x := p.HarvestScrapy; x != nil {
			out = append(out, [3]string{fmt.Sprintf("N=%d param: harvest wall <= 0.15x Scrapy", n),
				fmt.Sprintf("%.3fx", x.Median), verdict(x.Median <= 0.15, fmt.Sprintf("by %.2fx", x.Median/0.15))})
		}
		if nx := r.find(n, "next"); nx != nil && nx.Summary["harvest"] != nil && p.Summary["harvest"] != nil {
			q := nx.Summary["harvest"].WallMedian / p.Summary["harvest"].WallMedian
			out = append(out, [3]string{fmt.Sprintf("N=%d: harvest next-mode wall <= 1.3x its param-mode wall", n),
				fmt.Sprintf("%.2fx", q), verdict(q <= 1.3, fmt.Sprintf("by %.2fx", q/1.3))})
		}
	}
	for _, st := range r.Sets {
		if x := st.RerunFirst; x != nil {
			out = append(out, [3]string{fmt.Sprintf("N=%d %s: unchanged re-run <= 1/20 of the first run", st.N, st.Mode),
				fmt.Sprintf("1/%.0f", 1/x.Median), verdict(x.Median <= 0.05, fmt.Sprintf("by %.2fx", x.Median/0.05))})
		}
	}
	peak := func(n int) (float64, bool) {
		v, ok := 0.0, false
		for _, st := range r.Sets {
			if sm := st.Summary["harvest"]; st.N == n && sm != nil {
				v, ok = max(v, sm.PeakRSSMiB), true
			}
		}
		return v, ok
	}
	if v, ok := peak(2000); ok {
		out = append(out, [3]string{"N=2000: harvest peak RSS <= 64 MiB", fmt.Sprintf("%.1f MiB", v),
			verdict(v <= 64, fmt.Sprintf("by %.1f MiB", v-64))})
	}
	if a, ok1 := peak(500); ok1 {
		if b, ok2 := peak(2000); ok2 && a > 0 {
			g := b/a - 1
			out = append(out, [3]string{"harvest peak RSS grows <= 20% from N=500 to N=2000", fmt.Sprintf("%+.0f%% (%.1f -> %.1f MiB)", 100*g, a, b),
				verdict(g <= 0.20, fmt.Sprintf("by %.0f points", 100*(g-0.20)))})
		}
	}
	return out
}

// machineInfo describes the machine: CPUs, CPU model, kernel, Go and
// Scrapy versions.
func machineInfo(ctx context.Context) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.CommandContext(ctx, python, "-c", "import sys, scrapy; print(sys.version.split()[0], scrapy.__version__)").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) == 2 {
			m.Python, m.Scrapy = f[0], f[1]
		}
	}
	return m
}
