package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"

	"github.com/harvest-dev/harvest/crawler"
	"github.com/harvest-dev/harvest/runner"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

func cmdCrawl(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "crawl", "crawl --seeds DIR [--source ID] --db FILE [--out DIR] [--full] [--refresh-details]",
		"Harvests every seed of DIR (or only --source) once, applies each run to the\n"+
			"database as one transaction, and writes each run's change files under --out.\n"+
			"Exit status 1 when a run did not complete (partial, failed, blocked, suspect).")
	seedDir := fs.String("seeds", "seeds", "directory of seed files (*.yaml)")
	only := fs.String("source", "", "harvest only these sources (comma-separated ids)")
	dbPath := fs.String("db", "harvest.db", "SQLite database file (created if missing)")
	out := fs.String("out", "", "directory for per-run change files and manifests (none if empty)")
	full := fs.Bool("full", false, "ignore remembered ETag/Last-Modified: fetch and parse every page")
	refresh := fs.Bool("refresh-details", false, "fetch every item's detail page, not only those of new or changed items")
	contact := fs.String("contact", e.getenv("HARVEST_CONTACT"), "contact URL or address put in the user agent (\"harvest/0.1 (+CONTACT)\"); default $HARVEST_CONTACT")
	quiet := fs.Bool("q", false, "quiet: no progress line and only warnings in the log")
	logger := logFlags(e, fs, "info")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	all, err := seeds.LoadDir(*seedDir)
	if err != nil {
		return err
	}
	selected, err := selectSeeds(all, splitList(*only))
	if err != nil {
		return err
	}
	// On a terminal a live progress line replaces the info log lines;
	// elsewhere the structured log is the record of the run.
	var progress *progressLine
	if isTerminal(e.stderr) && !*quiet {
		progress = &progressLine{w: e.stderr, now: e.now}
	}
	e.quietLog = progress != nil || *quiet
	log := logger()
	st, err := store.Open(ctx, *dbPath, store.Options{Now: e.now, Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	deps := runner.Deps{
		Crawler: runner.FromCrawler(crawler.New(crawler.Config{Logger: log, Now: e.now, Contact: *contact})),
		Store:   st,
		Logger:  log,
		Now:     e.now,
		OutDir:  *out,
		Full:    *full,

		RefreshDetails: *refresh,
	}
	if progress != nil {
		deps.Progress = progress.update
	}
	bad := 0
	var results []*runner.Result
	for _, s := range selected {
		res, err := runner.Run(ctx, deps, s)
		if progress != nil {
			progress.done()
		}
		if err != nil {
			return err
		}
		results = append(results, res)
		if res.Run.Status != store.StatusComplete {
			bad++
		}
		if ctx.Err() != nil {
			break
		}
	}
	writeRunTable(e.stdout, results)
	if bad > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("harvest crawl: %d of %d runs did not complete (see above)", bad, len(selected))}
	}
	return nil
}

func selectSeeds(all []*seeds.Seed, ids []string) ([]*seeds.Seed, error) {
	if len(ids) == 0 {
		return all, nil
	}
	byID := map[string]*seeds.Seed{}
	for _, s := range all {
		byID[s.ID] = s
	}
	var out []*seeds.Seed
	for _, id := range ids {
		s, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("no seed with id %q", id)
		}
		out = append(out, s)
	}
	return out, nil
}

// openStoreForReading opens an existing database; a missing file is an
// error rather than a new empty database.
func openStoreForReading(ctx context.Context, e *env, path string, log *slog.Logger) (*store.Store, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("database %s does not exist (run harvest crawl --db %s first)", path, path)
	}
	return store.Open(ctx, path, store.Options{Now: e.now, Logger: log})
}

// writeRunTable ends a crawl: one row per run, then the reasons of the
// runs that did not complete and where the change files are.
func writeRunTable(w io.Writer, results []*runner.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tRUN\tSTATUS\tPAGES\tFAILED\tSEEN\tADDED\tUPDATED\tREMOVED\tRESTORED\tHELD")
	for _, res := range results {
		r := res.Run
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", r.Source, r.ID, r.Status, r.Pages, r.PagesFailed,
			r.Seen, r.Added, r.Updated, r.Removed, r.Restored, r.Held)
	}
	tw.Flush()
	for _, res := range results {
		if res.Run.Reason != "" {
			fmt.Fprintf(w, "%s: %s: %s\n", res.Run.Source, res.Run.Status, res.Run.Reason)
		}
	}
	for _, res := range results {
		if res.Dir != "" {
			fmt.Fprintf(w, "%s: change files in %s\n", res.Run.Source, res.Dir)
		}
	}
}
