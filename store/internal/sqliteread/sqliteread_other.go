//go:build !(linux && cgo)

package sqliteread

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable is returned by Open on this platform, where the weak
// references to go-sqlite3's SQLite are not made: callers take the
// driver's path.
var ErrUnavailable = errors.New("sqliteread: SQLite's C API is not reachable on this platform")

// Available is false on this platform.
func Available() bool { return false }

// Conn is never opened on this platform.
type Conn struct{}

// Open fails with ErrUnavailable on this platform.
func Open(path string, busy time.Duration) (*Conn, error) { return nil, ErrUnavailable }

func (c *Conn) Close() error                               { return nil }
func (c *Conn) Exec(ctx context.Context, sql string) error { return ErrUnavailable }
func (c *Conn) Query(ctx context.Context, sql string, args ...any) (*Rows, error) {
	return nil, ErrUnavailable
}

// Rows are never returned on this platform.
type Rows struct{}

func (r *Rows) Next() (bool, error) { return false, ErrUnavailable }
func (r *Rows) Columns() int        { return 0 }
func (r *Rows) Type(i int) int      { return Null }
func (r *Rows) Int64(i int) int64   { return 0 }
func (r *Rows) Text(i int) string   { return "" }
func (r *Rows) Close() error        { return nil }
