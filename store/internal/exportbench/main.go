// Command exportbench measures "harvest export records --format csv" over
// a large store (issue 5: 1,000,000 records at >= 300,000 rows/s on one
// core, peak RSS under 100 MB).
//
//	go run ./store/internal/exportbench -n 1000000
//
// It builds the database once (10 sources of n/10 records, cached as
// $TMPDIR/harvest-exportbench-N.db), builds harvest from ./cmd/harvest
// (or takes -harvest), then runs the export -runs times in each mode and
// sink, going round them in turn, with GOMAXPROCS=1 under GNU time
// (/usr/bin/time -v) for CPU seconds and peak RSS, and counts the rows
// written. Modes:
//
//	scan   extra.NAME columns from the store's list of extra names (the
//	       CLI's default without --seeds)
//	seeds  extra columns taken from --seeds
//
// Sinks:
//
//	pipe   standard output, read and counted as it comes (the reader's
//	       pace and the pipe's 64 KiB buffer are part of the figure)
//	file   --out FILE in -outdir (default /dev/shm, a tmpfs, so that disk
//	       writeback is not), counted after the clock stops
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

const sources = 10

func main() {
	n := flag.Int("n", 1_000_000, "records in the store (a multiple of 10)")
	dbPath := flag.String("db", "", "database file (default $TMPDIR/harvest-exportbench-N.db, built when missing)")
	harvest := flag.String("harvest", "", "harvest binary (default: go build ./cmd/harvest)")
	runs := flag.Int("runs", 3, "exports per mode")
	procs := flag.String("gomaxprocs", "1", "GOMAXPROCS of the export process")
	outDir := flag.String("outdir", "/dev/shm", "directory of the file sink (--out); a tmpfs keeps disk writeback out of the figure")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), log, *n, *dbPath, *harvest, *runs, *procs, *outDir); err != nil {
		fmt.Fprintln(os.Stderr, "exportbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, n int, dbPath, harvest string, runs int, procs, outDir string) error {
	if n <= 0 || n%sources != 0 {
		return fmt.Errorf("-n %d: give a positive multiple of %d", n, sources)
	}
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		return fmt.Errorf("GNU time is needed for peak RSS: %w", err)
	}
	tmp := os.TempDir()
	if dbPath == "" {
		dbPath = filepath.Join(tmp, fmt.Sprintf("harvest-exportbench-%d.db", n))
	}
	if err := ensureDB(ctx, log, dbPath, n); err != nil {
		return err
	}
	work, err := os.MkdirTemp(tmp, "exportbench-")
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)
	if harvest == "" {
		harvest = filepath.Join(work, "harvest")
		log.Info("building harvest", "out", harvest)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", harvest, "./cmd/harvest")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build harvest (run from the module root, or pass -harvest): %w", err)
		}
	}
	seedDir, err := writeSeeds(work)
	if err != nil {
		return err
	}
	modes := []struct {
		name  string
		extra []string
	}{
		{"scan", nil},
		{"seeds", []string{"--seeds", seedDir}},
	}
	fmt.Printf("harvest export records --format csv, %d records, GOMAXPROCS=%s, %d runs a mode and sink in turn (median shown)\n", n, procs, runs)
	sinks := []struct{ name, file string }{
		{"pipe", ""},
		{"file", filepath.Join(outDir, fmt.Sprintf("exportbench-%d.csv", os.Getpid()))},
	}
	// The runs go round every mode and sink in turn (scan pipe, scan file,
	// seeds pipe, ...) rather than one cell after another: this machine's
	// speed drifts by a third within minutes, and in turn the drift falls
	// on every cell alike.
	res := make([][]result, len(modes)*len(sinks))
	for range runs {
		for mi, m := range modes {
			for si, sink := range sinks {
				args := append([]string{"export", "records", "--format", "csv", "--db", dbPath}, m.extra...)
				r, err := measure(ctx, harvest, args, procs, sink.file)
				if err != nil {
					return fmt.Errorf("mode %s: %w", m.name, err)
				}
				if r.rows != n {
					return fmt.Errorf("mode %s, %s: exported %d rows, want %d", m.name, sink.name, r.rows, n)
				}
				res[mi*len(sinks)+si] = append(res[mi*len(sinks)+si], r)
			}
		}
	}
	fmt.Printf("%-6s %-5s %9s %8s %10s %8s %9s\n", "mode", "sink", "rows", "wall s", "rows/s", "cpu s", "peak MB")
	for mi, m := range modes {
		for si, sink := range sinks {
			rs := res[mi*len(sinks)+si]
			sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
			r := rs[len(rs)/2]
			peak := 0.0
			for _, x := range rs {
				peak = max(peak, x.peakMB)
			}
			fmt.Printf("%-6s %-5s %9d %8.2f %10.0f %8.2f %9.1f\n", m.name, sink.name, r.rows, r.wall.Seconds(), float64(r.rows)/r.wall.Seconds(), r.cpu, peak)
		}
	}
	return nil
}

// ensureDB builds the benchmark database unless it already holds n
// current records.
func ensureDB(ctx context.Context, log *slog.Logger, path string, n int) error {
	if _, err := os.Stat(path); err == nil {
		st, err := store.Open(ctx, path, store.Options{})
		if err != nil {
			return err
		}
		defer st.Close()
		ss, err := st.Sources(ctx)
		if err != nil {
			return err
		}
		total := 0
		for _, s := range ss {
			total += s.Records
		}
		if total == n {
			log.Info("reusing database", "path", path)
			return nil
		}
		return fmt.Errorf("%s holds %d records, not %d: remove it or pass -db", path, total, n)
	}
	part := path + ".part"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(part + suffix)
	}
	log.Info("building database", "path", path, "records", n)
	start := time.Now()
	st, err := store.Open(ctx, part, store.Options{})
	if err != nil {
		return err
	}
	per := n / sources
	for s := range sources {
		src := fmt.Sprintf("bench-%02d", s)
		recs := make([]record.Record, per)
		for i := range recs {
			k := fmt.Sprintf("https://library.example.org/en/publications/%02d/%07d", s, i)
			recs[i] = record.Record{Key: k, URL: k,
				Title: fmt.Sprintf("Publicación número %d sobre migración y trata de personas", i),
				Summary: fmt.Sprintf("Este es el estudio %d, exploratorio, para analizar la vulnerabilidad & riesgos de la población migrante. ", i) +
					strings.Repeat("Se examinan rutas, perfiles y respuestas institucionales en la región. ", 6),
				Countries: []string{"México", "Guatemala"}, Regions: []string{"Central America"},
				Authors: []string{"María Dolores París Pombo"}, Year: 2000 + i%25, Categories: []string{"Trafficking"},
				Language: "es", Extra: map[string]string{"pdf": k + ".pdf"}}
		}
		if _, err := st.ApplyRun(ctx, store.RunInput{Source: src, Status: store.StatusComplete, Records: recs}); err != nil {
			st.Close()
			return fmt.Errorf("build database: %w", err)
		}
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("build database: %w", err)
	}
	if err := os.Rename(part, path); err != nil {
		return fmt.Errorf("build database: %w", err)
	}
	log.Info("database built", "path", path, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// writeSeeds writes one seed per benchmark source, each configuring the
// extra field pdf, and checks that they load.
func writeSeeds(dir string) (string, error) {
	sd := filepath.Join(dir, "seeds")
	if err := os.MkdirAll(sd, 0o755); err != nil {
		return "", fmt.Errorf("seeds: %w", err)
	}
	for s := range sources {
		y := fmt.Sprintf(`id: bench-%02d
start_urls: ["https://library.example.org/en/publications/%02d"]
items: "div.views-row"
fields:
  title: {select: "h3 a", required: true}
  url: {select: "h3 a", attr: href, type: url}
  pdf: {select: "a[href$='.pdf']", attr: href, type: url}
`, s, s)
		if err := os.WriteFile(filepath.Join(sd, fmt.Sprintf("bench-%02d.yaml", s)), []byte(y), 0o644); err != nil {
			return "", fmt.Errorf("seeds: %w", err)
		}
	}
	if _, err := seeds.LoadDir(sd); err != nil {
		return "", fmt.Errorf("seeds: %w", err)
	}
	return sd, nil
}

type result struct {
	rows   int
	wall   time.Duration
	cpu    float64 // user + system seconds
	peakMB float64
}

var (
	reRSS  = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)
	reUser = regexp.MustCompile(`User time \(seconds\): ([\d.]+)`)
	reSys  = regexp.MustCompile(`System time \(seconds\): ([\d.]+)`)
)

// measure runs harvest under GNU time and counts the CSV rows it writes
// (line ends; the header is not counted; no value holds a line break).
// With outFile empty harvest writes to a pipe read as it goes; else it
// writes outFile (--out), counted after the clock stops.
func measure(ctx context.Context, harvest string, args []string, procs, outFile string) (result, error) {
	if outFile != "" {
		args = append(args, "--out", outFile)
		defer os.Remove(outFile)
	}
	cmd := exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-v", harvest}, args...)...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+procs)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var lines int
	var cerr, werr error
	var wall time.Duration
	if outFile == "" {
		out, err := cmd.StdoutPipe()
		if err != nil {
			return result{}, err
		}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return result{}, err
		}
		lines, cerr = countLines(out)
		werr = cmd.Wait()
		wall = time.Since(start)
	} else {
		start := time.Now()
		werr = cmd.Run()
		wall = time.Since(start)
		if werr == nil {
			f, err := os.Open(outFile)
			if err != nil {
				return result{}, err
			}
			lines, cerr = countLines(f)
			f.Close()
		}
	}
	if err := errors.Join(cerr, werr); err != nil {
		return result{}, fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	r := result{rows: lines - 1, wall: wall}
	if m := reRSS.FindStringSubmatch(stderr.String()); m != nil {
		kb, _ := strconv.ParseFloat(m[1], 64)
		r.peakMB = kb / 1024
	}
	for _, re := range []*regexp.Regexp{reUser, reSys} {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			s, _ := strconv.ParseFloat(m[1], 64)
			r.cpu += s
		}
	}
	return r, nil
}

func countLines(r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	buf := make([]byte, 1<<20)
	n := 0
	for {
		k, err := br.Read(buf)
		n += bytes.Count(buf[:k], []byte("\n"))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
