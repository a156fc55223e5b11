package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/harvest-dev/harvest/record"
)

// recordColumns are the columns EachRecord reads, from records r joined
// with versions v, in the order recordRow takes them, under the source's
// last sweep sw (seen.go). Its two numbers are written into the SQL,
// where they cost nothing per row.
func recordColumns(sw sweep) string {
	return `r.key, r.content_hash, r.first_seen, ` +
		effLastSeen(strconv.FormatInt(sw.run, 10), strconv.FormatInt(sw.at, 10)) +
		`, r.last_changed, r.removed_at, CAST(v.content AS TEXT)`
}

// EachRecord calls fn for each record selected by f, ordered by source
// and key, with its bookkeeping filled. Rows are streamed, not loaded at
// once; fn must not keep the record pointer past the call (the lists,
// Extra map and strings it points to are its own and may be kept). An
// error from fn stops the walk and is returned as is.
//
// It reads the rows through the SQLite driver itself rather than
// database/sql's Scan: an export of a million records is bound by the
// per-row cost here (store/internal/exportbench).
func (s *Store) EachRecord(ctx context.Context, f RecordFilter, fn func(*record.Record) error) error {
	var r record.Record // reused: fn may not keep it
	return s.eachRow(ctx, f, func(dest []driver.Value, source string) (fnErr, err error) {
		if err := recordRow(dest, &r, source); err != nil {
			return nil, err
		}
		return fn(&r), nil
	})
}

// EachRecordRow is EachRecord yielding each record as a RecordRow, a view
// decoded without building a record.Record: what a CSV export, which
// writes each field once, reads. fn must not keep the row, its strings or
// the slices its methods return past the call: they point into SQLite's
// memory (eachRecordRowDirect) where this platform allows it.
func (s *Store) EachRecordRow(ctx context.Context, f RecordFilter, fn func(*RecordRow) error) error {
	if s.direct {
		return s.eachRecordRowDirect(ctx, f, fn)
	}
	var r RecordRow // reused: fn may not keep it
	return s.eachRow(ctx, f, func(dest []driver.Value, source string) (fnErr, err error) {
		if err := recordRowView(dest, &r, source); err != nil {
			return nil, err
		}
		return fn(&r), nil
	})
}

// A rowVisitor takes one row of recordColumns of source. It returns fn's
// error as fnErr, as is, and its own (a malformed row) as err.
type rowVisitor func(dest []driver.Value, source string) (fnErr, err error)

// A recordPlan is the per-source query of EachRecord and EachRecordRow
// for a filter: recordColumns of one source's records, in key order.
type recordPlan struct {
	where []string
	keys  string // f.Keys as a JSON array, or "" for all keys
}

func newRecordPlan(f RecordFilter) (recordPlan, error) {
	p := recordPlan{where: []string{"r.source = ?"}}
	if len(f.Keys) > 0 {
		b, err := json.Marshal(f.Keys)
		if err != nil {
			return p, err
		}
		p.keys = string(b)
		p.where = append(p.where, "r.key IN (SELECT value FROM json_each(?))")
	}
	if !f.IncludeRemoved {
		p.where = append(p.where, "r.removed_at IS NULL")
	}
	return p, nil
}

// query is the SELECT of one source's rows under its sweep sw; its
// parameters are the source, then the keys when the plan has them.
func (p recordPlan) query(sw sweep) string {
	return `SELECT ` + recordColumns(sw) + ` FROM records r JOIN versions v ON v.id = r.version_id` +
		whereClause(p.where) + ` ORDER BY r.key`
}

// eachRow runs the query of EachRecord and calls visit for each row.
func (s *Store) eachRow(ctx context.Context, f RecordFilter, visit rowVisitor) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("list records: %w", err)
	}
	defer conn.Close()
	// One read transaction: every query below sees the same snapshot of
	// the store, whatever runs commit meanwhile.
	if _, err := conn.ExecContext(ctx, `BEGIN DEFERRED`); err != nil {
		return fmt.Errorf("list records: begin: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
	// One query per source, in source order: the source is then a
	// parameter, not a column copied out of every row.
	sources, err := recordSources(ctx, conn, f.Sources)
	if err != nil {
		return fmt.Errorf("list records: %w", err)
	}
	if len(sources) == 0 {
		return nil
	}
	plan, err := newRecordPlan(f)
	if err != nil {
		return fmt.Errorf("list records: %w", err)
	}
	sweeps, err := readSweeps(ctx, conn)
	if err != nil {
		return fmt.Errorf("list records: %w", err)
	}
	var fnErr error // fn's error, returned as is
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot query", dc)
		}
		args := []driver.NamedValue{{Ordinal: 1}, {Ordinal: 2, Value: plan.keys}}
		if plan.keys == "" {
			args = args[:1]
		}
		dest := make([]driver.Value, 7)
		for _, source := range sources {
			args[0].Value = source
			var err error
			if fnErr, err = eachSourceRecord(ctx, q, plan.query(sweeps[source]), args, dest, source, visit); err != nil || fnErr != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return ctx.Err()
		}
		return fmt.Errorf("list records: %w", err)
	}
	return fnErr
}

// eachSourceRecord runs query for one source and calls visit for each
// row. It stops at the first error: fn's is returned as fnErr, as is; its
// own (the query, a row) as err.
func eachSourceRecord(ctx context.Context, q driver.QueryerContext, query string, args []driver.NamedValue,
	dest []driver.Value, source string, visit rowVisitor) (fnErr, err error) {
	rows, err := q.QueryContext(ctx, query, args)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", source, err)
	}
	defer rows.Close()
	for {
		if err := rows.Next(dest); err != nil {
			if err == io.EOF {
				return nil, nil
			}
			return nil, fmt.Errorf("source %s: %w", source, err)
		}
		if fnErr, err := visit(dest, source); err != nil || fnErr != nil {
			return fnErr, err
		}
	}
}

// recordSourcesQuery lists the sources that have records, in order, each
// found by one seek of the primary key (source, key). SELECT DISTINCT
// source reads every key of the store instead: ~0.1 s of a million-record
// export.
const recordSourcesQuery = `WITH RECURSIVE s(source) AS (
	SELECT MIN(source) FROM records
	UNION ALL
	SELECT (SELECT MIN(source) FROM records WHERE source > s.source) FROM s WHERE s.source IS NOT NULL)
SELECT source FROM s WHERE source IS NOT NULL ORDER BY source`

// recordSources returns the sources that have records (of only, when it
// is not empty), in order.
func recordSources(ctx context.Context, db querier, only []string) ([]string, error) {
	all, err := queryStrings(ctx, db, recordSourcesQuery)
	if err != nil {
		return nil, err
	}
	return onlySources(all, only), nil
}

// onlySources is all without the sources not in only, or all when only
// is empty.
func onlySources(all, only []string) []string {
	if len(only) == 0 {
		return all
	}
	return slices.DeleteFunc(all, func(s string) bool { return !slices.Contains(only, s) })
}

var errColumn = errors.New("unexpected column type")

// recordRow sets r from one row of recordColumns of source.
func recordRow(dest []driver.Value, r *record.Record, source string) error {
	key, ok1 := dest[0].(string)
	hash, ok2 := dest[1].(string)
	content, ok3 := dest[6].(string)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("source %s key %v: %w", source, dest[0], errColumn)
	}
	*r = record.Record{Source: source, Key: key, ContentHash: hash,
		FirstSeen: nanosValue(dest[2]), LastSeen: nanosValue(dest[3]), LastChanged: nanosValue(dest[4])}
	if dest[5] != nil {
		t := nanosValue(dest[5])
		r.RemovedAt = &t
	}
	if err := decodeContent(content, r); err != nil {
		return fmt.Errorf("source %s key %s: decode: %w", source, key, err)
	}
	return nil
}

// recordRowView sets r from one row of recordColumns of source, as
// recordRow sets a record.
func recordRowView(dest []driver.Value, r *RecordRow, source string) error {
	key, ok1 := dest[0].(string)
	hash, ok2 := dest[1].(string)
	content, ok3 := dest[6].(string)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("source %s key %v: %w", source, dest[0], errColumn)
	}
	r.source, r.key, r.contentHash = source, key, hash
	r.firstSeen, r.lastSeen, r.lastChanged = nanosValue(dest[2]), nanosValue(dest[3]), nanosValue(dest[4])
	r.removedAt, r.removed = nanosValue(dest[5]), dest[5] != nil
	if err := decodeRowContent(content, r); err != nil {
		return fmt.Errorf("source %s key %s: decode: %w", source, key, err)
	}
	return nil
}

// nanosValue is fromNanos for a driver value: an int64 of unix
// nanoseconds, or nil for the zero time.
func nanosValue(v driver.Value) time.Time {
	n, ok := v.(int64)
	if !ok {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// querier is what a *sql.DB, *sql.Conn and *sql.Tx have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const readSweepsQuery = `SELECT source, run_id, at FROM source_sweeps`

// readSweeps reads the last sweep of every source that has one.
func readSweeps(ctx context.Context, db querier) (map[string]sweep, error) {
	rows, err := db.QueryContext(ctx, readSweepsQuery)
	if err != nil {
		return nil, fmt.Errorf("read sweeps: %w", err)
	}
	defer rows.Close()
	out := map[string]sweep{}
	for rows.Next() {
		var source string
		var sw sweep
		if err := rows.Scan(&source, &sw.run, &sw.at); err != nil {
			return nil, fmt.Errorf("read sweeps: %w", err)
		}
		out[source] = sw
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sweeps: %w", err)
	}
	return out, nil
}

// queryStrings returns the one text column of query's rows.
func queryStrings(ctx context.Context, db querier, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
