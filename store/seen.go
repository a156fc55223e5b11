package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/harvest-dev/harvest/record"
)

// How a run keeps its seen records alive without writing each one.
//
// Every run that sees a stored record must give it last_seen = the run's
// time and a missed count of 0. Writing that into every records row
// costs an unchanged nightly run a rewrite of the whole table. Instead,
// a run may be a sweep of its source: it writes every current record it
// did NOT see (keeping their values, adding a miss when it counts one)
// and notes itself in source_sweeps. A current record whose row was last
// written before the source's last sweep (written_by < its run_id) was
// seen by that sweep: its last_seen is the sweep's time and its missed
// count 0. Any other row holds its own values. A run that saw only a
// few records (a partial run) writes those instead, and is no sweep.
//
// The one rule every write of a records row keeps: it sets written_by to
// its run and writes the row's effective values (effLastSeen,
// effMissed), never the stored ones left behind by a sweep.

// sweep is a source's last sweep; the zero sweep is none.
type sweep struct{ run, at int64 }

// effLastSeen and effMissed are the SQL of a records row's effective
// last_seen and missed count under the sweep whose run id and time are
// sweepRun and sweepAt (parameters or numbers). Their column names are
// bare: the statement must have no other table with those columns.
func effLastSeen(sweepRun, sweepAt string) string {
	return `CASE WHEN removed_at IS NULL AND written_by < ` + sweepRun + ` THEN ` + sweepAt + ` ELSE last_seen END`
}

func effMissed(sweepRun string) string {
	return `CASE WHEN removed_at IS NULL AND written_by < ` + sweepRun + ` THEN 0 ELSE missed END`
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readSweep reads source's last sweep.
func readSweep(ctx context.Context, db queryRower, source string) (sweep, error) {
	var sw sweep
	err := db.QueryRowContext(ctx, `SELECT run_id, at FROM source_sweeps WHERE source = ?`, source).Scan(&sw.run, &sw.at)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return sweep{}, fmt.Errorf("source %s: read last sweep: %w", source, err)
	}
	return sw, nil
}

// missing is a current record the run did not see, with its effective
// missed count.
type missing struct {
	key       string
	missed    int
	versionID int64
	hash      string
}

// settleSeen keeps alive the current records the run saw and counts the
// misses of a complete run: each current record it did not see gets a
// miss, and is removed once it has missed Guards.MissingRuns runs, unless
// the removal guard holds the removals back (the run becomes suspect and
// counts no miss). Then it writes whichever costs fewer rows: a sweep
// (every record not seen), or every record seen.
func (a *applier) settleSeen(ctx context.Context) error {
	old, err := readSweep(ctx, a.tx, a.in.Source)
	if err != nil {
		return err
	}
	unseen, seenCurrent, err := a.unseen(ctx, old)
	if err != nil {
		return err
	}
	inc := 0
	var candidates []missing
	if a.run.Status == StatusComplete {
		if candidates, err = a.removals(ctx, unseen); err != nil {
			return err
		}
		if a.run.Status == StatusComplete {
			inc = 1
		}
	}
	var kept []missing // not seen, not removed: written only to add a miss or for a sweep
	for _, m := range unseen {
		if inc == 0 || !a.removes(m) {
			kept = append(kept, m)
		}
	}
	sweepRows := len(unseen)
	seenRows := seenCurrent + len(candidates)
	if inc > 0 {
		seenRows = seenCurrent + len(unseen)
	}
	if sweepRows <= seenRows {
		if _, err := a.tx.ExecContext(ctx, `INSERT INTO source_sweeps (source, run_id, at) VALUES (?, ?, ?)
			ON CONFLICT (source) DO UPDATE SET run_id = excluded.run_id, at = excluded.at`, a.in.Source, a.runID, a.now.UnixNano()); err != nil {
			return fmt.Errorf("note sweep: %w", err)
		}
	} else {
		if err := a.writeSeen(ctx); err != nil {
			return err
		}
		if inc == 0 {
			kept = nil // untouched: the old sweep and their rows still hold
		}
	}
	if err := a.writeUnseen(ctx, old, kept, inc, false); err != nil {
		return err
	}
	if err := a.writeUnseen(ctx, old, candidates, inc, true); err != nil {
		return err
	}
	for _, m := range candidates {
		var last *record.Record
		if a.keep || a.s.opts.OnChange != nil {
			if last, err = a.version(ctx, m.versionID); err != nil {
				return fmt.Errorf("record %s: %w", m.key, err)
			}
			last.Source, last.Key, last.ContentHash = a.in.Source, m.key, m.hash
		}
		a.run.Removed++
		if err := a.change(ctx, KindRemoved, &item{key: m.key}, last, m.versionID, nil); err != nil {
			return fmt.Errorf("record %s: %w", m.key, err)
		}
	}
	return nil
}

// removes tells whether a miss now removes m: it has been missed
// Guards.MissingRuns (default DefaultMissingRuns) complete runs.
func (a *applier) removes(m missing) bool {
	k := a.in.Guards.MissingRuns
	if k <= 0 {
		k = DefaultMissingRuns
	}
	return m.missed+1 >= k
}

// unseen reads, in key order, the current records the run neither wrote
// nor saw, and counts those it saw without writing them. When the digest
// of the keys the run saw is that of the source's current keys
// (keyset.go) there are none, and nothing is read. Otherwise the keys
// come as JSON arrays of a few thousand (one row, one driver call each,
// where a row per key would cost several), which also give the digest of
// the current keys afresh; the few records not seen are then read whole.
func (a *applier) unseen(ctx context.Context, old sweep) (unseen []missing, seenCurrent int, err error) {
	// The current records now: those before the run and those it added
	// or restored (nothing is removed yet).
	cur := a.storedSet.plus(a.changedSet)
	if cur == a.seenSet {
		// The run saw exactly the current records: none is missed, and
		// none needs reading.
		a.current = cur
		a.s.keySetSweeps.Add(1)
		return nil, int(cur.n), nil
	}
	var keys []string
	// The digest of the current keys, as read: those not staged here,
	// plus the staged ones.
	read := a.recSet
	for after := ""; ; {
		// A key with a staged record (run_items) was seen; the others are
		// looked up in the keys seen without one.
		var list, last string
		var n, staged int
		if err := a.tx.QueryRowContext(ctx, `SELECT json_group_array(key) FILTER (WHERE NOT staged), COALESCE(max(key), ''), count(*),
				count(*) FILTER (WHERE staged) FROM (
			SELECT key, key IN (SELECT key FROM temp.run_items) AS staged FROM records
			WHERE source = ?1 AND removed_at IS NULL AND written_by <> ?2 AND key > ?3 ORDER BY key LIMIT ?4)`,
			a.in.Source, a.runID, after, a.s.keysPerRead).Scan(&list, &last, &n, &staged); err != nil {
			return nil, 0, fmt.Errorf("find missed records: %w", err)
		}
		seenCurrent += staged
		chunk, err := decodeList(list)
		if err != nil {
			return nil, 0, fmt.Errorf("find missed records: decode keys: %w", err)
		}
		for _, k := range chunk {
			if a.seen[k] != keyWithRecord { // those are in recSet
				read.add(k)
			}
			if a.seen[k] != keyUnseen {
				seenCurrent++
			} else {
				keys = append(keys, strings.Clone(k))
			}
		}
		if n < a.s.keysPerRead {
			break
		}
		after = last
	}
	if read != cur {
		// Not the digest the store kept: it is corrected from the keys.
		a.s.log.Warn("the digest of a source's current keys was off; corrected", "source", a.in.Source,
			"kept", cur.n, "current", read.n)
	}
	a.current = read
	for lo := 0; lo < len(keys); lo += keyChunk {
		kj, err := jsonList(keys[lo:min(lo+keyChunk, len(keys))])
		if err != nil {
			return nil, 0, fmt.Errorf("find missed records: encode keys: %w", err)
		}
		rows, err := a.tx.QueryContext(ctx, `SELECT key, `+effMissed("?1")+`, version_id, content_hash FROM records
			WHERE source = ?2 AND key IN (SELECT value FROM json_each(?3)) ORDER BY key`, old.run, a.in.Source, kj)
		if err != nil {
			return nil, 0, fmt.Errorf("find missed records: %w", err)
		}
		for rows.Next() {
			var m missing
			if err := rows.Scan(&m.key, &m.missed, &m.versionID, &m.hash); err != nil {
				rows.Close()
				return nil, 0, fmt.Errorf("find missed records: %w", err)
			}
			unseen = append(unseen, m)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("find missed records: %w", err)
		}
	}
	return unseen, seenCurrent, nil
}

// removals returns the records of unseen that this miss removes, or
// none when the removal guard holds them back: the run is then suspect.
func (a *applier) removals(ctx context.Context, unseen []missing) ([]missing, error) {
	share := a.in.Guards.MaxRemovedShare
	if share <= 0 {
		share = DefaultMaxRemovedShare
	}
	var candidates []missing
	for _, m := range unseen {
		if a.removes(m) {
			candidates = append(candidates, m)
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	nCurrent, err := a.currentBefore(ctx)
	if err != nil {
		return nil, err
	}
	if float64(len(candidates)) > share*float64(nCurrent) {
		a.run.Held = len(candidates)
		a.suspect(fmt.Sprintf("%d of %d records would be removed at once, more than the removal guard of %g%%; removals held",
			len(candidates), nCurrent, share*100))
		return nil, nil // a suspect run counts no misses
	}
	return candidates, nil
}

// keyChunk is how many keys one statement over a JSON list of keys takes.
const keyChunk = 500

// writeSeen writes last_seen = now and a zero missed count into every
// current record the run saw and did not write.
func (a *applier) writeSeen(ctx context.Context) error {
	if _, err := a.tx.ExecContext(ctx, `UPDATE records SET last_seen = ?1, missed = 0, written_by = ?2
		WHERE source = ?3 AND key IN (SELECT key FROM temp.run_items) AND removed_at IS NULL AND written_by <> ?2`,
		a.now.UnixNano(), a.runID, a.in.Source); err != nil {
		return fmt.Errorf("mark staged records seen: %w", err)
	}
	keys := make([]string, 0, min(len(a.seen), keyChunk))
	flush := func() error {
		kj, err := jsonList(keys)
		if err != nil {
			return fmt.Errorf("mark records seen: encode keys: %w", err)
		}
		if _, err := a.tx.ExecContext(ctx, `UPDATE records SET last_seen = ?1, missed = 0, written_by = ?2
			WHERE source = ?3 AND key IN (SELECT value FROM json_each(?4)) AND removed_at IS NULL AND written_by <> ?2`,
			a.now.UnixNano(), a.runID, a.in.Source, kj); err != nil {
			return fmt.Errorf("mark %d records seen: %w", len(keys), err)
		}
		keys = keys[:0]
		return nil
	}
	for k := range a.seen {
		if keys = append(keys, k); len(keys) == keyChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(keys) > 0 {
		return flush()
	}
	return nil
}

// writeUnseen writes records the run did not see: their effective
// last_seen and missed count (under the sweep old), plus inc misses, and
// removed now when remove is set.
func (a *applier) writeUnseen(ctx context.Context, old sweep, ms []missing, inc int, remove bool) error {
	if len(ms) == 0 {
		return nil
	}
	var removedAt any
	what := "count misses of"
	if remove {
		removedAt, what = a.now.UnixNano(), "remove"
	}
	q := `UPDATE records SET last_seen = ` + effLastSeen("?1", "?2") + `, missed = ` + effMissed("?1") + ` + ?3,
		written_by = ?4, removed_at = COALESCE(?5, removed_at)
		WHERE source = ?6 AND key IN (SELECT value FROM json_each(?7))`
	for lo := 0; lo < len(ms); lo += keyChunk {
		chunk := ms[lo:min(lo+keyChunk, len(ms))]
		keys := make([]string, len(chunk))
		for i, m := range chunk {
			keys[i] = m.key
		}
		kj, err := jsonList(keys)
		if err != nil {
			return fmt.Errorf("%s records: encode keys: %w", what, err)
		}
		if _, err := a.tx.ExecContext(ctx, q, old.run, old.at, inc, a.runID, removedAt, a.in.Source, kj); err != nil {
			return fmt.Errorf("%s %d records: %w", what, len(chunk), err)
		}
	}
	return nil
}
