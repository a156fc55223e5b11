package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SourceSchedule is what the daemon keeps of one source between runs and
// across restarts: when its next run is due, how its last run went, the
// failure streak behind a backoff, and who holds its lease.
type SourceSchedule struct {
	Source    string    `json:"source"`
	NextDue   time.Time `json:"next_due"`
	LastRunAt time.Time `json:"last_run_at,omitzero"` // when the last run started
	LastRunID int64     `json:"last_run_id,omitempty"`
	// LastStatus is the last run's status ("" before the first, "error"
	// when the run could not be recorded).
	LastStatus          string    `json:"last_status,omitempty"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	BackoffUntil        time.Time `json:"backoff_until,omitzero"` // zero when not backing off
	Note                string    `json:"note,omitempty"`         // why the source backs off, or the last error
	LeaseOwner          string    `json:"lease_owner,omitempty"`
	LeaseUntil          time.Time `json:"lease_until,omitzero"`
}

// ScheduleUpdate is what FinishSource records after a run.
type ScheduleUpdate struct {
	NextDue             time.Time
	LastRunAt           time.Time
	LastRunID           int64
	LastStatus          string
	ConsecutiveFailures int
	BackoffUntil        time.Time
	Note                string
}

// ErrLeaseLost is returned (wrapped) when a lease is renewed or released
// by an owner that no longer holds it (it expired and another process
// took the source over).
var ErrLeaseLost = errors.New("lease lost")

const scheduleColumns = `source, next_due, last_run_at, last_run_id, last_status, consecutive_failures,
	backoff_until, note, lease_owner, lease_until`

func scanSchedule(sc scanner) (*SourceSchedule, error) {
	var (
		s                             SourceSchedule
		due, last, backoff, leaseTill sql.NullInt64
		lastID                        sql.NullInt64
	)
	if err := sc.Scan(&s.Source, &due, &last, &lastID, &s.LastStatus, &s.ConsecutiveFailures, &backoff, &s.Note,
		&s.LeaseOwner, &leaseTill); err != nil {
		return nil, err
	}
	s.NextDue, s.LastRunAt, s.BackoffUntil, s.LeaseUntil = fromNanos(due), fromNanos(last), fromNanos(backoff), fromNanos(leaseTill)
	s.LastRunID = lastID.Int64
	return &s, nil
}

// Schedules lists every source's schedule row, by source.
func (s *Store) Schedules(ctx context.Context) ([]SourceSchedule, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+scheduleColumns+` FROM source_schedule ORDER BY source`)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	defer rows.Close()
	var out []SourceSchedule
	for rows.Next() {
		sc, err := scanSchedule(rows)
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		out = append(out, *sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return out, nil
}

// Schedule returns one source's schedule row, nil when it has none.
func (s *Store) Schedule(ctx context.Context, source string) (*SourceSchedule, error) {
	sc, err := scanSchedule(s.db.QueryRowContext(ctx, `SELECT `+scheduleColumns+` FROM source_schedule WHERE source = ?`, source))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: schedule: %w", source, err)
	}
	return sc, nil
}

// InitSchedule creates source's schedule row due at nextDue unless it
// has one, and returns the row as it now stands. An existing row is left
// as it is, so that a restart keeps what was due.
func (s *Store) InitSchedule(ctx context.Context, source string, nextDue time.Time) (*SourceSchedule, error) {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO source_schedule (source, next_due) VALUES (?, ?)
		ON CONFLICT (source) DO NOTHING`, source, nextDue.UnixNano()); err != nil {
		return nil, fmt.Errorf("source %s: init schedule: %w", source, err)
	}
	sc, err := s.Schedule(ctx, source)
	if err != nil {
		return nil, err
	}
	if sc == nil {
		return nil, fmt.Errorf("source %s: init schedule: row missing after insert", source)
	}
	return sc, nil
}

// SetNextDue moves source's next run to t (a schedule edited in its seed).
func (s *Store) SetNextDue(ctx context.Context, source string, t time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE source_schedule SET next_due = ? WHERE source = ?`, t.UnixNano(), source)
	if err != nil {
		return fmt.Errorf("source %s: set next due: %w", source, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("source %s: set next due: %w", source, ErrNotFound)
	}
	return nil
}

// ClaimSource takes source's lease for owner until now+ttl, in one
// immediate (write-locked) transaction, when nobody holds an unexpired
// lease and either force is set or the source is due (next_due <= now).
// A source without a schedule row gets one, due now. claimed reports
// whether owner now holds the lease; sc is the row as read (before the
// claim). Two processes sharing the database never both claim one
// source: the check and the update happen under SQLite's write lock.
func (s *Store) ClaimSource(ctx context.Context, source, owner string, now time.Time, ttl time.Duration, force bool) (claimed bool, sc *SourceSchedule, err error) {
	if owner == "" {
		return false, nil, fmt.Errorf("source %s: claim: empty lease owner", source)
	}
	tx, err := s.db.BeginTx(ctx, nil) // _txlock=immediate: the write lock is taken here
	if err != nil {
		return false, nil, fmt.Errorf("source %s: claim: begin: %w", source, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO source_schedule (source, next_due) VALUES (?, ?)
		ON CONFLICT (source) DO NOTHING`, source, now.UnixNano()); err != nil {
		return false, nil, fmt.Errorf("source %s: claim: %w", source, err)
	}
	sc, err = scanSchedule(tx.QueryRowContext(ctx, `SELECT `+scheduleColumns+` FROM source_schedule WHERE source = ?`, source))
	if err != nil {
		return false, nil, fmt.Errorf("source %s: claim: %w", source, err)
	}
	if sc.LeaseOwner != "" && sc.LeaseUntil.After(now) {
		return false, sc, nil
	}
	if !force && sc.NextDue.After(now) {
		return false, sc, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE source_schedule SET lease_owner = ?, lease_until = ? WHERE source = ?`,
		owner, now.Add(ttl).UnixNano(), source); err != nil {
		return false, nil, fmt.Errorf("source %s: claim: %w", source, err)
	}
	if err := tx.Commit(); err != nil {
		return false, nil, fmt.Errorf("source %s: claim: commit: %w", source, err)
	}
	return true, sc, nil
}

// RenewLease extends owner's lease of source to until. It fails with
// ErrLeaseLost when owner no longer holds it.
func (s *Store) RenewLease(ctx context.Context, source, owner string, until time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE source_schedule SET lease_until = ? WHERE source = ? AND lease_owner = ?`,
		until.UnixNano(), source, owner)
	if err != nil {
		return fmt.Errorf("source %s: renew lease: %w", source, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("source %s: renew lease of %s: %w", source, owner, ErrLeaseLost)
	}
	return nil
}

// ReleaseSource gives up owner's lease of source without touching its
// schedule (a run that never started).
func (s *Store) ReleaseSource(ctx context.Context, source, owner string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE source_schedule SET lease_owner = '', lease_until = NULL
		WHERE source = ? AND lease_owner = ?`, source, owner)
	if err != nil {
		return fmt.Errorf("source %s: release lease: %w", source, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("source %s: release lease of %s: %w", source, owner, ErrLeaseLost)
	}
	return nil
}

// FinishSource records how owner's run of source went and when the next
// one is due, and releases the lease, in one statement. It fails with
// ErrLeaseLost (and changes nothing) when owner no longer holds the lease.
func (s *Store) FinishSource(ctx context.Context, source, owner string, u ScheduleUpdate) error {
	res, err := s.db.ExecContext(ctx, `UPDATE source_schedule SET next_due = ?, last_run_at = ?, last_run_id = ?,
		last_status = ?, consecutive_failures = ?, backoff_until = ?, note = ?, lease_owner = '', lease_until = NULL
		WHERE source = ? AND lease_owner = ?`,
		u.NextDue.UnixNano(), nanos(u.LastRunAt), nullID(u.LastRunID), u.LastStatus, u.ConsecutiveFailures,
		nanos(u.BackoffUntil), u.Note, source, owner)
	if err != nil {
		return fmt.Errorf("source %s: finish run: %w", source, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("source %s: finish run of %s: %w", source, owner, ErrLeaseLost)
	}
	return nil
}

func nullID(id int64) any {
	if id <= 0 {
		return nil
	}
	return id
}

// RunsBefore lists at most limit runs with id < before (all when before
// is not positive), newest first, of one source when source is set: one
// page of a run list paginated by id.
func (s *Store) RunsBefore(ctx context.Context, source string, before int64, limit int) ([]Run, error) {
	return s.Runs(ctx, RunFilter{Source: source, Before: before, Limit: limit})
}

// LastSuccess returns, per source, when its newest complete run finished.
func (s *Store) LastSuccess(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT source, MAX(finished_at) FROM runs WHERE status = ? GROUP BY source`, StatusComplete)
	if err != nil {
		return nil, fmt.Errorf("last successful runs: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var src string
		var at sql.NullInt64
		if err := rows.Scan(&src, &at); err != nil {
			return nil, fmt.Errorf("last successful runs: %w", err)
		}
		out[src] = fromNanos(at)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("last successful runs: %w", err)
	}
	return out, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}
