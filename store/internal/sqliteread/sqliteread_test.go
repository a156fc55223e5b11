//go:build linux && cgo

package sqliteread

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the SQLite this package reads through
)

// newDB creates a WAL database file as the store does, with table t, and
// returns its path and a database/sql handle on it for writing.
func newDB(t *testing.T) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := sql.Open("sqlite3", path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, b BLOB, f REAL, x)`); err != nil {
		t.Fatal(err)
	}
	return path, db
}

func open(t *testing.T, path string) *Conn {
	t.Helper()
	c, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func TestAvailableWithGoSQLite3(t *testing.T) {
	if !Available() {
		t.Fatal("Available() = false in a program that links go-sqlite3: the weak references did not resolve")
	}
}

// TestValues: every type reads back as database/sql wrote it, arguments
// bind as given (an empty string is ” and not NULL), and a value larger
// than a page (an overflow chain) reads whole.
func TestValues(t *testing.T) {
	path, db := newDB(t)
	big := strings.Repeat("Migración & trata — ", 3000) // ~66 KB, past one 4 KiB page
	rows := []struct {
		k string
		n any
		b any
		f any
		x any
	}{
		{"a", int64(-1 << 62), []byte{0, 1, 2, 0}, 1.5, "texto con acentos ñ"},
		{"b", nil, nil, nil, nil},
		{"c", int64(0), []byte{}, 0.0, ""},
		{"d", int64(7), []byte(big), -2.25, int64(42)},
	}
	for _, r := range rows {
		if _, err := db.Exec(`INSERT INTO t VALUES (?, ?, ?, ?, ?)`, r.k, r.n, r.b, r.f, r.x); err != nil {
			t.Fatal(err)
		}
	}
	c := open(t, path)
	ctx := context.Background()
	q, err := c.Query(ctx, `SELECT k, n, b, f, x FROM t WHERE k >= ? AND n IS NOT ? ORDER BY k`, "", int64(99))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.Columns() != 5 {
		t.Fatalf("Columns() = %d, want 5", q.Columns())
	}
	type got struct {
		k          string
		nType      int
		n          int64
		bType      int
		b          string
		fType, xTy int
		x          string
	}
	var all []got
	for {
		ok, err := q.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		all = append(all, got{strings.Clone(q.Text(0)), q.Type(1), q.Int64(1), q.Type(2), strings.Clone(q.Text(2)),
			q.Type(3), q.Type(4), strings.Clone(q.Text(4))})
	}
	want := []got{
		{"a", Integer, -1 << 62, Blob, "\x00\x01\x02\x00", Float, Text, "texto con acentos ñ"},
		{"b", Null, 0, Null, "", Null, Null, ""},
		{"c", Integer, 0, Blob, "", Float, Text, ""},
		{"d", Integer, 7, Blob, big, Float, Integer, ""},
	}
	if len(all) != len(want) {
		t.Fatalf("%d rows, want %d", len(all), len(want))
	}
	for i := range want {
		if all[i] != want[i] {
			g, w := all[i], want[i]
			g.b, w.b = g.b[:min(len(g.b), 20)], w.b[:min(len(w.b), 20)]
			t.Errorf("row %d = %+v (blob %d bytes)\nwant %+v (blob %d bytes)", i, g, len(all[i].b), w, len(want[i].b))
		}
	}

	// Past the last row Next stays at the end (stepping a finished
	// statement would run it again), every column reads as NULL (no
	// pointer into memory SQLite may have let go), and once closed it
	// says so.
	if ok, err := q.Next(); ok || err != nil {
		t.Fatalf("Next past the end: ok %v, err %v; want false, nil", ok, err)
	}
	if q.Type(4) != Null || q.Text(2) != "" || q.Int64(1) != 0 {
		t.Fatalf("past the end: column types %d, %d, text %q; want NULLs", q.Type(4), q.Type(2), q.Text(2))
	}
	q.Close()
	if ok, err := q.Next(); ok || err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Next after Close: ok %v, err %v; want an error saying the rows are closed", ok, err)
	}

	// An empty string argument is '' (row c's x), not NULL.
	q2, err := c.Query(ctx, `SELECT k FROM t WHERE x = ?`, "")
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if ok, err := q2.Next(); !ok || err != nil || q2.Text(0) != "c" {
		t.Fatalf("WHERE x = '': ok %v, err %v, k %q; want row c", ok, err, q2.Text(0))
	}
}

// TestOneSnapshot: inside BEGIN, a Conn goes on seeing the database as it
// was at its first read, whatever another connection commits; after
// ROLLBACK it sees the commit.
func TestOneSnapshot(t *testing.T) {
	path, db := newDB(t)
	if _, err := db.Exec(`INSERT INTO t (k) VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	c := open(t, path)
	ctx := context.Background()
	count := func() int64 {
		t.Helper()
		q, err := c.Query(ctx, `SELECT COUNT(*) FROM t`)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if ok, err := q.Next(); !ok || err != nil {
			t.Fatalf("COUNT: ok %v, err %v", ok, err)
		}
		return q.Int64(0)
	}
	if err := c.Exec(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("count = %d, want 1", n)
	}
	if _, err := db.Exec(`INSERT INTO t (k) VALUES ('b')`); err != nil {
		t.Fatalf("a writer while the Conn reads: %v", err)
	}
	if n := count(); n != 1 {
		t.Fatalf("inside the read transaction count = %d after another commit, want 1", n)
	}
	if err := c.Exec(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("after ROLLBACK count = %d, want 2", n)
	}
}

// TestCancel: a query that would run for minutes stops soon after its
// context is cancelled, with the context's error, and the Conn stays
// usable.
func TestCancel(t *testing.T) {
	path, _ := newDB(t)
	c := open(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q, err := c.Query(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n`)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	var nerr error
	for {
		ok, err := q.Next()
		if err != nil || !ok {
			nerr = err
			break
		}
		if rows++; rows == 10 {
			cancel()
		}
	}
	q.Close()
	if !errors.Is(nerr, context.Canceled) {
		t.Fatalf("after %d rows Next = %v, want context.Canceled", rows, nerr)
	}
	if _, err := c.Query(ctx, `SELECT 1`); !errors.Is(err, context.Canceled) {
		t.Fatalf("Query with a cancelled context = %v, want context.Canceled", err)
	}

	// Cancelled after Query and before the first step, when SQLite would
	// drop the interrupt (no statement of the connection runs yet).
	ctx2, cancel2 := context.WithCancel(context.Background())
	q, err = c.Query(ctx2, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n`)
	if err != nil {
		t.Fatal(err)
	}
	cancel2()
	time.Sleep(10 * time.Millisecond) // the interrupt has come and gone
	ok, err := q.Next()
	q.Close()
	if ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("first Next after a cancel before it: ok %v, err %v; want context.Canceled", ok, err)
	}

	q, err = c.Query(context.Background(), `SELECT 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if ok, err := q.Next(); !ok || err != nil || q.Int64(0) != 1 {
		t.Fatalf("the Conn after a cancelled query: ok %v, err %v", ok, err)
	}
}

// TestErrors: failures name what failed: the file, the SQL, the argument.
func TestErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.db")
	if _, err := Open(missing, time.Second); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Open of a missing file = %v; want an error naming it (it is never created)", err)
	}
	path, _ := newDB(t)
	c := open(t, path)
	ctx := context.Background()
	if _, err := c.Query(ctx, `SELECT nope FROM t`); err == nil || !strings.Contains(err.Error(), "SELECT nope FROM t") ||
		!strings.Contains(err.Error(), "no such column") {
		t.Errorf("bad SQL: %v", err)
	}
	if _, err := c.Query(ctx, `SELECT k FROM t WHERE n = ?`, 1.5); err == nil || !strings.Contains(err.Error(), "argument 1 is a float64") {
		t.Errorf("float argument: %v", err)
	}
	if err := c.Exec(ctx, `ROLLBACK`); err == nil || !strings.Contains(err.Error(), "ROLLBACK") {
		t.Errorf("ROLLBACK outside a transaction: %v", err)
	}
	if err := c.Exec(ctx, `CREATE TABLE w (a)`); err == nil || !strings.Contains(err.Error(), "CREATE TABLE w") ||
		!strings.Contains(err.Error(), "readonly") {
		t.Errorf("a write through a reading Conn: %v; want it refused as read-only (query_only)", err)
	}
	other, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	q2, err := other.Query(ctx, `SELECT 1`)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if ok, err := q2.Next(); ok || err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Next on Rows of a closed Conn: ok %v, err %v", ok, err)
	}
	q2.Close()
	closed, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if err := closed.Exec(ctx, `BEGIN`); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Exec on a closed Conn: %v", err)
	}
	if _, err := closed.Query(ctx, `SELECT 1`); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Query on a closed Conn: %v", err)
	}
}
