package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/harvest-dev/harvest/store/internal/sqliteread"
)

// eachRecordRowDirect is EachRecordRow read through sqliteread: the same
// queries in one read transaction, on a connection of its own, with each
// row's strings pointing into SQLite's memory instead of copied into Go
// strings. The driver copies and boxes every column (nine allocations a
// row); without them a CSV export of a million records takes about a
// third less time (store/internal/exportbench).
func (s *Store) eachRecordRowDirect(ctx context.Context, f RecordFilter, fn func(*RecordRow) error) error {
	if s.closed.Load() {
		return fmt.Errorf("list records: %w", errStoreClosed)
	}
	plan, err := newRecordPlan(f)
	if err != nil {
		return fmt.Errorf("list records: %w", err)
	}
	c, err := sqliteread.Open(s.path, busyTimeout)
	if err != nil {
		return fmt.Errorf("list records: %w", err)
	}
	defer c.Close()
	// One read transaction, as eachRow: every query sees one snapshot.
	if err := c.Exec(ctx, `BEGIN DEFERRED`); err != nil {
		return fmt.Errorf("list records: %w", err)
	}
	defer c.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
	sources, err := directStrings(ctx, c, recordSourcesQuery)
	if err != nil {
		return fmt.Errorf("list records: %w", err)
	}
	sources = onlySources(sources, f.Sources)
	if len(sources) == 0 {
		return nil
	}
	sweeps, err := directSweeps(ctx, c)
	if err != nil {
		return fmt.Errorf("list records: %w", err)
	}
	args := []any{"", plan.keys}
	if plan.keys == "" {
		args = args[:1]
	}
	var r RecordRow // reused: fn may not keep it
	for _, source := range sources {
		args[0] = source
		fnErr, err := eachSourceRecordDirect(ctx, c, plan.query(sweeps[source]), args, source, &r, fn)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return ctxErr
			}
			return fmt.Errorf("list records: %w", err)
		}
		if fnErr != nil {
			return fnErr
		}
	}
	// The interrupt that cancelling ctx sends may come after the last
	// step: a cancelled walk still never reports success.
	return ctx.Err()
}

// eachSourceRecordDirect runs query for one source and calls fn with
// each row in r. fn's error is returned as fnErr, as is; the query's or
// a row's as err.
func eachSourceRecordDirect(ctx context.Context, c *sqliteread.Conn, query string, args []any,
	source string, r *RecordRow, fn func(*RecordRow) error) (fnErr, err error) {
	q, err := c.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", source, err)
	}
	defer q.Close()
	for n := 1; ; n++ {
		ok, err := q.Next()
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", source, err)
		}
		if !ok {
			return nil, nil
		}
		// Cancelling ctx interrupts the statement, but the interrupt
		// lands when its goroutine runs; this bounds the rows after it.
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if err := recordRowDirect(q, r, source); err != nil {
			return nil, err
		}
		if err := fn(r); err != nil {
			return err, nil
		}
	}
}

// recordRowDirect sets r from the current row of recordColumns of
// source, as recordRowView sets it from the driver's values.
func recordRowDirect(q *sqliteread.Rows, r *RecordRow, source string) error {
	if q.Type(0) != sqliteread.Text || q.Type(1) != sqliteread.Text ||
		(q.Type(6) != sqliteread.Text && q.Type(6) != sqliteread.Blob) {
		return fmt.Errorf("source %s key %q: %w", source, q.Text(0), errColumn)
	}
	r.source, r.key, r.contentHash = source, q.Text(0), q.Text(1)
	r.firstSeen, r.lastSeen, r.lastChanged = directNanos(q, 2), directNanos(q, 3), directNanos(q, 4)
	r.removedAt, r.removed = directNanos(q, 5), q.Type(5) != sqliteread.Null
	if err := decodeRowContent(q.Text(6), r); err != nil {
		return fmt.Errorf("source %s key %s: decode: %w", source, r.key, err)
	}
	return nil
}

// directNanos is nanosValue for column i: an INTEGER of unix
// nanoseconds, or the zero time.
func directNanos(q *sqliteread.Rows, i int) time.Time {
	if q.Type(i) != sqliteread.Integer {
		return time.Time{}
	}
	return time.Unix(0, q.Int64(i)).UTC()
}

// directStrings returns the one text column of query's rows, copied.
func directStrings(ctx context.Context, c *sqliteread.Conn, query string) ([]string, error) {
	q, err := c.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	var out []string
	for {
		ok, err := q.Next()
		if err != nil || !ok {
			return out, err
		}
		out = append(out, strings.Clone(q.Text(0)))
	}
}

// directSweeps is readSweeps on c.
func directSweeps(ctx context.Context, c *sqliteread.Conn) (map[string]sweep, error) {
	q, err := c.Query(ctx, readSweepsQuery)
	if err != nil {
		return nil, fmt.Errorf("read sweeps: %w", err)
	}
	defer q.Close()
	out := map[string]sweep{}
	for {
		ok, err := q.Next()
		if err != nil {
			return nil, fmt.Errorf("read sweeps: %w", err)
		}
		if !ok {
			return out, nil
		}
		out[strings.Clone(q.Text(0))] = sweep{run: q.Int64(1), at: q.Int64(2)}
	}
}
