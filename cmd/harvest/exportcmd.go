package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

func cmdExport(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || (args[0] != "records" && args[0] != "changes" && args[0] != "feed") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(e.stderr, exportHelp)
			return flag.ErrHelp
		}
		fmt.Fprint(e.stderr, exportHelp)
		return fmt.Errorf("%w", errUsage)
	}
	what := args[0]
	fs := newFlags(e, "export "+what, "export "+what+" [flags]", exportAbout[what])
	dbPath := fs.String("db", "harvest.db", "SQLite database file")
	sources := fs.String("source", "", "only these sources (comma-separated ids)")
	format := fs.String("format", "csv", "csv, json or jsonl (feed: atom or json)")
	outPath := fs.String("out", "", "write to this file (atomically) instead of standard output")
	excel := fs.Bool("excel", false, "CSV: start with a UTF-8 byte-order mark so Excel reads accents right")
	seedDir := fs.String("seeds", "", "seed directory: its extra fields become CSV extra.NAME columns (default: the extras found in the data)")
	var since, kinds, cursor string
	var withRemoved bool
	if what == "changes" || what == "feed" {
		fs.StringVar(&since, "since", "", "changes since a run id (\"12\"), a time (RFC 3339) or a duration back from now (\"24h\")")
	}
	if what == "changes" {
		fs.StringVar(&kinds, "kind", "", "only these kinds: added,updated,removed,restored")
		fs.StringVar(&cursor, "since-cursor", "", "cursor file: export changes newer than it, then advance it once the output is in place (needs --out)")
	}
	if what == "records" {
		fs.BoolVar(&withRemoved, "removed", false, "include records that were taken down (removed_at set)")
	}
	logger := logFlags(e, fs, "info")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	// Check every flag before touching the database.
	var probe store.ChangeFilter
	if err := applySince(&probe, since, e.now()); err != nil {
		return err
	}
	log := logger()
	st, err := openStoreForReading(ctx, e, *dbPath, log)
	if err != nil {
		return err
	}
	defer st.Close()

	srcs := splitList(*sources)
	// A mistyped --source exports nothing, which reads like an empty
	// library: say so when the store has never run that source.
	for _, src := range srcs {
		if r, err := st.LastRun(ctx, src); err != nil {
			return err
		} else if r == nil {
			log.Warn("the database has no run of this source: check the name (the export has none of its rows)",
				"source", src, "db", *dbPath)
		}
	}
	opts := export.Options{Format: *format, Excel: *excel, Now: e.now, Sources: srcs}
	if *format == "csv" {
		var sds []*seeds.Seed
		if *seedDir != "" {
			if sds, err = seeds.LoadDir(*seedDir); err != nil {
				return err
			}
		}
		cols, err := export.ExtraColumns(ctx, st, sds, srcs)
		if err != nil {
			return err
		}
		opts.ExtraColumns = cols
	}

	switch what {
	case "records":
		if err := checkFormat(*format, "csv", "json", "jsonl"); err != nil {
			return err
		}
		f := store.RecordFilter{Sources: srcs, IncludeRemoved: withRemoved}
		return writeOut(*outPath, e.stdout, func(w io.Writer) error {
			_, err := export.WriteRecords(ctx, w, st, f, opts)
			return err
		})
	case "changes":
		if err := checkFormat(*format, "csv", "json", "jsonl"); err != nil {
			return err
		}
		f := store.ChangeFilter{Sources: srcs, Kinds: splitList(kinds)}
		for _, k := range f.Kinds {
			if k != store.KindAdded && k != store.KindUpdated && k != store.KindRemoved && k != store.KindRestored {
				return fmt.Errorf("%w: --kind %q: use added, updated, removed, restored", errUsage, k)
			}
		}
		if err := applySince(&f, since, e.now()); err != nil {
			return err
		}
		if cursor != "" {
			if *outPath == "" {
				return fmt.Errorf("%w: --since-cursor needs --out FILE (the cursor advances only once the file is in place)", errUsage)
			}
			n, next, err := export.ExportSinceCursor(ctx, *outPath, cursor, st, f, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "exported %d changes to %s; cursor %s now at change %d\n", n, *outPath, cursor, next)
			return nil
		}
		return writeOut(*outPath, e.stdout, func(w io.Writer) error {
			_, err := export.WriteChanges(ctx, w, st, f, opts)
			return err
		})
	default: // feed
		if err := checkFormat(*format, "atom", "json"); err != nil {
			if *format == "csv" { // the shared default does not apply to feeds
				*format = "atom"
			} else {
				return err
			}
		}
		f := store.ChangeFilter{Sources: srcs, Kinds: []string{store.KindAdded, store.KindRestored}}
		if err := applySince(&f, since, e.now()); err != nil {
			return err
		}
		title := "harvest: new publications"
		if len(srcs) > 0 {
			title += " in " + strings.Join(srcs, ", ")
		}
		info := export.FeedInfo{Title: title, ID: "tag:harvest:" + strings.Join(append([]string{"all"}, srcs...), ","), Updated: e.now()}
		return writeOut(*outPath, e.stdout, func(w io.Writer) error {
			if *format == "atom" {
				return export.WriteAtom(ctx, w, st, f, info)
			}
			return export.WriteJSONFeed(ctx, w, st, f, info)
		})
	}
}

const exportHelp = `Usage: harvest export records|changes|feed [flags]

  records   the current snapshot of every record (or of --source)
  changes   added, updated, removed and restored records since a run,
            a time, or a consumer's cursor
  feed      newly added publications as Atom 1.0 or JSON Feed 1.1

Run "harvest export records --help" for the flags. Column order and
formats are documented in docs/export.md.
`

var exportAbout = map[string]string{
	"records": "Writes the current records (CSV, JSON or JSON Lines) to standard output or --out.",
	"changes": "Writes changes, one per row or line, oldest first. With --since-cursor FILE,\nexports only changes newer than the cursor and advances it after the file is in place.",
	"feed":    "Writes newly added publications as a feed, newest first (--format atom or json).",
}

func checkFormat(got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return fmt.Errorf("%w: --format %q: use one of %s", errUsage, got, strings.Join(allowed, ", "))
}

// applySince reads --since as a run id, an RFC 3339 time or a duration.
func applySince(f *store.ChangeFilter, since string, now time.Time) error {
	if since == "" {
		return nil
	}
	if id, err := strconv.ParseInt(since, 10, 64); err == nil {
		f.SinceRun = id
		return nil
	}
	if t, err := time.Parse(time.RFC3339, since); err == nil {
		f.SinceTime = t
		return nil
	}
	if d, err := time.ParseDuration(since); err == nil && d > 0 {
		f.SinceTime = now.Add(-d)
		return nil
	}
	return fmt.Errorf("%w: --since %q: give a run id (12), a time (2026-01-02T15:04:05Z) or a duration (24h)", errUsage, since)
}

// stdoutBuffer is the buffer of an export to standard output: into a
// pipe (see growPipe), fewer and larger writes than the export's own
// 64 KiB let the reader keep up.
const stdoutBuffer = 256 << 10

// writeOut writes to stdout, or to path atomically.
func writeOut(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		bw := bufio.NewWriterSize(stdout, stdoutBuffer)
		if err := write(bw); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write standard output: %w", err)
		}
		return nil
	}
	return export.AtomicWriteFile(path, write)
}
