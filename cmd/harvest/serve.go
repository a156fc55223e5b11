package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/harvest-dev/harvest/alerts"
	"github.com/harvest-dev/harvest/crawler"
	"github.com/harvest-dev/harvest/daemon"
	"github.com/harvest-dev/harvest/runner"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/server"
	"github.com/harvest-dev/harvest/store"
)

const serveAbout = `Runs every seed of --seeds on its schedule (cron syntax or @daily, plus a
fixed per-source jitter), keeps what is due in the database so a restart
neither skips nor doubles a run, posts webhook alerts from --alerts, and
serves health, metrics, runs, records, changes, downloads and feeds over
HTTP on --addr. SIGTERM or SIGINT: no new runs, running ones get --grace,
then they are cancelled (stored as partial); exit status 0.

With --once it runs whatever is due, delivers what alerts it can, and
exits (for cron, systemd timers or Kubernetes CronJobs); exit status 1
when a run did not complete.

A bearer token (HARVEST_TOKEN, or --token-file) protects every endpoint
except /healthz and /feeds/. See docs/serve.md.`

func cmdServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve", "serve --seeds DIR --db FILE [--alerts FILE] [--addr 127.0.0.1:8080] [--out DIR] [--token-file F] [--once]", serveAbout)
	seedDir := fs.String("seeds", "seeds", "directory of seed files (*.yaml)")
	dbPath := fs.String("db", "harvest.db", "SQLite database file (created if missing)")
	alertsPath := fs.String("alerts", "", "alerts file: webhook subscriptions (none if empty)")
	addr := fs.String("addr", "127.0.0.1:8080", "address the HTTP server listens on")
	out := fs.String("out", "", "directory for per-run change files and manifests (none if empty)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token (default: $HARVEST_TOKEN; none: no token)")
	once := fs.Bool("once", false, "run whatever is due, deliver alerts, and exit (no HTTP server)")
	baseURL := fs.String("base-url", "", "public URL of this server, for feed links (e.g. https://harvest.example.org)")
	maxRuns := fs.Int("max-concurrent", daemon.DefaultMaxConcurrent, "most runs at once")
	grace := fs.Duration("grace", daemon.DefaultGrace, "on shutdown, how long running runs may go on before they are cancelled")
	logger := logFlags(e, fs, "info")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	log := logger()

	all, err := seeds.LoadDir(*seedDir)
	if err != nil {
		return err
	}
	var subs []alerts.Subscription
	if *alertsPath != "" {
		if subs, err = alerts.LoadSubscriptions(*alertsPath, e.getenv); err != nil {
			return err
		}
	}
	token, err := readToken(*tokenFile, e.getenv)
	if err != nil {
		return err
	}

	st, err := store.Open(ctx, *dbPath, store.Options{Now: e.now, Logger: log, OnRun: daemon.AlertHook(subs, e.now)})
	if err != nil {
		return err
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := server.NewMetrics(reg, st, log)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	d, err := daemon.New(daemon.Config{
		Seeds:         all,
		Store:         st,
		Crawler:       runner.FromCrawler(crawler.New(crawler.Config{Logger: log, Now: e.now})),
		Now:           e.now,
		Logger:        log,
		OutDir:        *out,
		MaxConcurrent: *maxRuns,
		Grace:         *grace,
		OnRunDone:     metrics.ObserveRun,
	})
	if err != nil {
		return err
	}
	var sender *alerts.Sender
	if len(subs) > 0 {
		sender = alerts.NewSender(alerts.SenderConfig{
			Outbox:        &daemon.Outbox{Store: st, Now: e.now},
			Subscriptions: subs,
			Now:           e.now,
			Logger:        log,
		})
	}

	if *once {
		return serveOnce(ctx, e, d, sender, log)
	}

	if token == "" && !loopback(*addr) {
		log.Warn("no token configured and the server listens beyond loopback: anyone who can reach it can read the data and start runs", "addr", *addr)
	}
	srvr, err := server.New(server.Config{Store: st, Scheduler: d, Seeds: all, Gatherer: reg, Token: token,
		Logger: log, Now: e.now, BaseURL: *baseURL})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	httpSrv := server.NewHTTPServer(*addr, srvr.Handler(), log)
	fmt.Fprintf(e.stderr, "harvest serve: %d sources, listening on http://%s\n", len(all), ln.Addr())

	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("http server: %w", err)
		}
	}()
	if sender != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sender.Run(ctx, 10*time.Second)
		}()
	}
	runCtx, stopRuns := context.WithCancel(ctx)
	defer stopRuns()
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(runCtx) }()

	var failure error
	select {
	case err := <-runDone: // ctx done: the daemon has shut down
		failure = err
	case failure = <-serveErr:
		stopRuns()
		<-runDone
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutCtx); err != nil {
		log.Warn("http server shutdown", "err", err)
	}
	stopRuns()
	wg.Wait()
	if failure != nil {
		return failure
	}
	log.Info("harvest serve stopped")
	return nil
}

// serveOnce runs what is due, makes delivery passes until nothing more is
// due now, and reports like crawl.
func serveOnce(ctx context.Context, e *env, d *daemon.Daemon, sender *alerts.Sender, log *slog.Logger) error {
	outs, err := d.RunOnce(ctx)
	if err != nil && ctx.Err() == nil {
		return err
	}
	bad := 0
	for _, o := range outs {
		if o.Err != nil {
			return o.Err
		}
		if o.Run == nil {
			continue
		}
		(&runner.Result{RunResult: store.RunResult{Run: *o.Run}}).WriteSummary(e.stdout)
		if o.Run.Status != store.StatusComplete {
			bad++
		}
	}
	if len(outs) == 0 {
		fmt.Fprintln(e.stdout, "nothing is due")
	}
	if sender != nil && ctx.Err() == nil {
		for i := 0; i < 100; i++ { // a bounded number of full batches
			sent, failed, err := sender.SendDue(ctx)
			if err != nil {
				log.Warn("webhook delivery pass failed", "err", err)
				break
			}
			if sent+failed == 0 || failed > 0 {
				break
			}
		}
	}
	if bad > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("harvest serve --once: %d of %d runs did not complete (see above)", bad, len(outs))}
	}
	return nil
}

// readToken returns the bearer token from the file, else $HARVEST_TOKEN.
func readToken(path string, getenv func(string) string) (string, error) {
	if path == "" {
		return strings.TrimSpace(getenv("HARVEST_TOKEN")), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return t, nil
}

// loopback reports whether addr listens on a loopback address only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
