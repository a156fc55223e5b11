package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/bench/internal/library"
	"github.com/harvest-dev/harvest/seeds"
)

// TestQuickVerification runs the harness end to end on a 20-page fixture:
// harvest and the ceiling (and Scrapy when /usr/bin/python3 can import
// it) must each extract exactly the library's 400 records in both modes,
// and harvest's unchanged re-run must be answered by 304s only.
func TestQuickVerification(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the contestants")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	var log bytes.Buffer
	tc := &toolchain{root: root, bin: filepath.Join(work, "bin"), work: work, log: &lockedWriter{w: &log}}
	if err := build(ctx, root, root, tc.bin); err != nil {
		t.Fatal(err)
	}
	cfg := config{Ns: []int{20}, Modes: []string{"param", "next"}, Pairs: 1, ScrapyNextPairs: 1, Seed: 3,
		Contestants: []string{"harvest", "ceiling"}}
	if scrapyAvailable(ctx) {
		cfg.Contestants = append(cfg.Contestants, "scrapy")
	} else {
		t.Log("scrapy not importable by /usr/bin/python3: running harvest and the ceiling only")
	}
	res, err := runAll(ctx, tc, cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(res.Sets) != 2 {
		t.Fatalf("%d sets, want 2", len(res.Sets))
	}
	for _, st := range res.Sets {
		for _, c := range append(cfg.Contestants, "harvest-rerun") {
			sm := st.Summary[c]
			if sm == nil || sm.Runs != 1 || sm.WallMedian <= 0 || sm.PeakRSSMiB <= 0 {
				t.Errorf("%s %s: summary %+v", st.Mode, c, sm)
			}
		}
		if st.HarvestCeiling == nil || st.RerunFirst == nil || st.Items != 400 {
			t.Errorf("%s: ratios %v %v, items %d", st.Mode, st.HarvestCeiling, st.RerunFirst, st.Items)
		}
	}
	var out bytes.Buffer
	printReport(&out, res)
	for _, want := range []string{"| 20 | param | harvest | 1 |", "| 20 | next | ceiling | 1 |", "unchanged re-run <= 1/20"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCompareFindsDifferences(t *testing.T) {
	lib := library.New(library.Config{Seed: 1, Pages: 2})
	want := normalise(lib.Expected("http://x"))
	same := normalise(lib.Expected("http://x"))
	// Decomposed accents and extra white space are the same text.
	same[0].Title = "  " + strings.ReplaceAll(same[0].Title, " ", "\n ") + " "
	same[1].Summary = strings.ReplaceAll(same[1].Summary, "ó", "o\u0301")
	if err := compare(want, normalise(same)); err != nil {
		t.Errorf("equivalent records: %v", err)
	}
	cases := map[string]func([]rec) []rec{
		"1 differ":     func(rs []rec) []rec { rs[5].Authors = append(rs[5].Authors, "Extra Author"); return rs },
		"1 missing":    func(rs []rec) []rec { return rs[1:] },
		"duplicate":    func(rs []rec) []rec { return append(rs, rs[0]) },
		"unexpected":   func(rs []rec) []rec { rs[3].URL += "x"; return rs },
		"year 1999":    func(rs []rec) []rec { rs[7].Year = 1999; return rs },
		"categories [": func(rs []rec) []rec { rs[2].Categories = nil; return rs },
	}
	for name, mutate := range cases {
		got := mutate(normalise(lib.Expected("http://x")))
		err := compare(want, normalise(got))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: compare said %v", name, err)
		}
	}
}

func TestSeedTemplateIsAValidSeed(t *testing.T) {
	for _, mode := range []string{"param", "next"} {
		dir := t.TempDir()
		if err := writeSeed(dir, "http://127.0.0.1:9", mode); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, sourceID+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := seeds.Parse(filepath.Join(dir, sourceID+".yaml"), b)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if s.Pagination.Mode() != mode || s.Politeness.Concurrency != 16 || s.Politeness.Delay.D() != 0 || s.StartURLs[0] != "http://127.0.0.1:9/resources" {
			t.Errorf("%s: seed %+v", mode, s)
		}
	}
}

// TestMeasureReportsTheChildsOwnPeakRSS guards against Linux folding the
// harness's own high-water RSS into a vfork-started child's Maxrss.
func TestMeasureReportsTheChildsOwnPeakRSS(t *testing.T) {
	ballast := make([]byte, 200<<20)
	for i := range ballast {
		ballast[i] = byte(i)
	}
	s, err := measure(context.Background(), "true", exec.Command("/bin/true"))
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxRSSKiB <= 0 || s.MaxRSSKiB > 20<<10 {
		t.Errorf("/bin/true peak RSS %d KiB, want a few MiB at most (the harness holds %d MiB)", s.MaxRSSKiB, len(ballast)>>20)
	}
	if s.Wall <= 0 {
		t.Errorf("wall %v", s.Wall)
	}
	if _, err := measure(context.Background(), "false", exec.Command("/bin/false")); err == nil {
		t.Error("a failing command measured without error")
	}
}
