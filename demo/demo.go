// Package demo runs harvest's end-to-end demonstration: it serves the
// built-in library site (package demo/site) on loopback, harvests it on
// three simulated nights while the site changes as a real library does,
// and prints what each night found. It uses the same run step as
// "harvest crawl" and "harvest serve".
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/harvest-dev/harvest/crawler"
	"github.com/harvest-dev/harvest/demo/site"
	"github.com/harvest-dev/harvest/runner"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// Nights is how many nights the demo harvests.
const Nights = 3

// Options configure a demo run.
type Options struct {
	// Out is the directory for the database, the seed and the change
	// files. It is created if missing.
	Out    string
	Stdout io.Writer
	Logger *slog.Logger
	// Now is the real clock; night n is simulated as Now + (n-1) days.
	Now func() time.Time
	// Transport, when set, is used by the crawler (tests).
	Transport http.RoundTripper
}

// Report is what the demo did: one result per night and what the site
// changed before night 2.
type Report struct {
	DB       string
	SeedFile string
	OutDir   string
	Nights   []*runner.Result
	Changed  site.NightChanges
}

// Run serves the demo library on 127.0.0.1 and harvests it three nights.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("demo: create %s: %w", o.Out, err)
	}
	lib, err := site.New(site.Options{})
	if err != nil {
		return nil, fmt.Errorf("demo: load the built-in library: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: lib.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ErrServerClosed on shutdown
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck
	}()
	base := "http://" + ln.Addr().String()
	listing := base + "/resources?category=trafficking"

	rep := &Report{
		DB:       filepath.Join(o.Out, "harvest.db"),
		SeedFile: filepath.Join(o.Out, "seeds", "demo-trafficking.yaml"),
		OutDir:   filepath.Join(o.Out, "changes"),
	}
	if err := os.MkdirAll(filepath.Dir(rep.SeedFile), 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := os.WriteFile(rep.SeedFile, site.SeedYAML(listing), 0o644); err != nil {
		return nil, fmt.Errorf("demo: write seed: %w", err)
	}
	seed, err := seeds.LoadFile(rep.SeedFile)
	if err != nil {
		return nil, fmt.Errorf("demo: built-in seed: %w", err)
	}
	// Night n runs n-1 days after the first, for the runs and the store
	// alike: the times of a night's changes are those of its run.
	var offset time.Duration
	clock := func() time.Time { return o.Now().Add(offset) }
	st, err := store.Open(ctx, rep.DB, store.Options{Now: clock, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	defer st.Close()

	fmt.Fprintf(o.Stdout, "harvest demo: a resource library is being served at %s\n", listing)
	fmt.Fprintf(o.Stdout, "seed: %s   database: %s\n\n", rep.SeedFile, rep.DB)

	for night := 1; night <= Nights; night++ {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("demo: stopped before night %d: %w", night, err)
		}
		lib.SetNight(night)
		if night == 2 {
			rep.Changed = lib.Changes()
			describeChanges(o.Stdout, rep.Changed)
		}
		offset = time.Duration(night-1) * 24 * time.Hour
		cr := crawler.New(crawler.Config{Logger: o.Logger, Now: o.Now, Transport: o.Transport})
		res, err := runner.Run(ctx, runner.Deps{
			Crawler: runner.FromCrawler(cr),
			Store:   st,
			Logger:  o.Logger,
			Now:     clock,
			OutDir:  rep.OutDir,
		}, seed)
		if err != nil {
			return rep, err
		}
		rep.Nights = append(rep.Nights, res)
		fmt.Fprintf(o.Stdout, "night %d  ", night)
		res.WriteSummary(o.Stdout)
		fmt.Fprintln(o.Stdout)
	}
	last := rep.Nights[len(rep.Nights)-1].Run
	if last.Status != store.StatusComplete {
		return rep, errors.New("demo: the last night did not complete; see the summaries above")
	}
	fmt.Fprintf(o.Stdout, "Removals wait for %d complete runs without the item, so the take-down shows on night %d.\n", seed.Guards.MissingRuns, 1+seed.Guards.MissingRuns)
	fmt.Fprintf(o.Stdout, "Try:  harvest runs --db %s\n      harvest export changes --db %s --since 2 --format csv\n", rep.DB, rep.DB)
	return rep, nil
}

func describeChanges(w io.Writer, c site.NightChanges) {
	fmt.Fprintf(w, "Overnight the library changed: %d added, %d edited, %d taken down.\n\n", len(c.Added), len(c.Updated), len(c.Removed))
}
