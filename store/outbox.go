package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OutboxEvent is one webhook event to keep until it is delivered: the
// id the receiver sees (stable over retries), the subscription it goes
// to, and the request body.
type OutboxEvent struct {
	EventID      string
	Subscription string
	Payload      []byte
	CreatedAt    time.Time
}

// OutboxEntry is one outbox row as stored.
type OutboxEntry struct {
	ID           int64     `json:"id"`
	EventID      string    `json:"event_id"`
	Subscription string    `json:"subscription"`
	RunID        int64     `json:"run_id,omitempty"`
	Payload      []byte    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	NextAt       time.Time `json:"next_at"`
	Attempts     int       `json:"attempts"`
	LastError    string    `json:"last_error,omitempty"`
	DeliveredAt  time.Time `json:"delivered_at,omitzero"`
	DeadAt       time.Time `json:"dead_at,omitzero"`
	DeadReason   string    `json:"dead_reason,omitempty"`
}

// OutboxStats counts the outbox rows by state.
type OutboxStats struct {
	Pending   int `json:"pending"`   // neither delivered nor dead
	Delivered int `json:"delivered"` // a receiver answered 2xx
	Dead      int `json:"dead"`      // given up (410, too old, subscription gone)
}

// EnqueueTx writes events to the outbox inside tx, each due at once. It
// is meant for the Options.OnRun / OnChange hooks, so that the events of
// a run are committed with the run or not at all. runID (0: none) links
// the rows to the run that caused them. An event whose EventID is already
// in the outbox is skipped (building the same events twice never sends
// twice). It returns how many rows were written.
func EnqueueTx(ctx context.Context, tx *sql.Tx, runID int64, evs []OutboxEvent) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO outbox (event_id, subscription, run_id, payload, created_at, next_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("outbox: prepare insert: %w", err)
	}
	defer st.Close()
	var rid any
	if runID > 0 {
		rid = runID
	}
	n := 0
	for _, e := range evs {
		if e.EventID == "" || e.Subscription == "" {
			return n, fmt.Errorf("outbox: event %q for subscription %q: id and subscription are required", e.EventID, e.Subscription)
		}
		created := e.CreatedAt.UnixNano()
		res, err := st.ExecContext(ctx, e.EventID, e.Subscription, rid, e.Payload, created, created)
		if err != nil {
			return n, fmt.Errorf("outbox: insert event %s: %w", e.EventID, err)
		}
		if k, err := res.RowsAffected(); err == nil {
			n += int(k)
		}
	}
	return n, nil
}

// Enqueue writes events to the outbox in a transaction of its own (for
// events that belong to no run). See EnqueueTx.
func (s *Store) Enqueue(ctx context.Context, evs []OutboxEvent) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("outbox: begin: %w", err)
	}
	defer tx.Rollback()
	n, err := EnqueueTx(ctx, tx, 0, evs)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("outbox: commit: %w", err)
	}
	return n, nil
}

const outboxColumns = `id, event_id, subscription, run_id, payload, created_at, next_at, attempts, last_error,
	delivered_at, dead_at, dead_reason`

func scanOutbox(sc scanner) (*OutboxEntry, error) {
	var (
		e                                OutboxEntry
		runID                            sql.NullInt64
		created, next, delivered, deadAt sql.NullInt64
	)
	if err := sc.Scan(&e.ID, &e.EventID, &e.Subscription, &runID, &e.Payload, &created, &next, &e.Attempts,
		&e.LastError, &delivered, &deadAt, &e.DeadReason); err != nil {
		return nil, err
	}
	e.RunID = runID.Int64
	e.CreatedAt, e.NextAt = fromNanos(created), fromNanos(next)
	e.DeliveredAt, e.DeadAt = fromNanos(delivered), fromNanos(deadAt)
	return &e, nil
}

// OutboxDue returns at most limit rows that are neither delivered nor
// dead and whose next attempt is at or before now, oldest first
// (created_at, then id).
func (s *Store) OutboxDue(ctx context.Context, now time.Time, limit int) ([]OutboxEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+outboxColumns+` FROM outbox
		WHERE delivered_at IS NULL AND dead_at IS NULL AND next_at <= ?
		ORDER BY created_at, id LIMIT ?`, now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: list due: %w", err)
	}
	defer rows.Close()
	var out []OutboxEntry
	for rows.Next() {
		e, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("outbox: list due: %w", err)
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: list due: %w", err)
	}
	return out, nil
}

// OutboxEntries lists outbox rows by id, all of them when limit is not
// positive (for inspection and tests).
func (s *Store) OutboxEntries(ctx context.Context, limit int) ([]OutboxEntry, error) {
	q := `SELECT ` + outboxColumns + ` FROM outbox ORDER BY id`
	var args []any
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: list: %w", err)
	}
	defer rows.Close()
	var out []OutboxEntry
	for rows.Next() {
		e, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("outbox: list: %w", err)
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: list: %w", err)
	}
	return out, nil
}

// OutboxStats counts the outbox rows by state.
func (s *Store) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var st OutboxStats
	err := s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN delivered_at IS NULL AND dead_at IS NULL THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN delivered_at IS NULL AND dead_at IS NOT NULL THEN 1 ELSE 0 END), 0)
		FROM outbox`).Scan(&st.Pending, &st.Delivered, &st.Dead)
	if err != nil {
		return st, fmt.Errorf("outbox: count: %w", err)
	}
	return st, nil
}

// errUnknownDelivery is wrapped when a Mark names no outbox row.
var errUnknownDelivery = errors.New("no such outbox row")

func (s *Store) markOutbox(ctx context.Context, what string, id int64, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("outbox: mark %d %s: %w", id, what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("outbox: mark %d %s: %w", id, what, err)
	}
	if n == 0 {
		return fmt.Errorf("outbox: mark %d %s: %w", id, what, errUnknownDelivery)
	}
	return nil
}

// OutboxMarkDelivered records that the receiver of row id answered 2xx
// at the given time; the row is never due again.
func (s *Store) OutboxMarkDelivered(ctx context.Context, id int64, at time.Time) error {
	return s.markOutbox(ctx, "delivered", id,
		`UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ?`, at.UnixNano(), id)
}

// OutboxMarkFailed records a failed attempt of row id: attempts is the
// total made so far, next the earliest time the row is due again.
func (s *Store) OutboxMarkFailed(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	return s.markOutbox(ctx, "failed", id,
		`UPDATE outbox SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?`, attempts, next.UnixNano(), lastErr, id)
}

// OutboxMarkDead gives row id up for good, keeping it for inspection.
// at stamps dead_at.
func (s *Store) OutboxMarkDead(ctx context.Context, id int64, at time.Time, reason string) error {
	return s.markOutbox(ctx, "dead", id,
		`UPDATE outbox SET dead_at = ?, dead_reason = ? WHERE id = ?`, at.UnixNano(), reason, id)
}

// RunChangesTx returns the changes run runID made so far, read inside tx
// (in change id order, shaped as EachChange gives them). The OnRun hook
// uses it to build a run's webhook events in the run's own transaction.
func RunChangesTx(ctx context.Context, tx *sql.Tx, runID int64) ([]Change, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+changeColumns+` FROM changes c JOIN versions v ON v.id = c.version_id
		WHERE c.run_id = ? ORDER BY c.id`, runID)
	if err != nil {
		return nil, fmt.Errorf("run %d: changes: %w", runID, err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		if err := scanChange(rows, &c); err != nil {
			return nil, fmt.Errorf("run %d: changes: %w", runID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run %d: changes: %w", runID, err)
	}
	return out, nil
}
