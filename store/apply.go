package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
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
	rs, err := s.beginRun(ctx, in.Source, in.IgnoreChanges, true)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	return rs.Finish(ctx, in)
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
}

// storedCurrent is a current from the columns of a records row joined in
// (version_id, last_changed, content_hash, full_hash, removed); a full
// hash left empty is the content hash.
func storedCurrent(vid, lastChanged sql.NullInt64, hash, full sql.NullString, removed sql.NullBool) current {
	c := current{versionID: vid.Int64, lastChanged: lastChanged.Int64, hash: hash.String, full: hash.String, removed: removed.Bool}
	if full.Valid && full.String != "" {
		c.full = full.String
	}
	return c
}

// batchRows is how many rows one multi-row INSERT writes.
const batchRows = 200

// chunkRows is how many staged records the applier reads at a time.
const chunkRows = 512

type applier struct {
	s     *Store
	tx    *sql.Tx
	in    *RunInput
	now   time.Time
	runID int64
	stmts []*sql.Stmt
	// keep: the result holds every change (else changes are kept only
	// until OnChange has seen them).
	keep bool

	getVersion, getItem *sql.Stmt

	// Version and change ids are given here (the run holds the write
	// lock), so that rows can be written in batches: versions, then the
	// records and changes that refer to them.
	nextVersion, nextChange int64
	versions                batch
	records                 batch
	changeRows              batch
	hooked                  int // a.changes[:hooked] went through OnChange
	content                 []byte
	// extraNames are the extra field names of the records this run
	// staged, for the extra_names table (finishRun).
	extraNames map[string]bool

	run     Run
	changes []Change
	dups    dupKeys // staged records ignored for a repeated key
	// seen are the keys the run saw without a staged record (and the
	// held records' keys); seenRecords counts the keys of the records
	// staged in run_items, which are not in seen.
	seen        map[string]uint8
	seenRecords int
	// seenSet is the digest of every key the run saw, recSet of those with
	// a staged record (keyset.go); changedSet of the keys the run added or
	// restored, removedSet of those it removed.
	seenSet, recSet, changedSet, removedSet keySet
	// storedSet is the stored digest of the source's current keys before
	// the run; current that of its current keys once the run's records
	// are written (settleSeen), before any removal.
	storedSet, current keySet
	held               []*record.Record // the staged records by seq, when the caller holds them
	// heldHash and heldFull are the hashes of held (heldFull[i] "" when
	// it is heldHash[i]).
	heldHash, heldFull []string
	// firstLoad: the source had no records before the run.
	firstLoad bool
}

// item is one staged record with what the store holds of its key.
type item struct {
	seq        int64
	key        string
	hash, full string
	content    []byte // only when the change keeps its record
	cur        *current
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
		RunCounts:  RunCounts{Dropped: in.Dropped, Seen: len(a.seen) + a.seenRecords},
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
		{&a.getVersion, `SELECT CAST(content AS TEXT) FROM versions WHERE id = ?`},
		{&a.getItem, `SELECT content FROM temp.run_items WHERE seq = ?`},
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
	// A version's content is copied from the staged record (?seq) by
	// SQLite itself, the bytes never coming back to Go; or, when the
	// caller holds the records, bound from them.
	a.versions = batch{
		head:  `INSERT INTO versions (id, source, key, run_id, at, content_hash, full_hash, content) VALUES `,
		row:   `(?%d, ?1, ?%d, ?2, ?3, ?%d, ?%d, COALESCE(?%d, (SELECT content FROM temp.run_items WHERE seq = ?%d)))`,
		width: 6,
	}
	// One upsert for added, updated and restored records.
	a.records = batch{
		head: `INSERT INTO records (source, key, version_id, content_hash, full_hash, first_seen, last_seen, last_changed, removed_at, missed, written_by) VALUES `,
		row:  `(?1, ?%d, ?%d, ?%d, ?%d, ?3, ?3, ?%d, NULL, 0, ?2)`,
		tail: ` ON CONFLICT (source, key) DO UPDATE SET version_id = excluded.version_id, content_hash = excluded.content_hash,
			full_hash = excluded.full_hash, last_seen = excluded.last_seen, last_changed = excluded.last_changed, removed_at = NULL, missed = 0,
			written_by = excluded.written_by`,
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

	// A source without records (its first run) has nothing to compare
	// with, to mark seen or to miss.
	if err := a.tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM records WHERE source = ?)`, in.Source).Scan(&a.firstLoad); err != nil {
		return nil, fmt.Errorf("read stored records: %w", err)
	}
	if a.storedSet, err = readKeySet(ctx, a.tx, in.Source); err != nil {
		return nil, err
	}
	// Records, in the order seen: the first occurrence of a key wins.
	if err := a.applyItems(ctx); err != nil {
		return nil, err
	}
	if err := a.flush(ctx); err != nil {
		return nil, err
	}
	if a.run.Status == StatusComplete && a.run.Seen == 0 {
		nCurrent, err := a.currentBefore(ctx)
		if err != nil {
			return nil, err
		}
		if nCurrent > 0 {
			if err := a.zeroSeen(ctx, nCurrent); err != nil {
				return nil, err
			}
		}
	}
	// After a first load every current record was written by this run,
	// seen now with no miss: there is nothing to settle.
	a.current = a.changedSet
	if !a.firstLoad {
		if err := a.settleSeen(ctx); err != nil {
			return nil, err
		}
		if err := a.flush(ctx); err != nil {
			return nil, err
		}
	}
	if err := writeKeySet(ctx, a.tx, in.Source, a.current.minus(a.removedSet)); err != nil {
		return nil, err
	}

	if err := a.storePages(ctx); err != nil {
		return nil, err
	}
	warnings := in.Warnings
	if a.dups.n > 0 {
		warnings = append(warnings[:len(warnings):len(warnings)], fmt.Sprintf("%d items repeated a key already seen in this run and were ignored (first kept): %s",
			a.dups.n, strings.Join(a.dups.shown, ", ")))
	}
	a.run.Warnings = len(warnings)
	if err := a.finishRun(ctx, warnings); err != nil {
		return nil, err
	}
	if !a.keep {
		a.changes = nil
	}
	return &RunResult{Run: a.run, Changes: a.changes}, nil
}

// zeroSeen turns a complete run that saw nothing suspect.
func (a *applier) zeroSeen(ctx context.Context, nCurrent int) error {
	n, err := a.lastCompleteSeen(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		n = nCurrent
	}
	a.suspect(fmt.Sprintf("zero items where the last complete run had %d", n))
	return nil
}

// currentBefore is how many current (not removed) records the source had
// before the run: those current now, less the ones this run added or
// restored (nothing is removed before settleSeen).
func (a *applier) currentBefore(ctx context.Context) (int, error) {
	var n int
	if err := a.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM records WHERE source = ? AND removed_at IS NULL`, a.in.Source).Scan(&n); err != nil {
		return 0, fmt.Errorf("count current records: %w", err)
	}
	return n - a.run.Added - a.run.Restored, nil
}

// dupKeys counts the staged records ignored for a repeated key and
// names the first few.
type dupKeys struct {
	n     int
	shown []string
}

// applyItems applies the staged records chunk by chunk, each read with
// the store's state of its key; those staged without content because
// they were unchanged are read only if they no longer are. Rows written for one chunk's keys do not
// touch the state of another chunk's (each key is staged once).
func (a *applier) applyItems(ctx context.Context) error {
	if a.held != nil {
		return a.applyHeld(ctx)
	}
	// The record's content is read only when the change keeps it.
	needContent := (a.keep || a.s.opts.OnChange != nil) && a.held == nil
	chunk := make([]item, 0, chunkRows)
	curs := make([]current, chunkRows)
	last := int64(-1)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := a.tx.QueryContext(ctx, `SELECT s.seq, s.key, s.hash, s.full, CASE WHEN ?3 THEN s.content END,
				r.version_id, r.content_hash, CASE WHEN r.full_hash IN ('', r.content_hash) THEN NULL ELSE r.full_hash END,
				r.removed_at IS NOT NULL, r.last_changed
			FROM temp.run_items s LEFT JOIN records r ON r.source = ?1 AND r.key = s.key
			WHERE s.seq > ?2 AND (s.content IS NOT NULL OR r.version_id IS NULL OR r.removed_at IS NOT NULL OR r.content_hash <> s.hash
				OR CASE WHEN r.full_hash = '' THEN r.content_hash ELSE r.full_hash END <> CASE WHEN s.full = '' THEN s.hash ELSE s.full END)
			ORDER BY s.seq LIMIT ?4`, a.in.Source, last, needContent, chunkRows)
		if err != nil {
			return fmt.Errorf("read staged records: %w", err)
		}
		chunk = chunk[:0]
		for rows.Next() {
			var (
				it               item
				vid, lastChanged sql.NullInt64
				hash, full       sql.NullString
				removed          sql.NullBool
			)
			if err := rows.Scan(&it.seq, &it.key, &it.hash, &it.full, &it.content, &vid, &hash, &full, &removed, &lastChanged); err != nil {
				rows.Close()
				return fmt.Errorf("read staged records: %w", err)
			}
			if it.full == "" {
				it.full = it.hash
			}
			if vid.Valid {
				c := &curs[len(chunk)]
				*c = storedCurrent(vid, lastChanged, hash, full, removed)
				it.cur = c
			}
			chunk = append(chunk, it)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("read staged records: %w", err)
		}
		if len(chunk) == 0 {
			return nil
		}
		for i := range chunk {
			if err := a.applyRecord(ctx, &chunk[i]); err != nil {
				return fmt.Errorf("record %s: %w", chunk[i].key, err)
			}
		}
		last = chunk[len(chunk)-1].seq
	}
}

// applyHeld applies the records the caller holds (ApplyRun): their
// run_held rows, which carry their seq and hashes, are compared with the
// store's state of their keys in one pass in key order, and the records
// new, restored or changed are then applied in the order seen.
func (a *applier) applyHeld(ctx context.Context) error {
	if a.firstLoad {
		return a.applyNew(ctx)
	}
	staged := batch{head: `INSERT INTO temp.run_held (seq, key, hash, full) VALUES `, row: `(?%d, ?%d, ?%d, ?%d)`, width: 4}
	staged.args = append(make([]any, 0, 3+batchRows*staged.width), nil, nil, nil) // ?1-?3 unused
	for i, r := range a.held {
		if staged.args = append(staged.args, int64(i), r.Key, a.heldHash[i], a.heldFull[i]); staged.rows() == batchRows {
			if err := a.write(ctx, &staged); err != nil {
				return fmt.Errorf("stage records: %w", err)
			}
		}
	}
	if err := a.write(ctx, &staged); err != nil {
		return fmt.Errorf("stage records: %w", err)
	}
	rows, err := a.tx.QueryContext(ctx, `SELECT s.seq, r.version_id, r.content_hash,
			CASE WHEN r.full_hash IN ('', r.content_hash) THEN NULL ELSE r.full_hash END, r.removed_at IS NOT NULL, r.last_changed
		FROM temp.run_held s LEFT JOIN records r ON r.source = ?1 AND r.key = s.key
		WHERE (r.version_id IS NULL OR r.removed_at IS NOT NULL OR r.content_hash <> s.hash
			OR CASE WHEN r.full_hash = '' THEN r.content_hash ELSE r.full_hash END <> CASE WHEN s.full = '' THEN s.hash ELSE s.full END)`,
		a.in.Source)
	if err != nil {
		return fmt.Errorf("read stored state: %w", err)
	}
	var work []item
	var curs []current
	for rows.Next() {
		var (
			seq              int64
			vid, lastChanged sql.NullInt64
			hash, full       sql.NullString
			removed          sql.NullBool
		)
		if err := rows.Scan(&seq, &vid, &hash, &full, &removed, &lastChanged); err != nil {
			rows.Close()
			return fmt.Errorf("read stored state: %w", err)
		}
		if seq < 0 || seq >= int64(len(a.held)) {
			rows.Close()
			return fmt.Errorf("read stored state: staged seq %d of %d records", seq, len(a.held))
		}
		it := item{seq: seq, key: a.held[seq].Key, hash: a.heldHash[seq], full: a.heldFull[seq]}
		if it.full == "" {
			it.full = it.hash
		}
		if vid.Valid {
			if len(curs) == cap(curs) {
				curs = make([]current, 0, chunkRows)
			}
			curs = append(curs, storedCurrent(vid, lastChanged, hash, full, removed))
			it.cur = &curs[len(curs)-1]
		}
		work = append(work, it)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return fmt.Errorf("read stored state: %w", err)
	}
	slices.SortFunc(work, func(x, y item) int { return cmp.Compare(x.seq, y.seq) })
	if a.keep && len(work) > 0 {
		// At most one change per record applied (removals add more).
		a.changes = make([]Change, 0, len(work))
	}
	for i := range work {
		if i%chunkRows == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := a.applyRecord(ctx, &work[i]); err != nil {
			return fmt.Errorf("record %s: %w", work[i].key, err)
		}
	}
	return nil
}

// applyNew applies the held records of a source that has none stored:
// each is new.
func (a *applier) applyNew(ctx context.Context) error {
	if a.keep {
		a.changes = make([]Change, 0, len(a.held))
	}
	for i, r := range a.held {
		if i%chunkRows == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		it := item{seq: int64(i), key: r.Key, hash: a.heldHash[i], full: a.heldFull[i]}
		if it.full == "" {
			it.full = it.hash
		}
		if err := a.applyRecord(ctx, &it); err != nil {
			return fmt.Errorf("record %s: %w", it.key, err)
		}
	}
	return nil
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

// applyRecord stores one staged record; it.cur is nil for a new key.
func (a *applier) applyRecord(ctx context.Context, it *item) error {
	now := a.now.UnixNano()
	hash, full, c := it.hash, it.full, it.cur

	if c == nil {
		vid := a.insertVersion(it)
		if err := a.flushIfFull(ctx, &a.versions); err != nil {
			return err
		}
		if err := a.putRecord(ctx, it.key, vid, hash, full, now); err != nil {
			return err
		}
		a.run.Added++
		return a.change(ctx, KindAdded, it, nil, vid, nil)
	}
	if !c.removed && hash == c.hash && full == c.full {
		return nil // unchanged: settleSeen keeps it alive
	}

	var r *record.Record
	var fields []record.FieldChange
	if hash != c.hash {
		old, err := a.version(ctx, c.versionID)
		if err != nil {
			return err
		}
		if r, err = a.itemRecord(ctx, it); err != nil {
			return err
		}
		fields = record.Diff(old, r, a.in.IgnoreChanges)
	}
	vid := c.versionID
	if full != c.full {
		vid = a.insertVersion(it)
		if err := a.flushIfFull(ctx, &a.versions); err != nil {
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
	if err := a.putRecord(ctx, it.key, vid, hash, full, changed); err != nil {
		return err
	}
	if kind == "" {
		return nil
	}
	return a.change(ctx, kind, it, r, vid, fields)
}

// itemRecord decodes a staged record's content (read now unless the
// chunk carried it).
func (a *applier) itemRecord(ctx context.Context, it *item) (*record.Record, error) {
	if a.held != nil {
		r := *a.held[it.seq]
		r.Source, r.Key, r.ContentHash = a.in.Source, it.key, it.hash
		return &r, nil
	}
	content := it.content
	if content == nil {
		if err := a.getItem.QueryRowContext(ctx, it.seq).Scan(&content); err != nil {
			return nil, fmt.Errorf("read staged record: %w", err)
		}
	}
	if content == nil {
		// Staged as unchanged, and changed since: another writer.
		return nil, errors.New("the stored record changed while the run was staged; run it again")
	}
	r := &record.Record{}
	if err := decodeContent(string(content), r); err != nil {
		return nil, fmt.Errorf("decode staged record: %w", err)
	}
	r.Source, r.Key, r.ContentHash = a.in.Source, it.key, it.hash
	return r, nil
}

// insertVersion queues a new version of a staged record and returns its
// id; the caller flushes.
func (a *applier) insertVersion(it *item) int64 {
	id := a.nextVersion
	a.nextVersion++
	var content any
	if a.held != nil {
		// The bytes live in a.content until the batch is written (the
		// driver copies what it binds); a full buffer is replaced, not
		// reused, so that queued rows keep their bytes.
		if len(a.content)+4096 > cap(a.content) {
			a.content = make([]byte, 0, max(256<<10, 2*cap(a.content)))
		}
		start := len(a.content)
		a.content = appendContent(a.content, a.held[it.seq])
		content = a.content[start:len(a.content):len(a.content)]
	}
	a.versions.args = append(a.versions.args, id, it.key, it.hash, storedFull(it.hash, it.full), content, it.seq)
	return id
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
	if !a.keep {
		// Seen by the hook: nothing else needs them.
		clear(a.changes)
		a.changes, a.hooked = a.changes[:0], 0
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

// change queues one change row of key. The change itself (with its
// record: r, else the staged record it) is kept for the result or for
// OnChange, which is called once the row is written (flush).
func (a *applier) change(ctx context.Context, kind string, it *item, r *record.Record, vid int64, fields []record.FieldChange) error {
	var fj any
	if len(fields) > 0 {
		b, err := json.Marshal(fields)
		if err != nil {
			return fmt.Errorf("encode changed fields: %w", err)
		}
		fj = b
	}
	key := it.key
	switch kind {
	case KindAdded, KindRestored:
		a.changedSet.add(key)
	case KindRemoved:
		a.removedSet.add(key)
	}
	id := a.nextChange
	a.nextChange++
	a.changeRows.args = append(a.changeRows.args, id, key, kind, vid, fj)
	if a.keep || a.s.opts.OnChange != nil {
		var rec record.Record
		switch {
		case r != nil:
			rec = contentOnly(r)
		case a.held != nil:
			// Copied straight from the caller's record.
			rec = contentOnly(a.held[it.seq])
			rec.Source, rec.Key, rec.ContentHash = a.in.Source, it.key, it.hash
		default:
			var err error
			if r, err = a.itemRecord(ctx, it); err != nil {
				return err
			}
			rec = contentOnly(r)
		}
		if len(a.changes) == cap(a.changes) {
			// Doubling: append's growth of a large slice (1.25x) would
			// copy a run's 40,000 changes some 20 times.
			a.changes = slices.Grow(a.changes, max(len(a.changes), 256))
		}
		a.changes = append(a.changes, Change{
			ID: id, RunID: a.runID, Source: a.in.Source, Key: key, Kind: kind, At: a.now,
			Fields: fields, Record: rec,
		})
		c := &a.changes[len(a.changes)-1]
		if kind == KindRemoved {
			at := a.now
			c.Record.RemovedAt = &at
		}
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

// storePages keeps the run's staged page outcomes, and replaces the page
// state of each page fetched and parsed without error.
func (a *applier) storePages(ctx context.Context) error {
	var failed sql.NullInt64
	if err := a.tx.QueryRowContext(ctx, `SELECT COUNT(*), SUM(error <> '') FROM temp.run_staged_pages`).Scan(&a.run.Pages, &failed); err != nil {
		return fmt.Errorf("count pages: %w", err)
	}
	a.run.PagesFailed = int(failed.Int64)
	if a.run.Pages == 0 {
		return nil
	}
	if _, err := a.tx.ExecContext(ctx, `INSERT INTO run_pages (run_id, seq, url, status, bytes, duration_ns, items, error, not_modified)
		SELECT ?, seq, url, status, bytes, duration_ns, items, error, not_modified FROM temp.run_staged_pages ORDER BY seq`, a.runID); err != nil {
		return fmt.Errorf("insert pages: %w", err)
	}
	if _, err := a.tx.ExecContext(ctx, `INSERT INTO page_states (source, url, etag, last_modified, body_hash, keys, next, run_id)
		SELECT ?1, url, etag, last_modified, body_hash, keys, next, ?2 FROM temp.run_staged_pages
		WHERE error = '' AND NOT not_modified ORDER BY seq
		ON CONFLICT (source, url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
		body_hash = excluded.body_hash, keys = excluded.keys, next = excluded.next, run_id = excluded.run_id`, a.in.Source, a.runID); err != nil {
		return fmt.Errorf("save page states: %w", err)
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
	if len(a.in.ExtraFields) > 0 && a.extraNames == nil {
		a.extraNames = map[string]bool{}
	}
	for _, name := range a.in.ExtraFields {
		a.extraNames[name] = true
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
