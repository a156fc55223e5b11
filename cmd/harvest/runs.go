package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/harvest-dev/harvest/store"
)

func cmdRuns(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "runs", "runs [--db FILE] [--source ID] [--limit N] [--json] | runs show RUN",
		"Lists runs, newest first, with status and counts; 'runs show RUN' adds\nthe outcome of each page.")
	dbPath := fs.String("db", "harvest.db", "SQLite database file")
	source := fs.String("source", "", "only this source")
	limit := fs.Int("limit", 20, "at most this many runs")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	logger := logFlags(e, fs, "info")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := openStoreForReading(ctx, e, *dbPath, logger())
	if err != nil {
		return err
	}
	defer st.Close()

	if rest := fs.Args(); len(rest) > 0 {
		if rest[0] != "show" || len(rest) != 2 {
			return fmt.Errorf("%w: expected 'runs show RUN_ID', got %q", errUsage, rest)
		}
		id, err := strconv.ParseInt(rest[1], 10, 64)
		if err != nil {
			return fmt.Errorf("%w: run id %q is not a number", errUsage, rest[1])
		}
		run, pages, err := st.Run(ctx, id)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"run": run, "pages": pages})
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "run %d of %s: %s\n", run.ID, run.Source, run.Status)
		if run.Reason != "" {
			fmt.Fprintf(tw, "reason: %s\n", run.Reason)
		}
		fmt.Fprintf(tw, "started %s, took %s\n", run.StartedAt.Format(time.RFC3339), run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond))
		fmt.Fprintf(tw, "seen %d, added %d, updated %d, removed %d, restored %d, held %d, dropped %d, warnings %d\n\n",
			run.Seen, run.Added, run.Updated, run.Removed, run.Restored, run.Held, run.Dropped, run.Warnings)
		fmt.Fprintln(tw, "URL\tHTTP\tBYTES\tMS\tITEMS\tNOTE")
		for _, p := range pages {
			note := p.Err
			if p.NotModified {
				note = "not modified"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", p.URL, p.Status, p.Bytes, p.Duration.Milliseconds(), p.Items, note)
		}
		return tw.Flush()
	}

	runs, err := st.Runs(ctx, store.RunFilter{Source: *source, Limit: *limit})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(runs)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSOURCE\tSTARTED\tSTATUS\tPAGES\tSEEN\tADDED\tUPDATED\tREMOVED\tRESTORED\tREASON")
	for _, r := range runs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Source, r.StartedAt.UTC().Format(time.RFC3339),
			r.Status, r.Pages, r.Seen, r.Added, r.Updated, r.Removed, r.Restored, r.Reason)
	}
	return tw.Flush()
}
