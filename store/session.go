package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"time"

	"github.com/harvest-dev/harvest/record"
)

// RunSession stages one run of one source while it is crawled, so that
// nothing holds the whole site in memory: each page's records and page
// outcome go to temporary tables of the session's own SQLite connection
// (a temporary file, deleted when the connection closes), and Finish
// applies them to the store in the run's one transaction. What stays in
// memory is the set of keys the run has seen, which decides which record
// of a key wins and which stored records the run missed: the keys seen
// without content (the caller's own strings) and 128-bit hashes of the
// keys of staged records (whose keys are in the staging table). Until Finish commits, the store is as it was:
// staging takes no lock on the database and writes nothing to it, so a
// run that fails, is cancelled or is killed leaves no trace.
//
// A RunSession is used by one goroutine at a time. Close releases it;
// it is safe to call after Finish.
type RunSession struct {
	s      *Store
	conn   *sql.Conn
	source string
	ignore []string
	// keep: Finish returns every change in RunResult.Changes (ApplyRun,
	// whose caller holds the records anyway). A crawl's session does not:
	// its changes are read back from the store (EachChange with RunID).
	keep bool

	items    batch // staged records: seq, key, hash, full, content
	nextItem int64
	nextPage int64
	content  []byte
	// keys are the keys the run has seen without a staged record
	// (keySeen, keyReserved), or with one when the caller holds the
	// records (keyWithRecord, ApplyRun): the caller's strings, not
	// copies. A crawl's staged records are in recHashes instead.
	keys map[string]uint8
	// recHashes holds a 128-bit hash of the key of each record staged in
	// run_items (~20 bytes a key, not the key): a key not in it is new to
	// the run; one in it is looked up in run_items (a repeat, or another
	// key with the same hash). recKeys counts those keys.
	recHashes map[keyHash]struct{}
	recKeys   int
	// seenSet is the digest of every key the run has seen (with a record
	// or without), recSet of those with a staged record (keyset.go).
	seenSet, recSet keySet
	keySeeds        [2]maphash.Seed
	hashOf          func(string) keyHash // tests: a hash with collisions; nil: hashKey's own
	dups            dupKeys              // records ignored for a key already staged
	// held are the staged records by seq when the caller holds them
	// anyway (ApplyRun): changes then point at them, not at decoded
	// copies.
	held []*record.Record
	// heldHash and heldFull are their hashes (heldFull[i] "" when it is
	// heldHash[i]). Finish writes them, with each record's seq and key,
	// as run_held rows to compare with the store's, unless the source has
	// no records to compare with.
	heldHash, heldFull []string
	// extraNames are the extra field names of the staged records.
	extraNames map[string]bool
	pages      batch // staged page outcomes, written in batches
	stmts      []*sql.Stmt
	finished   bool
	closed     bool
	stagedRecs int
	times      SessionTimes
	inFinish   bool // Finish is staging what it was given: its time counts as Finish's
}

// SessionTimes is the wall time a session spent in its methods, for
// profiling: staging (AddRecords, AddSeen and AddPage, called while the
// run is crawled) and Finish (including the staging of what it was
// given, and the run's transaction).
type SessionTimes struct {
	Stage  time.Duration
	Stages int // staging calls
	Finish time.Duration
}

// Times is the time the session spent so far; it may be read after
// Finish or Close.
func (rs *RunSession) Times() SessionTimes { return rs.times }

// timeStage adds the time since start to the staging time; deferred by
// the staging methods.
func (rs *RunSession) timeStage(start time.Time) {
	if rs.inFinish {
		return
	}
	rs.times.Stage += time.Since(start)
	rs.times.Stages++
}

// stagingSchema is the session's temporary tables. run_items holds the
// records in the order the crawl saw them (seq), the first occurrence of
// each key only, without content when the store held it unchanged as it
// was staged; when the caller holds the records (ApplyRun) run_held
// holds their seq, key and hashes instead; run_staged_pages the page
// outcomes in order.
const stagingSchema = `
CREATE TEMP TABLE run_items (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, hash TEXT NOT NULL, full TEXT NOT NULL, content BLOB);
CREATE INDEX temp.run_items_key ON run_items (key);
CREATE TEMP TABLE run_held (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, hash TEXT NOT NULL, full TEXT NOT NULL);
CREATE TEMP TABLE run_staged_pages (seq INTEGER PRIMARY KEY, url TEXT NOT NULL, status INTEGER NOT NULL, bytes INTEGER NOT NULL,
	duration_ns INTEGER NOT NULL, items INTEGER NOT NULL, error TEXT NOT NULL, not_modified INTEGER NOT NULL,
	etag TEXT NOT NULL, last_modified TEXT NOT NULL, body_hash TEXT NOT NULL, keys TEXT NOT NULL, next TEXT NOT NULL);`

// BeginRun starts staging a run of source. ignoreChanges are the fields
// excluded from change detection (the seed's ignore_changes): records
// are hashed as they are staged. The caller must Close the session.
func (s *Store) BeginRun(ctx context.Context, source string, ignoreChanges []string) (*RunSession, error) {
	return s.beginRun(ctx, source, ignoreChanges, false)
}

func (s *Store) beginRun(ctx context.Context, source string, ignore []string, keep bool) (*RunSession, error) {
	if source == "" {
		return nil, errors.New("begin run: empty source")
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("source %s: begin run: connection: %w", source, err)
	}
	rs := &RunSession{s: s, conn: conn, source: source, ignore: ignore, keep: keep, keys: map[string]uint8{},
		recHashes: map[keyHash]struct{}{}, keySeeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	// Staged rows go to a temporary file, not memory (the point of
	// staging). They are written in one deferred transaction that only
	// ever touches the temporary database: it takes no lock on the store,
	// and spares a commit per statement.
	if _, err := conn.ExecContext(ctx, `PRAGMA temp_store = FILE; `+stagingSchema+`; PRAGMA temp.journal_mode = MEMORY; BEGIN`); err != nil {
		rs.Close()
		return nil, fmt.Errorf("source %s: begin run: create staging tables: %w", source, err)
	}
	rs.items = batch{
		head:  `INSERT INTO temp.run_items (seq, key, hash, full, content) VALUES `,
		row:   `(?%d, ?%d, ?%d, ?%d, ?%d)`,
		width: 5,
	}
	// The batch's three shared values (?1-?3) are not used here: bound
	// to nothing, they keep batch.sqlFor's numbering.
	rs.items.args = append(make([]any, 0, 3+batchRows*rs.items.width), nil, nil, nil)
	rs.pages = batch{
		head: `INSERT INTO temp.run_staged_pages (seq, url, status, bytes, duration_ns, items, error, not_modified,
			etag, last_modified, body_hash, keys, next) VALUES `,
		row:   `(?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d)`,
		width: 13,
	}
	rs.pages.args = append(make([]any, 0, 3+pageRows*rs.pages.width), nil, nil, nil)
	return rs, nil
}

// Close drops what the session staged and releases its connection. A
// session closed before Finish stores nothing.
func (rs *RunSession) Close() error {
	if rs.closed {
		return nil
	}
	rs.closed = true
	for _, st := range rs.stmts {
		st.Close()
	}
	// The connection is not given back to the pool but closed, which
	// deletes the temporary file with whatever was staged.
	err := rs.conn.Raw(func(any) error { return driver.ErrBadConn })
	if errors.Is(err, driver.ErrBadConn) {
		err = nil
	}
	if cerr := rs.conn.Close(); err == nil && !errors.Is(cerr, sql.ErrConnDone) {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("source %s: close run session: %w", rs.source, err)
	}
	return nil
}

func (rs *RunSession) usable() error {
	if rs.closed || rs.finished {
		return fmt.Errorf("source %s: run session already finished", rs.source)
	}
	return nil
}

// AddRecords stages records seen on one page, in page order; the first
// record of a key wins over later ones. It returns how many of their
// keys the run had not seen before (on any page, with or without
// content).
func (rs *RunSession) AddRecords(ctx context.Context, recs []record.Record) (newKeys int, err error) {
	defer rs.timeStage(time.Now())
	if err := rs.usable(); err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	for i := range recs {
		r := &recs[i]
		if r.Key == "" {
			return 0, fmt.Errorf("source %s: stage record %d (%q): no key", rs.source, rs.stagedRecs+i+1, r.Title)
		}
		if r.Source != "" && r.Source != rs.source {
			return 0, fmt.Errorf("source %s: stage record %d (key %s): belongs to source %q", rs.source, rs.stagedRecs+i+1, r.Key, r.Source)
		}
	}
	hashes, fulls := hashAll(recs, rs.ignore)
	first, newKeys, err := rs.claim(ctx, recs, hashes, fulls)
	if err != nil {
		return 0, err
	}
	// The store's hashes spare staging the content of a record it holds
	// unchanged; when the caller holds the records (ApplyRun) no content
	// is staged anyway, and Finish compares the hashes.
	var stored map[string]storedState
	if !rs.keep {
		var err error
		if stored, err = rs.stored(ctx, recs, first); err != nil {
			return 0, err
		}
	}
	for i := range recs {
		r := &recs[i]
		if first[i] == claimDup {
			if rs.dups.n++; len(rs.dups.shown) < 5 {
				rs.dups.shown = append(rs.dups.shown, r.Key)
			}
			continue
		}
		for k := range r.Extra {
			if !rs.extraNames[k] {
				if rs.extraNames == nil {
					rs.extraNames = map[string]bool{}
				}
				rs.extraNames[k] = true
			}
		}
		if rs.keep {
			continue // claim staged its key, seq and hashes
		}
		full := storedFull(hashes[i], fulls[i])
		if st, ok := stored[r.Key]; ok && st.hash == hashes[i] && st.full == full {
			// Unchanged in the store: staged without content, for Finish
			// to check that it still is.
			rs.items.args = append(rs.items.args, rs.nextItem, r.Key, hashes[i], full, nil)
			rs.nextItem++
			if rs.items.rows() >= batchRows {
				if err := rs.flushItems(ctx); err != nil {
					return 0, err
				}
			}
			continue
		}
		// The content bytes stay in rs.content until the batch is
		// written; a full buffer is replaced, not reused, so that queued
		// rows keep their bytes.
		if len(rs.content)+4096 > cap(rs.content) {
			rs.content = make([]byte, 0, max(256<<10, 2*cap(rs.content)))
		}
		start := len(rs.content)
		rs.content = appendContent(rs.content, r)
		c := rs.content[start:len(rs.content):len(rs.content)]
		rs.items.args = append(rs.items.args, rs.nextItem, r.Key, hashes[i], full, c)
		rs.nextItem++
		if rs.items.rows() >= batchRows {
			if err := rs.flushItems(ctx); err != nil {
				return 0, err
			}
		}
	}
	rs.stagedRecs += len(recs)
	return newKeys, nil
}

// storedState is the store's current hashes of a key (full as stored:
// "" when it is the content hash).
type storedState struct{ hash, full string }

// stored reads the hashes the store holds of the current (not removed)
// records among recs[i] not claimDup, through the store's own
// connections: the session's connection holds no snapshot of the store
// while the run is crawled.
func (rs *RunSession) stored(ctx context.Context, recs []record.Record, first []uint8) (map[string]storedState, error) {
	out := map[string]storedState{}
	for lo := 0; lo < len(recs); lo += batchRows * 5 {
		var keys []string
		for i := lo; i < min(lo+batchRows*5, len(recs)); i++ {
			if first[i] != claimDup {
				keys = append(keys, recs[i].Key)
			}
		}
		if len(keys) == 0 {
			continue
		}
		kj, err := jsonList(keys)
		if err != nil {
			return nil, fmt.Errorf("source %s: stage records: encode keys: %w", rs.source, err)
		}
		rows, err := rs.s.db.QueryContext(ctx, `SELECT key, content_hash, full_hash FROM records
			WHERE source = ? AND key IN (SELECT value FROM json_each(?)) AND removed_at IS NULL`, rs.source, kj)
		if err != nil {
			return nil, fmt.Errorf("source %s: stage records: read stored state: %w", rs.source, err)
		}
		for rows.Next() {
			var k string
			var st storedState
			if err := rows.Scan(&k, &st.hash, &st.full); err != nil {
				rows.Close()
				return nil, fmt.Errorf("source %s: stage records: read stored state: %w", rs.source, err)
			}
			if st.full == st.hash {
				st.full = ""
			}
			out[k] = st
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("source %s: stage records: read stored state: %w", rs.source, err)
		}
	}
	return out, nil
}

// How claim finds a record's key: new to the run, seen before without
// content (a page not modified), or already claimed by an earlier record
// (a duplicate, ignored).
const (
	claimDup uint8 = iota
	claimNew
	claimSeen
)

// How the run has seen a key (the values of RunSession.keys).
const (
	keyUnseen     uint8 = iota
	keySeen             // without content: its page was not modified
	keyWithRecord       // a record of it was staged
	keyReserved         // for a record the caller will stage later (ReserveKeys)
)

// keyHash is a 128-bit hash of a key (two 64-bit hashes, each with its
// own seed).
type keyHash [2]uint64

func (rs *RunSession) hashKey(key string) keyHash {
	if rs.hashOf != nil {
		return rs.hashOf(key)
	}
	return keyHash{maphash.String(rs.keySeeds[0], key), maphash.String(rs.keySeeds[1], key)}
}

// claim marks the keys of recs seen with content. first[i] is claimDup
// unless recs[i] is the first record of its key in the run (the one that
// wins); newKeys counts the keys the run had not seen at all. When the
// caller holds the records, it keeps them with their hashes.
func (rs *RunSession) claim(ctx context.Context, recs []record.Record, hashes, fulls []string) (first []uint8, newKeys int, err error) {
	first = make([]uint8, len(recs))
	for i := range recs {
		r := &recs[i]
		switch rs.keys[r.Key] {
		case keyWithRecord, keySeen:
			// The key's first listing in the run wins: an earlier
			// record, or an earlier page not modified, whose stored
			// record stands for it (a later copy winning would flip the
			// record between its two listings night after night).
			continue // first[i] = claimDup
		case keyReserved:
			first[i] = claimSeen
			rs.keys[r.Key] = keyWithRecord
			rs.recSet.add(r.Key)
		case keyUnseen:
			if rs.keep {
				newKeys++
				first[i] = claimNew
				rs.keys[r.Key] = keyWithRecord
				lo, hi := keyHash128(r.Key)
				rs.seenSet.addHash(lo, hi)
				rs.recSet.addHash(lo, hi)
				break
			}
			h := rs.hashKey(r.Key)
			if _, ok := rs.recHashes[h]; ok {
				// A repeat, or another key of the same hash: an earlier
				// record of this call (not queued yet), or a staged one.
				staged := slices.ContainsFunc(recs[:i], func(p record.Record) bool { return p.Key == r.Key })
				if !staged {
					if staged, err = rs.staged(ctx, r.Key); err != nil {
						return nil, 0, err
					}
				}
				if staged {
					continue // a repeat: first[i] = claimDup
				}
			}
			newKeys++
			first[i] = claimNew
			rs.recHashes[h] = struct{}{}
			rs.recKeys++
			lo, hi := keyHash128(r.Key)
			rs.seenSet.addHash(lo, hi)
			rs.recSet.addHash(lo, hi)
		}
		if rs.keep {
			// Its seq is its index in rs.held.
			rs.held = append(rs.held, r)
			rs.heldHash = append(rs.heldHash, hashes[i])
			rs.heldFull = append(rs.heldFull, storedFull(hashes[i], fulls[i]))
		}
	}
	return first, newKeys, nil
}

// staged tells whether a record of key is staged: queued, or in
// run_items.
func (rs *RunSession) staged(ctx context.Context, key string) (bool, error) {
	for i := 4; i < len(rs.items.args); i += rs.items.width {
		if rs.items.args[i].(string) == key {
			return true, nil
		}
	}
	var one int
	switch err := rs.conn.QueryRowContext(ctx, `SELECT 1 FROM temp.run_items WHERE key = ?`, key).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil // another key of the same hash
	case err != nil:
		return false, fmt.Errorf("source %s: look up staged key %s: %w", rs.source, key, err)
	}
	return true, nil
}

// ExpectKeys tells the session that the run will see about n keys (as
// many as the last run saw), so that its key set is sized once rather
// than grown step by step. It does nothing once a key was staged.
func (rs *RunSession) ExpectKeys(n int) {
	if len(rs.keys) == 0 && n > 0 {
		rs.keys = make(map[string]uint8, n)
	}
}

// AddSeen stages keys seen without content (the items of a page not
// modified since the last run, which the store holds: a page state's
// keys): the stored records stand for them, and
// a record of one of these keys staged later in the run is a duplicate
// (the first listing wins). It returns how many of them the run had not
// seen before. The session keeps the key strings themselves until it is
// closed.
func (rs *RunSession) AddSeen(ctx context.Context, keys []string) (newKeys int, err error) {
	defer rs.timeStage(time.Now())
	if err := rs.usable(); err != nil {
		return 0, err
	}
	return rs.addSeen(ctx, keys, keySeen)
}

// ReserveKeys stages the keys of records the caller holds back and will
// stage later with AddRecords (a seed whose records wait for their
// detail pages): they count as seen now, in page order, and their
// records, when they come, are not duplicates. A key seen earlier in the
// run stays with its earlier listing. It returns how many of the keys the
// run had not seen before.
func (rs *RunSession) ReserveKeys(ctx context.Context, keys []string) (newKeys int, err error) {
	defer rs.timeStage(time.Now())
	if err := rs.usable(); err != nil {
		return 0, err
	}
	return rs.addSeen(ctx, keys, keyReserved)
}

// addSeen notes the keys the run has not seen yet as how, and returns
// how many there were. The key strings are kept as they are, not copied:
// the caller's page states hold them for the run anyway.
func (rs *RunSession) addSeen(ctx context.Context, keys []string, how uint8) (int, error) {
	n := 0
	for _, key := range keys {
		if _, ok := rs.keys[key]; ok {
			continue
		}
		if len(rs.recHashes) > 0 {
			if _, ok := rs.recHashes[rs.hashKey(key)]; ok {
				staged, err := rs.staged(ctx, key)
				if err != nil {
					return 0, err
				}
				if staged {
					continue // seen with its record
				}
			}
		}
		n++
		rs.keys[key] = how
		rs.seenSet.add(key)
	}
	return n, nil
}

// AddPage stages the outcome of one fetched page, in the order pages
// were taken into the run.
func (rs *RunSession) AddPage(ctx context.Context, p PageOutcome) error {
	defer rs.timeStage(time.Now())
	if err := rs.usable(); err != nil {
		return err
	}
	kj, err := jsonList(p.Keys)
	if err != nil {
		return fmt.Errorf("source %s: stage page %s: encode keys: %w", rs.source, p.URL, err)
	}
	nj, err := jsonList(p.Next)
	if err != nil {
		return fmt.Errorf("source %s: stage page %s: encode next links: %w", rs.source, p.URL, err)
	}
	rs.pages.args = append(rs.pages.args, rs.nextPage, p.URL, p.Status, p.Bytes, int64(p.Duration), p.Items, p.Err, p.NotModified,
		p.ETag, p.LastModified, p.BodyHash, kj, nj)
	rs.nextPage++
	if rs.pages.rows() >= pageRows {
		return rs.flushBatch(ctx, &rs.pages, "pages")
	}
	return nil
}

// pageRows is how many staged page outcomes one INSERT writes.
const pageRows = 50

// flushItems writes the queued staged records.
func (rs *RunSession) flushItems(ctx context.Context) error {
	if err := rs.flushBatch(ctx, &rs.items, "records"); err != nil {
		return err
	}
	rs.content = rs.content[:0]
	return nil
}

// flushBatch writes a batch of staged rows (b's first three values are
// unused) and empties it.
func (rs *RunSession) flushBatch(ctx context.Context, b *batch, what string) error {
	n := b.rows()
	if n == 0 {
		return nil
	}
	st := b.full
	full := n == batchRows && b != &rs.pages || b == &rs.pages && n == pageRows
	if !full || st == nil {
		var err error
		if st, err = rs.conn.PrepareContext(ctx, b.sqlFor(n)); err != nil {
			return fmt.Errorf("source %s: stage %s: prepare: %w", rs.source, what, err)
		}
		if full {
			b.full = st
			rs.stmts = append(rs.stmts, st)
		} else {
			defer st.Close()
		}
	}
	if _, err := st.ExecContext(ctx, b.args...); err != nil {
		return fmt.Errorf("source %s: stage %d %s: %w", rs.source, n, what, err)
	}
	clear(b.args[3:])
	b.args = b.args[:3]
	return nil
}

// Finish stages in.Records, in.SeenKeys and in.Pages as AddRecords,
// AddSeen and AddPage would, then applies everything the session staged
// as one run of in.Source, in one transaction (see ApplyRun for the
// semantics). On any error nothing of the run is kept. The session is
// closed after.
func (rs *RunSession) Finish(ctx context.Context, in RunInput) (*RunResult, error) {
	defer rs.Close()
	rs.inFinish = true
	defer func(start time.Time) {
		rs.times.Finish += time.Since(start)
		rs.inFinish = false
	}(time.Now())
	if err := rs.usable(); err != nil {
		return nil, err
	}
	if in.Source != rs.source {
		return nil, fmt.Errorf("source %s: apply run: the session stages source %q", in.Source, rs.source)
	}
	if err := validate(&in); err != nil {
		return nil, err
	}
	if _, err := rs.AddRecords(ctx, in.Records); err != nil {
		return nil, fmt.Errorf("source %s: apply run: %w", in.Source, err)
	}
	if _, err := rs.AddSeen(ctx, in.SeenKeys); err != nil {
		return nil, fmt.Errorf("source %s: apply run: %w", in.Source, err)
	}
	for _, p := range in.Pages {
		if err := rs.AddPage(ctx, p); err != nil {
			return nil, fmt.Errorf("source %s: apply run: %w", in.Source, err)
		}
	}
	if err := rs.flushItems(ctx); err != nil {
		return nil, fmt.Errorf("source %s: apply run: %w", in.Source, err)
	}
	if err := rs.flushBatch(ctx, &rs.pages, "pages"); err != nil {
		return nil, fmt.Errorf("source %s: apply run: %w", in.Source, err)
	}
	rs.finished = true
	in.Records, in.SeenKeys, in.Pages = nil, nil, nil
	if _, err := rs.conn.ExecContext(ctx, `COMMIT`); err != nil {
		return nil, fmt.Errorf("source %s: apply run: end staging: %w", in.Source, err)
	}

	s := rs.s
	tx, err := rs.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("source %s: apply run: begin: %w", in.Source, err)
	}
	defer tx.Rollback()
	a := &applier{s: s, tx: tx, in: &in, now: s.opts.Now().UTC(), keep: rs.keep, dups: rs.dups, seen: rs.keys, seenRecords: rs.recKeys, seenSet: rs.seenSet, recSet: rs.recSet, held: rs.held, heldHash: rs.heldHash, heldFull: rs.heldFull, extraNames: rs.extraNames}
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
