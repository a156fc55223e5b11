//go:build linux && cgo

// Package sqliteread reads query results straight out of SQLite's memory,
// with no copy and no allocation per row: what database/sql and the
// go-sqlite3 driver cannot do, since driver.Rows.Next copies every text
// column into a new Go string and boxes every value. A CSV export of a
// million records spends about a third of its time on those copies
// (store/internal/exportbench).
//
// It does not link a SQLite of its own. Two copies of SQLite in one
// process corrupt databases (each keeps its own table of POSIX locks:
// https://www.sqlite.org/howtocorrupt.html, 2.2.1), so it calls the one
// go-sqlite3 compiles in, through weak references: the linker resolves
// them to go-sqlite3's functions when the program links go-sqlite3 (the
// store always does), and to nothing when it does not, in which case
// Available is false and callers take the driver's path.
//
// It only reads: a Conn opens the database file without creating it, sets
// PRAGMA query_only, and is meant for SELECT statements and the
// BEGIN/ROLLBACK of a read transaction. Its errors carry SQLite's message
// and result code as text (not as go-sqlite3's sqlite3.Error).
//
// The weak references need the host linker (cgo's default external
// linking; go-sqlite3 cannot be linked otherwise anyway): a program that
// forced -linkmode=internal without go-sqlite3 would fail to start.
package sqliteread

/*
#include <stdlib.h>

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef long long hr_int64;

// SQLite's C API (https://www.sqlite.org/c3ref/funclist.html), as much of
// it as a reader needs. Weak: see the package comment.
extern int sqlite3_open_v2(const char*, sqlite3**, int, const char*) __attribute__((weak));
extern int sqlite3_close_v2(sqlite3*) __attribute__((weak));
extern int sqlite3_busy_timeout(sqlite3*, int) __attribute__((weak));
extern const char* sqlite3_errmsg(sqlite3*) __attribute__((weak));
extern int sqlite3_exec(sqlite3*, const char*, int (*)(void*, int, char**, char**), void*, char**) __attribute__((weak));
extern void sqlite3_interrupt(sqlite3*) __attribute__((weak));
extern int sqlite3_prepare_v2(sqlite3*, const char*, int, sqlite3_stmt**, const char**) __attribute__((weak));
extern int sqlite3_bind_text(sqlite3_stmt*, int, const char*, int, void(*)(void*)) __attribute__((weak));
extern int sqlite3_bind_int64(sqlite3_stmt*, int, hr_int64) __attribute__((weak));
extern int sqlite3_step(sqlite3_stmt*) __attribute__((weak));
extern int sqlite3_column_count(sqlite3_stmt*) __attribute__((weak));
extern int sqlite3_column_type(sqlite3_stmt*, int) __attribute__((weak));
extern hr_int64 sqlite3_column_int64(sqlite3_stmt*, int) __attribute__((weak));
extern const unsigned char* sqlite3_column_text(sqlite3_stmt*, int) __attribute__((weak));
extern const void* sqlite3_column_blob(sqlite3_stmt*, int) __attribute__((weak));
extern int sqlite3_column_bytes(sqlite3_stmt*, int) __attribute__((weak));
extern int sqlite3_finalize(sqlite3_stmt*) __attribute__((weak));

static int hr_available(void) {
	return sqlite3_open_v2 && sqlite3_close_v2 && sqlite3_busy_timeout && sqlite3_errmsg &&
		sqlite3_exec && sqlite3_interrupt && sqlite3_prepare_v2 && sqlite3_bind_text &&
		sqlite3_bind_int64 && sqlite3_step && sqlite3_column_count && sqlite3_column_type &&
		sqlite3_column_int64 && sqlite3_column_text && sqlite3_column_blob &&
		sqlite3_column_bytes && sqlite3_finalize;
}

static int hr_open(const char* path, sqlite3** db, int busy_ms) {
	// SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX: the file must exist,
	// and a Conn is used by one goroutine at a time. (Read-only opening
	// of a WAL database fails when its -shm file is missing.)
	int rc = sqlite3_open_v2(path, db, 0x00000002 | 0x00008000, 0);
	if (rc == 0) {
		rc = sqlite3_busy_timeout(*db, busy_ms);
	}
	if (rc == 0) {
		rc = sqlite3_exec(*db, "PRAGMA query_only = ON", 0, 0, 0);
	}
	return rc;
}

static int hr_exec(sqlite3* db, const char* sql) {
	return sqlite3_exec(db, sql, 0, 0, 0);
}

static int hr_bind_text(sqlite3_stmt* st, int i, const char* p, int n) {
	static const char empty[1] = {0};
	// SQLITE_TRANSIENT: SQLite copies the value before the call returns.
	return sqlite3_bind_text(st, i, n ? p : empty, n, (void(*)(void*))-1);
}

// hr_col is one column of the current row. p points into SQLite's
// memory, valid until the next step, reset or finalize.
typedef struct {
	int typ;
	int n;
	hr_int64 i64;
	const void* p;
} hr_col;

// hr_step steps st and, on a row, fills cols with its first ncol
// columns: one crossing from Go a row.
// On anything but a row, cols is cleared: its pointers would be stale.
static int hr_step(sqlite3_stmt* st, int ncol, hr_col* cols) {
	int rc = sqlite3_step(st);
	if (rc != 100) { // SQLITE_ROW
		for (int i = 0; i < ncol; i++) {
			cols[i].typ = 5; // SQLITE_NULL
			cols[i].n = 0;
			cols[i].i64 = 0;
			cols[i].p = 0;
		}
		return rc;
	}
	for (int i = 0; i < ncol; i++) {
		hr_col* c = &cols[i];
		c->typ = sqlite3_column_type(st, i);
		c->i64 = 0;
		c->p = 0;
		c->n = 0;
		switch (c->typ) {
		case 1: // SQLITE_INTEGER
			c->i64 = sqlite3_column_int64(st, i);
			break;
		case 3: // SQLITE_TEXT
			c->p = sqlite3_column_text(st, i);
			c->n = sqlite3_column_bytes(st, i);
			break;
		case 4: // SQLITE_BLOB
			c->p = sqlite3_column_blob(st, i);
			c->n = sqlite3_column_bytes(st, i);
			break;
		}
		if (c->p == 0 && c->n > 0) {
			return 7; // SQLITE_NOMEM: SQLite could not give the value
		}
	}
	return rc;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"
)

// Result codes Rows.Next tells apart.
const (
	codeRow       = 100
	codeDone      = 101
	codeInterrupt = 9
)

// ErrUnavailable is returned by Open when the program does not link the
// SQLite library of go-sqlite3 (or this platform cannot reach it).
var ErrUnavailable = errors.New("sqliteread: SQLite's C API is not linked into this program")

var errClosed = errors.New("the connection is closed")

// Available reports whether Open can work: whether the program links
// go-sqlite3's SQLite.
func Available() bool { return C.hr_available() != 0 }

// A Conn is a connection of its own to a database file. It is not safe
// for concurrent use: one goroutine at a time, and at most one Rows open
// at a time.
type Conn struct {
	db   *C.sqlite3
	path string
}

// Open opens the existing database file at path, waiting up to busy for
// a lock another connection holds.
func Open(path string, busy time.Duration) (*Conn, error) {
	if !Available() {
		return nil, ErrUnavailable
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var db *C.sqlite3
	rc := C.hr_open(cpath, &db, C.int(busy.Milliseconds()))
	if rc != 0 {
		err := fmt.Errorf("open %s: %s (code %d)", path, errmsg(db), int(rc))
		if db != nil {
			C.sqlite3_close_v2(db)
		}
		return nil, err
	}
	return &Conn{db: db, path: path}, nil
}

// Close closes the connection. A transaction still open is rolled back.
func (c *Conn) Close() error {
	if c.db == nil {
		return nil
	}
	rc := C.sqlite3_close_v2(c.db)
	c.db = nil
	if rc != 0 {
		return fmt.Errorf("close %s: code %d", c.path, int(rc))
	}
	return nil
}

// Exec runs sql, which returns no rows (BEGIN, ROLLBACK).
func (c *Conn) Exec(ctx context.Context, sql string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.db == nil {
		return fmt.Errorf("%s: %w", sql, errClosed)
	}
	csql := C.CString(sql)
	defer C.free(unsafe.Pointer(csql))
	if rc := C.hr_exec(c.db, csql); rc != 0 {
		return fmt.Errorf("%s: %s (code %d)", sql, errmsg(c.db), int(rc))
	}
	return nil
}

// Query prepares sql, binds args (each a string or an int64, in order)
// and returns its rows. When ctx is done the statement is interrupted and
// Next returns ctx's error.
func (c *Conn) Query(ctx context.Context, sql string, args ...any) (*Rows, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.db == nil {
		return nil, fmt.Errorf("query %q: %w", sql, errClosed)
	}
	csql := C.CString(sql)
	defer C.free(unsafe.Pointer(csql))
	var st *C.sqlite3_stmt
	if rc := C.sqlite3_prepare_v2(c.db, csql, -1, &st, nil); rc != 0 {
		return nil, fmt.Errorf("prepare %q: %s (code %d)", sql, errmsg(c.db), int(rc))
	}
	r := &Rows{c: c, st: st, sql: sql, ctx: ctx}
	for i, a := range args {
		var rc C.int
		switch v := a.(type) {
		case string:
			if len(v) > math.MaxInt32 {
				r.Close()
				return nil, fmt.Errorf("query %q: argument %d is %d bytes, more than SQLite takes", sql, i+1, len(v))
			}
			rc = C.hr_bind_text(st, C.int(i+1), (*C.char)(unsafe.Pointer(unsafe.StringData(v))), C.int(len(v)))
		case int64:
			rc = C.sqlite3_bind_int64(st, C.int(i+1), C.hr_int64(v))
		default:
			r.Close()
			return nil, fmt.Errorf("query %q: argument %d is a %T; give a string or an int64", sql, i+1, a)
		}
		if rc != 0 {
			err := fmt.Errorf("query %q: bind argument %d: %s (code %d)", sql, i+1, errmsg(c.db), int(rc))
			r.Close()
			return nil, err
		}
	}
	r.ncol = int(C.sqlite3_column_count(st))
	if r.ncol > 0 {
		r.cols = (*C.hr_col)(C.calloc(C.size_t(r.ncol), C.size_t(unsafe.Sizeof(C.hr_col{}))))
		if r.cols == nil {
			r.Close()
			return nil, fmt.Errorf("query %q: out of memory for %d columns", sql, r.ncol)
		}
		r.view = unsafe.Slice(r.cols, r.ncol)
	}
	db, interrupted := c.db, make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		C.sqlite3_interrupt(db)
	})
	r.stop = func() {
		if !stop() {
			<-interrupted // it ran or runs now: let it end before db may close
		}
	}
	return r, nil
}

// Rows are the results of a query, read one row at a time. The strings
// Text returns point into SQLite's memory: they are valid until the next
// call of Next or Close, and must be copied (strings.Clone) to be kept.
// Once Next has returned false every column reads as NULL. Rows must be
// closed before their Conn.
type Rows struct {
	c    *Conn
	st   *C.sqlite3_stmt
	sql  string
	ctx  context.Context
	stop func() // ends the interrupt on ctx; see Query
	done bool   // Next has returned false
	// stepped is whether Next has stepped the statement once.
	stepped bool
	ncol    int
	cols    *C.hr_col
	view    []C.hr_col
}

// Next moves to the next row. It returns false and a nil error after the
// last row (and again at every later call), false and the error when the
// query fails, and false and an error when the Rows are closed.
func (r *Rows) Next() (bool, error) {
	if r.st == nil {
		return false, fmt.Errorf("query %q: rows are closed", r.sql)
	}
	if r.c.db == nil {
		return false, fmt.Errorf("query %q: %w", r.sql, errClosed)
	}
	if r.done {
		return false, nil // stepping again would run the query again
	}
	rc := C.hr_step(r.st, C.int(r.ncol), r.cols)
	if !r.stepped {
		// SQLite drops an interrupt that comes while none of the
		// connection's statements runs, as before this first step: a
		// cancellation from then on is seen here. Later ones find the
		// statement running and interrupt it.
		r.stepped = true
		if err := r.ctx.Err(); err != nil {
			r.done = true
			return false, err
		}
	}
	switch rc {
	case codeRow:
		return true, nil
	case codeDone:
		r.done = true
		return false, nil
	}
	r.done = true
	if err := r.ctx.Err(); err != nil && rc == codeInterrupt {
		return false, err
	}
	return false, fmt.Errorf("query %q: %s (code %d)", r.sql, errmsg(r.c.db), int(rc))
}

// Columns is the number of columns of a row.
func (r *Rows) Columns() int { return r.ncol }

// Type is the type of column i of the current row (Integer, Text, ...).
func (r *Rows) Type(i int) int { return int(r.view[i].typ) }

// Int64 is column i of the current row when it is an INTEGER, else 0.
func (r *Rows) Int64(i int) int64 { return int64(r.view[i].i64) }

// Text is column i of the current row when it is TEXT or a BLOB, else
// "". It is not a copy: see Rows.
func (r *Rows) Text(i int) string {
	c := &r.view[i]
	if c.n == 0 {
		return ""
	}
	return unsafe.String((*byte)(c.p), int(c.n))
}

// Close finalizes the statement. Rows must be closed on every path.
func (r *Rows) Close() error {
	if r.st == nil {
		return nil
	}
	if r.stop != nil {
		r.stop()
	}
	C.sqlite3_finalize(r.st)
	r.st = nil
	if r.cols != nil {
		C.free(unsafe.Pointer(r.cols))
		r.cols, r.view = nil, nil
	}
	return nil
}

func errmsg(db *C.sqlite3) string {
	if db == nil {
		return "out of memory"
	}
	return C.GoString(C.sqlite3_errmsg(db))
}
