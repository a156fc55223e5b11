package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/harvest-dev/harvest/record"
)

// Defaults of the removal guards when a seed leaves them zero.
const (
	DefaultMissingRuns     = 2
	DefaultMaxRemovedShare = 0.2
)

// ApplyRun stores one run of one source and the changes it makes, in one
// transaction: on any error (including a cancelled ctx) nothing of the run
// is kept, and the store is as it was before.
//
// Semantics (DESIGN.md "Runs and change semantics"):
//   - A record whose key the source never had is added; one whose key was
//     removed earlier is restored; one whose content hash (without
//     in.IgnoreChanges) differs is updated, with each changed field's old
//     and new value. A record seen again unchanged makes no change. When a
//     record's key appears twice in in.Records the first one wins.
//   - A record or SeenKeys key seen in any run gets last_seen and a missed
//     count of 0. Fields in IgnoreChanges never make a change, but their
//     new values are kept (a new version without a change).
//   - Only a complete run counts misses: each current record it did not
//     see gets missed+1, and is removed once missed reaches
//     Guards.MissingRuns (default 2). When those removals would exceed
//     Guards.MaxRemovedShare (default 0.2) of the source's current
//     records, the run becomes suspect, the removals are held (Run.Held)
//     and no miss is counted.
//   - A complete run that saw nothing while the source has current records
//     becomes suspect and removes nothing.
//   - Partial, failed, blocked and suspect runs add, update and restore
//     what they saw but never count misses or remove.
//   - Each page outcome is kept with the run; a page fetched and parsed
//     without error (not NotModified) replaces the source's PageState for
//     its URL.
func (s *Store) ApplyRun(ctx context.Context, in RunInput) (*RunResult, error) {
	if err := validate(&in); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("source %s: apply run: begin: %w", in.Source, err)
	}
	defer tx.Rollback()
	a := &applier{s: s, tx: tx, in: &in, now: s.opts.Now().UTC()}
	defer a.close()
	res, err := a.apply(ctx)
	if err != nil {
		return nil, fmt.Errorf("source %s: apply run: %w", in.Source, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("source %s: apply run: commit: %w", in.Source, err)
	}
	r := &res.Run
	lvl := s.log.Info
	if r.Status == StatusSuspect {
		lvl = s.log.Warn
	}
	lvl("run stored", "source", r.Source, "run", r.ID, "status", r.Status, "reason", r.Reason,
		"seen", r.Seen, "added", r.Added, "updated", r.Updated, "removed", r.Removed,
		"restored", r.Restored, "held", r.Held)
	return res, nil
}

func validate(in *RunInput) error {
	if in.Source == "" {
		return errors.New("apply run: empty source")
	}
	switch in.Status {
	case StatusComplete, StatusPartial, StatusFailed, StatusBlocked, StatusSuspect:
	default:
		return fmt.Errorf("source %s: apply run: unknown status %q", in.Source, in.Status)
	}
	for i := range in.Records {
		r := &in.Records[i]
		if r.Key == "" {
			return fmt.Errorf("source %s: apply run: record %d (%q) has no key", in.Source, i+1, r.Title)
		}
		if r.Source != "" && r.Source != in.Source {
			return fmt.Errorf("source %s: apply run: record %d (key %s) belongs to source %q", in.Source, i+1, r.Key, r.Source)
		}
	}
	return nil
}

// current is what the store holds of one key before the run.
type current struct {
	versionID   int64
	lastChanged int64
	hash        string
	full        string
	removed     bool
	missed      int
	seen        bool // seen by this run
}

// batchRows is how many rows one multi-row INSERT writes.
const batchRows = 200

type applier struct {
	s     *Store
	tx    *sql.Tx
	in    *RunInput
	now   time.Time
	runID int64
	stmts []*sql.Stmt
	slab  slab

	updMissed, updRemoved, getVersion *sql.Stmt

	// Version and change ids are given here (the run holds the write
	// lock), so that rows can be written in batches: versions, then the
	// records and changes that refer to them.
	nextVersion, nextChange int64
	versions                batch
	records                 batch
	changeRows              batch
	hooked                  int // a.changes[:hooked] went through OnChange
	content                 []byte
	// extraNames are the extra field names of the versions this run
	// writes, for the extra_names table (finishRun).
	extraNames map[string]bool

	run     Run
	changes []Change
	// unchanged are current keys seen without a content change: their
	// last_seen and missed count are set in one statement (markSeen).
	unchanged []string
	// hashes and fulls are the change-detection and full hashes of
	// in.Records, by index.
	hashes, fulls []string
}

// hashAll computes the change-detection hash (without ignore) and the
// full hash of each record, split over the CPUs: hashing is a good part
// of an unchanged run's work. fulls is hashes when ignore is empty.
func hashAll(rs []record.Record, ignore []string) (hashes, fulls []string) {
	hashes = make([]string, len(rs))
	fulls = hashes
	if len(ignore) > 0 {
		fulls = make([]string, len(rs))
	}
	workers := min(runtime.GOMAXPROCS(0), len(rs)/512+1)
	per := (len(rs) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(rs); lo += per {
		hi := min(lo+per, len(rs))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				hashes[i] = rs[i].Hash(ignore)
				if len(ignore) > 0 {
					fulls[i] = rs[i].Hash(nil)
				}
			}
		})
	}
	wg.Wait()
	return hashes, fulls
}

// batch is one multi-row INSERT being filled: rows of width values each
// after three shared values (?1 source, ?2 run id, ?3 now).
type batch struct {
	head, row, tail string // row: the VALUES tuple with %d placeholders
	width           int
	args            []any
	full            *sql.Stmt // prepared for batchRows rows
}

func (b *batch) rows() int { return (len(b.args) - 3) / b.width }

// sqlFor writes the statement for n rows.
func (b *batch) sqlFor(n int) string {
	var sb strings.Builder
	sb.WriteString(b.head)
	ph := make([]any, b.width)
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		for j := range ph {
			ph[j] = 4 + i*b.width + j
		}
		fmt.Fprintf(&sb, b.row, ph...)
	}
	sb.WriteString(b.tail)
	return sb.String()
}

func (a *applier) close() {
	for _, st := range a.stmts {
		st.Close()
	}
}

func (a *applier) prepare(ctx context.Context, dst **sql.Stmt, query string) error {
	st, err := a.tx.PrepareContext(ctx, query)
	if err != nil {
		return fmt.Errorf("prepare %q: %w", query, err)
	}
	a.stmts = append(a.stmts, st)
	*dst = st
	return nil
}

func (a *applier) apply(ctx context.Context) (*RunResult, error) {
	in := a.in
	now := a.now
	a.run = Run{
		Source:     in.Source,
		StartedAt:  orNow(in.StartedAt, now),
		FinishedAt: orNow(in.FinishedAt, now),
		Status:     in.Status,
		Reason:     in.Reason,
		RunCounts:  RunCounts{Dropped: in.Dropped},
	}
	res, err := a.tx.ExecContext(ctx,
		`INSERT INTO runs (source, started_at, finished_at, applied_at, status, reason) VALUES (?, ?, ?, ?, ?, ?)`,
		in.Source, nanos(a.run.StartedAt), nanos(a.run.FinishedAt), now.UnixNano(), in.Status, in.Reason)
	if err != nil {
		return nil, fmt.Errorf("insert run: %w", err)
	}
	if a.runID, err = res.LastInsertId(); err != nil {
		return nil, fmt.Errorf("insert run: %w", err)
	}
	a.run.ID = a.runID

	for _, p := range []struct {
		dst *(*sql.Stmt)
		q   string
	}{
		{&a.updMissed, `UPDATE records SET missed = ? WHERE source = ? AND key = ?`},
		{&a.updRemoved, `UPDATE records SET missed = ?, removed_at = ? WHERE source = ? AND key = ?`},
		{&a.getVersion, `SELECT CAST(content AS TEXT) FROM versions WHERE id = ?`},
	} {
		if err := a.prepare(ctx, p.dst, p.q); err != nil {
			return nil, err
		}
	}
	if err := a.tx.QueryRowContext(ctx, `SELECT
		MAX(COALESCE((SELECT MAX(id) FROM versions), 0), COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'versions'), 0)),
		MAX(COALESCE((SELECT MAX(id) FROM changes), 0), COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0))`).
		Scan(&a.nextVersion, &a.nextChange); err != nil {
		return nil, fmt.Errorf("read next ids: %w", err)
	}
	a.nextVersion++
	a.nextChange++
	a.versions = batch{
		head:  `INSERT INTO versions (id, source, key, run_id, at, content_hash, full_hash, content) VALUES `,
		row:   `(?%d, ?1, ?%d, ?2, ?3, ?%d, ?%d, ?%d)`,
		width: 5,
	}
	// One upsert for added, updated and restored records.
	a.records = batch{
		head: `INSERT INTO records (source, key, version_id, content_hash, full_hash, first_seen, last_seen, last_changed, removed_at, missed) VALUES `,
		row:  `(?1, ?%d, ?%d, ?%d, ?%d, ?3, ?3, ?%d, NULL, 0)`,
		tail: ` ON CONFLICT (source, key) DO UPDATE SET version_id = excluded.version_id, content_hash = excluded.content_hash,
			full_hash = excluded.full_hash, last_seen = excluded.last_seen, last_changed = excluded.last_changed, removed_at = NULL, missed = 0`,
		width: 5,
	}
	a.changeRows = batch{
		head:  `INSERT INTO changes (id, run_id, source, key, kind, at, version_id, fields) VALUES `,
		row:   `(?%d, ?2, ?1, ?%d, ?%d, ?3, ?%d, ?%d)`,
		width: 5,
	}
	for _, b := range []*batch{&a.versions, &a.records, &a.changeRows} {
		b.args = append(make([]any, 0, 3+batchRows*b.width), in.Source, a.runID, now.UnixNano())
	}

	cur, nCurrent, err := a.loadCurrent(ctx)
	if err != nil {
		return nil, err
	}
	if len(cur) == 0 {
		a.changes = make([]Change, 0, len(in.Records)) // a first load adds each one
	}

	// Records: first occurrence of a key wins.
	var dups []string
	a.hashes, a.fulls = hashAll(in.Records, in.IgnoreChanges)
	for i := range in.Records {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r := in.Records[i]
		r.Source = in.Source
		c := cur[r.Key]
		if c != nil && c.seen {
			dups = append(dups, r.Key)
			continue
		}
		if err := a.applyRecord(ctx, i, &r, c, cur); err != nil {
			return nil, fmt.Errorf("record %s: %w", r.Key, err)
		}
		a.run.Seen++
	}
	// Keys seen on pages that were not modified: seen, no content.
	for _, k := range in.SeenKeys {
		c := cur[k]
		if c == nil {
			// Unknown to the store: nothing to keep it alive; still seen.
			cur[k] = &current{seen: true, removed: true}
			a.run.Seen++
			continue
		}
		if c.seen {
			continue
		}
		c.seen = true
		a.run.Seen++
		if c.removed {
			continue // seen without content cannot restore
		}
		a.unchanged = append(a.unchanged, k)
	}
	if err := a.flush(ctx); err != nil {
		return nil, err
	}
	if err := a.markSeen(ctx, cur); err != nil {
		return nil, err
	}

	if a.run.Status == StatusComplete && a.run.Seen == 0 && nCurrent > 0 {
		n, err := a.lastCompleteSeen(ctx)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			n = nCurrent
		}
		a.suspect(fmt.Sprintf("zero items where the last complete run had %d", n))
	}
	if a.run.Status == StatusComplete {
		if err := a.countMisses(ctx, cur, nCurrent); err != nil {
			return nil, err
		}
		if err := a.flush(ctx); err != nil {
			return nil, err
		}
	}

	if err := a.storePages(ctx); err != nil {
		return nil, err
	}
	warnings := in.Warnings
	if len(dups) > 0 {
		shown := dups
		if len(shown) > 5 {
			shown = shown[:5]
		}
		warnings = append(warnings[:len(warnings):len(warnings)], fmt.Sprintf("%d items repeated a key already seen in this run and were ignored (first kept): %s",
			len(dups), strings.Join(shown, ", ")))
	}
	a.run.Warnings = len(warnings)
	if err := a.finishRun(ctx, warnings); err != nil {
		return nil, err
	}
	return &RunResult{Run: a.run, Changes: a.changes}, nil
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t.UTC()
}

// suspect turns the run suspect with a reason, keeping the crawl's reason.
func (a *applier) suspect(reason string) {
	a.run.Status = StatusSuspect
	if a.run.Reason != "" {
		reason = a.run.Reason + "; " + reason
	}
	a.run.Reason = reason
}

// markSeen sets last_seen and a zero missed count on every unchanged key
// the run saw, in one statement: over a JSON array of those keys, or,
// when that is shorter (the usual case), over every current record of
// the source except the JSON array of the keys the run did not see
// (records written by this run already hold the values and are skipped).
func (a *applier) markSeen(ctx context.Context, cur map[string]*current) error {
	if len(a.unchanged) == 0 {
		return nil
	}
	var unseen []string
	for k, c := range cur {
		if !c.seen && !c.removed {
			if unseen = append(unseen, k); len(unseen) >= len(a.unchanged) {
				break
			}
		}
	}
	q := `UPDATE records SET last_seen = ?1, missed = 0
		WHERE source = ?2 AND key IN (SELECT value FROM json_each(?3))`
	keys := a.unchanged
	if len(unseen) < len(a.unchanged) {
		q = `UPDATE records SET last_seen = ?1, missed = 0
			WHERE source = ?2 AND removed_at IS NULL AND (last_seen <> ?1 OR missed <> 0)
			AND key NOT IN (SELECT value FROM json_each(?3))`
		keys = unseen
	}
	kj, err := jsonList(keys)
	if err != nil {
		return fmt.Errorf("mark seen: encode keys: %w", err)
	}
	if _, err = a.tx.ExecContext(ctx, q, a.now.UnixNano(), a.in.Source, kj); err != nil {
		return fmt.Errorf("mark %d records seen: %w", len(a.unchanged), err)
	}
	return nil
}

// slab hands out currents from chunks, one allocation per chunk.
type slab struct{ buf []current }

func (s *slab) new() *current {
	if len(s.buf) == cap(s.buf) {
		s.buf = make([]current, 0, 1024)
	}
	s.buf = s.buf[:len(s.buf)+1]
	return &s.buf[len(s.buf)-1]
}

// loadCurrent reads the state of every key of the source in one query.
func (a *applier) loadCurrent(ctx context.Context) (map[string]*current, int, error) {
	// full_hash is read only where it differs from content_hash (it is
	// the same unless fields are excluded from change detection, and
	// stored as '' then since schema version 3).
	rows, err := a.tx.QueryContext(ctx,
		`SELECT key, version_id, content_hash, CASE WHEN full_hash IN ('', content_hash) THEN NULL ELSE full_hash END,
			removed_at IS NOT NULL, missed, last_changed FROM records WHERE source = ?`, a.in.Source)
	if err != nil {
		return nil, 0, fmt.Errorf("load current records: %w", err)
	}
	defer rows.Close()
	cur := make(map[string]*current, len(a.in.Records))
	n := 0
	for rows.Next() {
		var k string
		var full sql.NullString
		c := a.slab.new()
		if err := rows.Scan(&k, &c.versionID, &c.hash, &full, &c.removed, &c.missed, &c.lastChanged); err != nil {
			return nil, 0, fmt.Errorf("load current records: %w", err)
		}
		c.full = c.hash
		if full.Valid {
			c.full = full.String
		}
		if !c.removed {
			n++
		}
		cur[k] = c
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("load current records: %w", err)
	}
	return cur, n, nil
}

func (a *applier) lastCompleteSeen(ctx context.Context) (int, error) {
	var n int
	err := a.tx.QueryRowContext(ctx,
		`SELECT seen FROM runs WHERE source = ? AND status = ? AND id < ? ORDER BY id DESC LIMIT 1`,
		a.in.Source, StatusComplete, a.runID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last complete run: %w", err)
	}
	return n, nil
}

// applyRecord stores one record the run saw, in.Records[i]; c is nil
// for a new key.
func (a *applier) applyRecord(ctx context.Context, i int, r *record.Record, c *current, cur map[string]*current) error {
	in := a.in
	now := a.now.UnixNano()
	hash, full := a.hashes[i], a.fulls[i]
	r.ContentHash = hash

	if c == nil {
		vid, err := a.insertVersion(ctx, r, hash, full)
		if err != nil {
			return err
		}
		if err := a.putRecord(ctx, r.Key, vid, hash, full, now); err != nil {
			return err
		}
		c = a.slab.new()
		*c = current{versionID: vid, hash: hash, full: full, lastChanged: now, seen: true}
		cur[r.Key] = c
		a.run.Added++
		return a.change(ctx, KindAdded, r, vid, nil)
	}
	c.seen = true
	if !c.removed && hash == c.hash && full == c.full {
		a.unchanged = append(a.unchanged, r.Key)
		return nil
	}

	var fields []record.FieldChange
	if hash != c.hash {
		old, err := a.version(ctx, c.versionID)
		if err != nil {
			return err
		}
		fields = record.Diff(old, r, in.IgnoreChanges)
	}
	vid := c.versionID
	if full != c.full {
		var err error
		if vid, err = a.insertVersion(ctx, r, hash, full); err != nil {
			return err
		}
	}
	kind := ""
	switch {
	case c.removed:
		kind = KindRestored
		a.run.Restored++
	case len(fields) > 0:
		kind = KindUpdated
		a.run.Updated++
	}
	// No kind: only ignored fields changed (or the ignore list did): keep
	// the new values without a change.
	changed := c.lastChanged
	if kind != "" {
		changed = now
	}
	if err := a.putRecord(ctx, r.Key, vid, hash, full, changed); err != nil {
		return err
	}
	c.versionID, c.hash, c.full, c.removed, c.missed, c.lastChanged = vid, hash, full, false, 0, changed
	if kind == "" {
		return nil
	}
	return a.change(ctx, kind, r, vid, fields)
}

// insertVersion queues a new version of r and returns its id.
func (a *applier) insertVersion(ctx context.Context, r *record.Record, hash, full string) (int64, error) {
	id := a.nextVersion
	a.nextVersion++
	// The content bytes live in a.content until the batch is written
	// (and reused after: the driver copies what it binds); a new buffer
	// is started when it is full, so that queued rows keep pointing at
	// their bytes.
	if len(a.content)+4096 > cap(a.content) {
		a.content = make([]byte, 0, max(256<<10, 2*cap(a.content)))
	}
	start := len(a.content)
	a.content = appendContent(a.content, r)
	content := a.content[start:len(a.content):len(a.content)]
	a.versions.args = append(a.versions.args, id, r.Key, hash, storedFull(hash, full), content)
	for k := range r.Extra {
		if !a.extraNames[k] {
			if a.extraNames == nil {
				a.extraNames = map[string]bool{}
			}
			a.extraNames[k] = true
		}
	}
	return id, a.flushIfFull(ctx, &a.versions)
}

// storedFull is the full_hash column's value: ” when it is the content
// hash (no field excluded from change detection), which saves 64 bytes
// in each versions and records row.
func storedFull(hash, full string) string {
	if full == hash {
		return ""
	}
	return full
}

// putRecord queues the upsert of a record's current state.
func (a *applier) putRecord(ctx context.Context, key string, vid int64, hash, full string, lastChanged int64) error {
	a.records.args = append(a.records.args, key, vid, hash, storedFull(hash, full), lastChanged)
	return a.flushIfFull(ctx, &a.records)
}

// flushIfFull writes b once it holds batchRows rows, after the queued
// versions its rows may refer to.
func (a *applier) flushIfFull(ctx context.Context, b *batch) error {
	if b.rows() < batchRows {
		return nil
	}
	if b != &a.versions {
		if err := a.write(ctx, &a.versions); err != nil {
			return err
		}
	}
	if err := a.write(ctx, b); err != nil {
		return err
	}
	if b == &a.changeRows {
		return a.hooks(ctx)
	}
	return nil
}

// flush writes every queued row, versions first (records and changes
// refer to them), then calls OnChange for the changes just written.
func (a *applier) flush(ctx context.Context) error {
	for _, b := range []*batch{&a.versions, &a.records, &a.changeRows} {
		if err := a.write(ctx, b); err != nil {
			return err
		}
	}
	return a.hooks(ctx)
}

// write runs the INSERT of b's queued rows, if any, and empties b.
func (a *applier) write(ctx context.Context, b *batch) error {
	n := b.rows()
	if n == 0 {
		return nil
	}
	st := b.full
	if n != batchRows || st == nil {
		var err error
		if st, err = a.tx.PrepareContext(ctx, b.sqlFor(n)); err != nil {
			return fmt.Errorf("prepare %d-row insert: %w", n, err)
		}
		if n == batchRows {
			b.full = st
			a.stmts = append(a.stmts, st)
		} else {
			defer st.Close()
		}
	}
	if _, err := st.ExecContext(ctx, b.args...); err != nil {
		return fmt.Errorf("%s%d rows: %w", strings.TrimSuffix(b.head, "VALUES "), n, err)
	}
	clear(b.args[3:])
	b.args = b.args[:3]
	if b == &a.versions {
		a.content = a.content[:0]
	}
	return nil
}

// hooks calls OnChange for each change written since the last call.
func (a *applier) hooks(ctx context.Context) error {
	if a.s.opts.OnChange == nil {
		return nil
	}
	for ; a.hooked < len(a.changes); a.hooked++ {
		c := &a.changes[a.hooked]
		if err := a.s.opts.OnChange(ctx, a.tx, c); err != nil {
			return fmt.Errorf("%s change hook: record %s: %w", c.Kind, c.Key, err)
		}
	}
	return nil
}

func (a *applier) version(ctx context.Context, id int64) (*record.Record, error) {
	var content string
	if err := a.getVersion.QueryRowContext(ctx, id).Scan(&content); err != nil {
		return nil, fmt.Errorf("read version %d: %w", id, err)
	}
	r := &record.Record{}
	if err := decodeContent(content, r); err != nil {
		return nil, fmt.Errorf("decode version %d: %w", id, err)
	}
	return r, nil
}

// change queues one change row and keeps the change for the result;
// OnChange is called once the row is written (flush).
func (a *applier) change(ctx context.Context, kind string, r *record.Record, vid int64, fields []record.FieldChange) error {
	var fj any
	if len(fields) > 0 {
		b, err := json.Marshal(fields)
		if err != nil {
			return fmt.Errorf("encode changed fields: %w", err)
		}
		fj = b
	}
	id := a.nextChange
	a.nextChange++
	a.changeRows.args = append(a.changeRows.args, id, r.Key, kind, vid, fj)
	a.changes = append(a.changes, Change{
		ID: id, RunID: a.runID, Source: a.in.Source, Key: r.Key, Kind: kind, At: a.now,
		Fields: fields, Record: contentOnly(r),
	})
	c := &a.changes[len(a.changes)-1]
	if kind == KindRemoved {
		at := a.now
		c.Record.RemovedAt = &at
	}
	return a.flushIfFull(ctx, &a.changeRows)
}

// contentOnly is r without the bookkeeping times (a change carries the
// version's content and hash; its time is Change.At).
func contentOnly(r *record.Record) record.Record {
	c := *r
	c.FirstSeen, c.LastSeen, c.LastChanged, c.RemovedAt = time.Time{}, time.Time{}, time.Time{}, nil
	return c
}

// countMisses counts a complete run's misses and removes what has been
// missing long enough, unless the removal guard holds the removals back.
func (a *applier) countMisses(ctx context.Context, cur map[string]*current, nCurrent int) error {
	k := a.in.Guards.MissingRuns
	if k <= 0 {
		k = DefaultMissingRuns
	}
	share := a.in.Guards.MaxRemovedShare
	if share <= 0 {
		share = DefaultMaxRemovedShare
	}
	var missed, candidates []string
	for key, c := range cur {
		if c.removed || c.seen {
			continue
		}
		if c.missed+1 >= k {
			candidates = append(candidates, key)
		} else {
			missed = append(missed, key)
		}
	}
	if len(candidates) > 0 && float64(len(candidates)) > share*float64(nCurrent) {
		a.run.Held = len(candidates)
		a.suspect(fmt.Sprintf("%d of %d records would be removed at once, more than the removal guard of %g%%; removals held",
			len(candidates), nCurrent, share*100))
		return nil // a suspect run counts no misses
	}
	sort.Strings(missed)
	sort.Strings(candidates)
	for _, key := range missed {
		if _, err := a.updMissed.ExecContext(ctx, cur[key].missed+1, a.in.Source, key); err != nil {
			return fmt.Errorf("record %s: count miss: %w", key, err)
		}
	}
	for _, key := range candidates {
		c := cur[key]
		if _, err := a.updRemoved.ExecContext(ctx, c.missed+1, a.now.UnixNano(), a.in.Source, key); err != nil {
			return fmt.Errorf("record %s: remove: %w", key, err)
		}
		last, err := a.version(ctx, c.versionID)
		if err != nil {
			return fmt.Errorf("record %s: %w", key, err)
		}
		last.Source, last.Key, last.ContentHash = a.in.Source, key, c.hash
		a.run.Removed++
		if err := a.change(ctx, KindRemoved, last, c.versionID, nil); err != nil {
			return fmt.Errorf("record %s: %w", key, err)
		}
	}
	return nil
}

func (a *applier) storePages(ctx context.Context) error {
	if len(a.in.Pages) == 0 {
		return nil
	}
	var insPage, upsState *sql.Stmt
	if err := a.prepare(ctx, &insPage, `INSERT INTO run_pages (run_id, seq, url, status, bytes, duration_ns, items, error, not_modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		return err
	}
	if err := a.prepare(ctx, &upsState, `INSERT INTO page_states (source, url, etag, last_modified, body_hash, keys, next, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source, url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
		body_hash = excluded.body_hash, keys = excluded.keys, next = excluded.next, run_id = excluded.run_id`); err != nil {
		return err
	}
	for i, p := range a.in.Pages {
		a.run.Pages++
		if p.Err != "" {
			a.run.PagesFailed++
		}
		if _, err := insPage.ExecContext(ctx, a.runID, i, p.URL, p.Status, p.Bytes, int64(p.Duration), p.Items, p.Err, p.NotModified); err != nil {
			return fmt.Errorf("page %s: insert: %w", p.URL, err)
		}
		if p.Err != "" || p.NotModified {
			continue
		}
		kj, err := jsonList(p.Keys)
		if err != nil {
			return fmt.Errorf("page %s: encode keys: %w", p.URL, err)
		}
		nj, err := jsonList(p.Next)
		if err != nil {
			return fmt.Errorf("page %s: encode next links: %w", p.URL, err)
		}
		if _, err := upsState.ExecContext(ctx, a.in.Source, p.URL, p.ETag, p.LastModified, p.BodyHash, kj, nj, a.runID); err != nil {
			return fmt.Errorf("page %s: save state: %w", p.URL, err)
		}
	}
	return nil
}

// jsonList encodes a list as a JSON array, [] for none.
func jsonList(vs []string) (string, error) {
	if vs == nil {
		vs = []string{}
	}
	b, err := json.Marshal(vs)
	return string(b), err
}

func (a *applier) finishRun(ctx context.Context, warnings []string) error {
	wj, err := jsonList(warnings)
	if err != nil {
		return fmt.Errorf("encode warnings: %w", err)
	}
	for name := range a.extraNames {
		if _, err := a.tx.ExecContext(ctx, `INSERT OR IGNORE INTO extra_names (source, name) VALUES (?, ?)`, a.in.Source, name); err != nil {
			return fmt.Errorf("note extra field %q: %w", name, err)
		}
	}
	r := &a.run
	_, err = a.tx.ExecContext(ctx, `UPDATE runs SET status = ?, reason = ?, pages = ?, pages_failed = ?, seen = ?,
		added = ?, updated = ?, removed = ?, restored = ?, held = ?, dropped = ?, warnings = ?, warning_text = ? WHERE id = ?`,
		r.Status, r.Reason, r.Pages, r.PagesFailed, r.Seen, r.Added, r.Updated, r.Removed, r.Restored,
		r.Held, r.Dropped, r.Warnings, wj, r.ID)
	if err != nil {
		return fmt.Errorf("update run %d: %w", r.ID, err)
	}
	if a.s.opts.OnRun != nil {
		if err := a.s.opts.OnRun(ctx, a.tx, r); err != nil {
			return fmt.Errorf("run hook: %w", err)
		}
	}
	return nil
}
