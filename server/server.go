// Package server is the HTTP side of "harvest serve": health, Prometheus
// metrics, runs, records and changes as JSON (paginated with a cursor),
// streamed export downloads, the feeds of new publications, a button to
// start a run, and a small HTML page for people.
//
// When a token is configured every endpoint except /healthz and /feeds/
// needs "Authorization: Bearer TOKEN"; the comparison is constant-time
// and the token is never logged.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/harvest-dev/harvest/daemon"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// Scheduler is what the server needs of the daemon. *daemon.Daemon
// implements it.
//
// Trigger starts a run of a source now and returns once it is claimed;
// it fails with an error wrapping daemon.ErrUnknownSource,
// daemon.ErrRunning or daemon.ErrShuttingDown. Status lists every
// configured source with its schedule state.
type Scheduler interface {
	Trigger(ctx context.Context, source string) error
	Status(ctx context.Context) ([]daemon.SourceStatus, error)
}

// Config is what a Server is built from. Store is required.
type Config struct {
	Store *store.Store
	// Scheduler, when set, provides source states and POST .../run.
	Scheduler Scheduler
	// Seeds give CSV exports their extra.NAME columns and feeds their
	// known sources; optional.
	Seeds []*seeds.Seed
	// Gatherer serves /metrics (a registry the caller owns); nil: no
	// /metrics.
	Gatherer prometheus.Gatherer
	// Token, when not empty, is the bearer token every endpoint except
	// /healthz and /feeds/ requires.
	Token  string
	Logger *slog.Logger     // access log and errors; default: discard
	Now    func() time.Time // default time.Now
	// BaseURL is the public URL of the server (for feed ids and links);
	// optional.
	BaseURL string
	// WriteTimeout bounds each write of a response (downloads extend it
	// as they stream); default 60s.
	WriteTimeout time.Duration
}

// Server holds the handlers.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	token   [sha256.Size]byte
	seedIDs map[string]*seeds.Seed
}

// New builds a Server from cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 60 * time.Second
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), seedIDs: map[string]*seeds.Seed{}}
	if cfg.Token != "" {
		s.token = sha256.Sum256([]byte(cfg.Token))
	}
	for _, sd := range cfg.Seeds {
		s.seedIDs[sd.ID] = sd
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	s.handle("GET /healthz", s.healthz, true)
	if s.cfg.Gatherer != nil {
		s.handle("GET /metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}).ServeHTTP, false)
	}
	s.handle("GET /api/sources", s.apiSources, false)
	s.handle("POST /api/sources/{id}/run", s.apiRunSource, false)
	s.handle("GET /api/runs", s.apiRuns, false)
	s.handle("GET /api/runs/{id}", s.apiRun, false)
	s.handle("GET /api/records", s.apiRecords, false)
	s.handle("GET /api/changes", s.apiChanges, false)
	s.handle("GET /export/{file}", s.exportFile, false)
	s.handle("GET /feeds/{file}", s.feed, true)
	s.handle("GET /{$}", s.index, false)
}

// handle registers h at pattern, behind the token unless public.
func (s *Server) handle(pattern string, h http.HandlerFunc, public bool) {
	var hh http.Handler = h
	if !public && s.cfg.Token != "" {
		hh = s.requireToken(h)
	}
	s.mux.Handle(pattern, hh)
}

// requireToken answers 401 unless the request carries the bearer token.
func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], s.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="harvest"`)
			writeError(w, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer TOKEN)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Handler returns the server's handler, with an access log that records
// method, path, status, bytes and duration (never headers).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		lw := &logWriter{ResponseWriter: w, status: http.StatusOK}
		s.mux.ServeHTTP(lw, r)
		s.log.Info("http", "method", r.Method, "path", r.URL.Path, "status", lw.status, "bytes", lw.bytes,
			"duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr)
	})
}

// NewHTTPServer returns an http.Server for h at addr with the timeouts a
// server facing the network needs: read-header, read, write, idle.
// Downloads extend their own write deadline as they stream.
func NewHTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return srv
}

// logWriter records the status and size of a response.
type logWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *logWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.cfg.Store.Ping(ctx); err != nil {
		s.log.Error("health check failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}
