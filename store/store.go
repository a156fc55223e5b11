// Package store keeps what harvest has seen: runs, the pages of each run,
// the current state and every content version of each record, and the
// append-only list of changes that exports and alerts consume.
//
// It is backed by one SQLite file (mattn/go-sqlite3, WAL journal, a busy
// timeout, foreign keys on). A run's records are applied in one
// transaction (ApplyRun) which computes the diff as DESIGN.md "Runs and
// change semantics" defines it. The SQL is deliberately plain so that the
// same shape can later live in PostgreSQL behind the same methods.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" driver

	"github.com/harvest-dev/harvest/store/internal/sqliteread"
)

// ErrNotFound is returned (wrapped) when a run asked for by id does not exist.
var ErrNotFound = errors.New("not found")

// Options are the parts a Store is built with; zero values get defaults.
type Options struct {
	// Now is the clock stamped on changes, versions and record
	// bookkeeping (first_seen, last_seen, last_changed, removed_at).
	// Default time.Now.
	Now func() time.Time
	// Logger receives one line per applied run. Default: discard.
	Logger *slog.Logger
	// OnChange, when set, is called inside ApplyRun's transaction for
	// every change, in change id order, after the change row and its
	// version are written (c.ID is set). Rows are written in batches, so
	// the hook of a change may run after later records of the run were
	// processed. It is the place to write outbox rows in the same
	// transaction; an error rolls the whole run back and is returned by
	// ApplyRun.
	OnChange func(ctx context.Context, tx *sql.Tx, c *Change) error
	// OnRun, when set, is called inside ApplyRun's transaction once the
	// run row holds its final status and counts (operator alerts for
	// failed, blocked or suspect runs). An error rolls the run back.
	OnRun func(ctx context.Context, tx *sql.Tx, r *Run) error
}

// Store is a harvest database. Its methods are safe for concurrent use;
// ApplyRun calls are serialised by SQLite's write lock.
type Store struct {
	db     *sql.DB
	path   string // the database file, absolute (sqliteread opens it again)
	closed atomic.Bool
	opts   Options
	log    *slog.Logger
	// direct is whether EachRecordRow reads through sqliteread, where the
	// program links go-sqlite3's SQLite (tests turn it off to exercise
	// the driver's path).
	direct bool
	// keysPerRead is how many stored keys a run reads at a time to find
	// those it missed (tests make it small).
	keysPerRead int
	// keySetSweeps counts the runs that found every current record seen
	// by the digest of their keys alone (keyset.go), for tests.
	keySetSweeps atomic.Int64
}

// busyTimeout is how long a connection waits for another writer.
const busyTimeout = 10 * time.Second

// Open opens (creating it if needed) the SQLite database file at path and
// brings its schema up to date. It fails with a clear error when the file
// holds a newer schema than this binary knows.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("open store: empty database path")
	}
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open store %s: give a file path (an in-memory database is not shared between connections)", path)
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open store %s: the path may not contain '?' or '#'", path)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Every connection, opened now or later (database/sql's pool,
	// sqliteread), opens the same file whatever the working directory.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if strings.ContainsAny(abs, "?#") {
		return nil, fmt.Errorf("open store %s: its full path %s may not contain '?' or '#'", path, abs)
	}
	if err := createDB(ctx, abs); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// _txlock=immediate: every transaction takes the write lock at BEGIN,
	// so two writers wait on busy_timeout instead of failing on a lock
	// upgrade. Reads outside transactions are unaffected (WAL).
	//
	// _mutex=no opens each connection in SQLite's multi-thread mode: no
	// lock around every call on a connection. database/sql already hands
	// a connection to one goroutine at a time (and a RunSession is used by
	// one goroutine at a time); the one call the driver makes from another
	// goroutine, sqlite3_interrupt on cancellation, is documented as safe
	// from any thread. The locks cost ~20 lock/unlock pairs a row read,
	// ~8% of a large CSV export (store/internal/exportbench).
	//
	// The rule this puts on the package: close every Rows and Stmt on
	// every path. go-sqlite3 finalizes a statement nobody closed from the
	// garbage collector's finalizer goroutine, and without the lock that
	// could run while the statement's connection is in use elsewhere (a
	// Rows or Stmt of a sql.Conn or Tx that is still working). Statements
	// prepared on the *sql.DB are safe either way (database/sql keeps them
	// reachable from their connection), as are a Tx's own (closed when it
	// ends).
	dsn := fmt.Sprintf("%s?_journal_mode=WAL&_busy_timeout=%d&_foreign_keys=on&_synchronous=NORMAL&_txlock=immediate&_mutex=no",
		abs, busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, path: abs, opts: opts, log: opts.Logger, keysPerRead: 4096, direct: sqliteread.Available()}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// NewPageSize is the page size of a database file Open creates. Rows of
// about a kilobyte (a record's version, state and change) take fewer WAL
// frames, system calls and b-tree pages at 16 KiB than at SQLite's
// default 4 KiB: a first load of 40,000 records was about 20% faster
// here. A file that exists keeps its page size.
const NewPageSize = 16384

// createDB gives a database file that does not exist yet (or is empty)
// its page size and WAL mode before anything else is written, which
// fixes the page size.
func createDB(ctx context.Context, path string) error {
	// Two processes creating one file at once: switching a new file to
	// WAL takes an exclusive lock that SQLite does not wait for, so the
	// loser sees "database is locked" at once. It waits and tries again;
	// by then the file is made (page_size is a no-op, the table exists).
	deadline := time.Now().Add(busyTimeout)
	for {
		err := createDBOnce(ctx, path)
		var se sqlite3.Error
		if err == nil || !errors.As(err, &se) || (se.Code != sqlite3.ErrBusy && se.Code != sqlite3.ErrLocked) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create database: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func createDBOnce(ctx context.Context, path string) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("create database: %w", err)
	}
	db, err := sql.Open("sqlite3", fmt.Sprintf("%s?_busy_timeout=%d", path, busyTimeout.Milliseconds()))
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, fmt.Sprintf(`PRAGMA page_size = %d; PRAGMA journal_mode = WAL;
		CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`, NewPageSize))
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	return db.Close()
}

// Close closes the database.
func (s *Store) Close() error {
	s.closed.Store(true)
	return s.db.Close()
}

// errStoreClosed is what a store's own connections (sqliteread) return
// after Close, as database/sql's do.
var errStoreClosed = errors.New("the store is closed")

// SchemaVersion is the schema version this binary writes.
func SchemaVersion() int { return len(migrations) }

// migrate applies the pending migration steps, each in its own
// transaction with the version update.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	for {
		done, err := s.migrateStep(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// migrateStep applies the next migration, if any; done reports that the
// schema is current. The version is read inside the (immediate)
// transaction so that two processes opening one file at once do not apply
// a step twice.
func (s *Store) migrateStep(ctx context.Context) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	var version int
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return false, fmt.Errorf("migrate: init version: %w", err)
		}
	case err != nil:
		return false, fmt.Errorf("migrate: read version: %w", err)
	}
	if version > len(migrations) {
		return false, fmt.Errorf("database schema version %d is newer than this harvest knows (%d): use a newer harvest", version, len(migrations))
	}
	if version == len(migrations) {
		return true, tx.Commit()
	}
	m := migrations[version]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migrate to schema version %d: %w", version+1, err)
	}
	if m.fill != nil {
		if err := m.fill(ctx, tx); err != nil {
			return false, fmt.Errorf("migrate to schema version %d: %w", version+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, version+1); err != nil {
		return false, fmt.Errorf("migrate to schema version %d: record version: %w", version+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate to schema version %d: commit: %w", version+1, err)
	}
	s.log.Info("store schema migrated", "version", version+1)
	return false, nil
}

// nanos is the stored form of a time: unix nanoseconds, NULL for zero.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos; times come back in UTC.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
