package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// env is everything a command may touch of the outside world; tests build
// their own.
type env struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	now    func() time.Time
	// quietLog raises the default log level to warn (a progress line or
	// -q replaces the info lines); an explicit --log-level still wins.
	quietLog bool
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"demo", "harvest a built-in library site three nights in a row (no internet needed)", cmdDemo},
		{"crawl", "harvest sources from seed files into a database", cmdCrawl},
		{"extract", "show what a seed's rules pull out of one page", cmdExtract},
		{"seeds", "check seed files (harvest seeds check [DIR|FILE...])", cmdSeeds},
		{"export", "write records or changes as CSV, JSON or JSON Lines", cmdExport},
		{"runs", "list runs with their status and counts (runs show ID for one)", cmdRuns},
		{"serve", "run every seed on its schedule, serve the data over HTTP, send alerts", cmdServe},
	}
}

const usageHead = `harvest watches the listing pages of publication libraries and turns them
into a versioned dataset with change feeds.

Usage: harvest COMMAND [flags]

Commands:
`

func usage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"harvest COMMAND --help\" for a command's flags.\n")
}

// errUsage marks a mistake in how the command was called (exit status 2).
var errUsage = errors.New("usage")

// run dispatches to a command and returns the process exit status:
// 0 success, 1 failure, 2 wrong usage.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			if msg := strings.TrimSpace(strings.TrimPrefix(err.Error(), errUsage.Error())); msg != "" {
				fmt.Fprintf(e.stderr, "harvest %s: %s\n", c.name, strings.TrimPrefix(msg, ": "))
			}
			return 2
		default:
			var ex exitError
			if errors.As(err, &ex) {
				fmt.Fprintln(e.stderr, ex.msg)
				return ex.code
			}
			fmt.Fprintf(e.stderr, "harvest %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "harvest: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return 2
}

// exitError ends a command with a message and a chosen status.
type exitError struct {
	code int
	msg  string
}

func (x exitError) Error() string { return x.msg }

// newFlags makes a command's flag set, printing its usage on --help.
func newFlags(e *env, name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: harvest %s\n\n%s\n\nFlags:\n", synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; a bad flag is errUsage, --help is flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w", errUsage)
	}
	return nil
}

// logFlags adds --log-level and --log-format and returns a function
// making the logger (log/slog, on standard error).
func logFlags(e *env, fs *flag.FlagSet, def string) func() *slog.Logger {
	level := fs.String("log-level", def, "log level: debug, info, warn, error (logs go to standard error)")
	format := fs.String("log-format", "text", "log format: text or json (one JSON object per line)")
	return func() *slog.Logger {
		var l slog.Level
		if err := l.UnmarshalText([]byte(*level)); err != nil {
			l = slog.LevelInfo
		}
		if !flagSet(fs, "log-level") && e.quietLog {
			l = max(l, slog.LevelWarn)
		}
		opts := &slog.HandlerOptions{Level: l}
		if *format == "json" {
			return slog.New(slog.NewJSONHandler(e.stderr, opts))
		}
		return slog.New(slog.NewTextHandler(e.stderr, opts))
	}
}

// flagSet reports whether the named flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
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
