package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

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
	log := logger()
	st, err := store.Open(ctx, *dbPath, store.Options{Now: e.now, Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	deps := runner.Deps{
		Crawler: runner.FromCrawler(crawler.New(crawler.Config{Logger: log, Now: e.now})),
		Store:   st,
		Logger:  log,
		Now:     e.now,
		OutDir:  *out,
		Full:    *full,

		RefreshDetails: *refresh,
	}
	bad := 0
	for _, s := range selected {
		res, err := runner.Run(ctx, deps, s)
		if err != nil {
			return err
		}
		res.WriteSummary(e.stdout)
		if res.Run.Status != store.StatusComplete {
			bad++
		}
		if ctx.Err() != nil {
			break
		}
	}
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
