package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// migrations is the schema history, oldest first. Step i (0-based) takes
// the schema from version i to version i+1; each step runs in its own
// transaction together with the update of schema_version. Never edit a
// step that has shipped: append a new one.
//
// The SQL is kept plain (no SQLite-only types or functions beyond
// AUTOINCREMENT) so that a PostgreSQL implementation can follow the same
// shape. Times are INTEGER unix nanoseconds, UTC; NULL means "none".
var migrations = []migration{
	// 1: runs, pages, page states, records, versions, changes.
	{sql: `
CREATE TABLE runs (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	source       TEXT    NOT NULL,
	started_at   INTEGER,
	finished_at  INTEGER,
	applied_at   INTEGER NOT NULL,
	status       TEXT    NOT NULL,
	reason       TEXT    NOT NULL DEFAULT '',
	pages        INTEGER NOT NULL DEFAULT 0,
	pages_failed INTEGER NOT NULL DEFAULT 0,
	seen         INTEGER NOT NULL DEFAULT 0,
	added        INTEGER NOT NULL DEFAULT 0,
	updated      INTEGER NOT NULL DEFAULT 0,
	removed      INTEGER NOT NULL DEFAULT 0,
	restored     INTEGER NOT NULL DEFAULT 0,
	held         INTEGER NOT NULL DEFAULT 0,
	dropped      INTEGER NOT NULL DEFAULT 0,
	warnings     INTEGER NOT NULL DEFAULT 0,
	warning_text TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX runs_source_id ON runs (source, id);

CREATE TABLE run_pages (
	run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq          INTEGER NOT NULL,
	url          TEXT    NOT NULL,
	status       INTEGER NOT NULL DEFAULT 0,
	bytes        INTEGER NOT NULL DEFAULT 0,
	duration_ns  INTEGER NOT NULL DEFAULT 0,
	items        INTEGER NOT NULL DEFAULT 0,
	error        TEXT    NOT NULL DEFAULT '',
	not_modified INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, seq)
);

CREATE TABLE page_states (
	source        TEXT    NOT NULL,
	url           TEXT    NOT NULL,
	etag          TEXT    NOT NULL DEFAULT '',
	last_modified TEXT    NOT NULL DEFAULT '',
	body_hash     TEXT    NOT NULL DEFAULT '',
	keys          TEXT    NOT NULL DEFAULT '[]',
	next          TEXT    NOT NULL DEFAULT '[]',
	run_id        INTEGER NOT NULL REFERENCES runs (id),
	PRIMARY KEY (source, url)
);

-- versions holds every content version of every record, as the JSON of
-- record.MarshalContent. content_hash is the hash used for change
-- detection (minus ignored fields), full_hash the hash of every field.
CREATE TABLE versions (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	source       TEXT    NOT NULL,
	key          TEXT    NOT NULL,
	run_id       INTEGER NOT NULL REFERENCES runs (id),
	at           INTEGER NOT NULL,
	content_hash TEXT    NOT NULL,
	full_hash    TEXT    NOT NULL,
	content      TEXT    NOT NULL
);
CREATE INDEX versions_record ON versions (source, key, id);

-- records is the current state of every key ever seen per source.
CREATE TABLE records (
	source       TEXT    NOT NULL,
	key          TEXT    NOT NULL,
	version_id   INTEGER NOT NULL REFERENCES versions (id),
	content_hash TEXT    NOT NULL,
	full_hash    TEXT    NOT NULL,
	first_seen   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	last_changed INTEGER NOT NULL,
	removed_at   INTEGER,
	missed       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (source, key)
);

-- changes is append-only; its id is the cursor export consumers keep.
CREATE TABLE changes (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id     INTEGER NOT NULL REFERENCES runs (id),
	source     TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	kind       TEXT    NOT NULL,
	at         INTEGER NOT NULL,
	version_id INTEGER NOT NULL REFERENCES versions (id),
	fields     TEXT
);
CREATE INDEX changes_run ON changes (run_id);
CREATE INDEX changes_source_id ON changes (source, id);
CREATE INDEX changes_at ON changes (at);
`},
	// 2: the webhook outbox and the daemon's per-source schedule and lease.
	{sql: `
-- outbox holds one row per webhook event, written in the transaction of
-- the run that caused it; event_id is the webhook-id a receiver sees.
CREATE TABLE outbox (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id     TEXT    NOT NULL,
	subscription TEXT    NOT NULL,
	run_id       INTEGER REFERENCES runs (id),
	payload      BLOB    NOT NULL,
	created_at   INTEGER NOT NULL,
	next_at      INTEGER NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT    NOT NULL DEFAULT '',
	delivered_at INTEGER,
	dead_at      INTEGER,
	dead_reason  TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX outbox_event ON outbox (event_id);
CREATE INDEX outbox_pending ON outbox (next_at) WHERE delivered_at IS NULL AND dead_at IS NULL;

-- source_schedule is what "harvest serve" keeps per source: when the next
-- run is due, how the last one went, the failure streak behind a backoff,
-- and the lease that keeps two processes from running one source at once.
CREATE TABLE source_schedule (
	source               TEXT    PRIMARY KEY,
	next_due             INTEGER NOT NULL,
	last_run_at          INTEGER,
	last_run_id          INTEGER,
	last_status          TEXT    NOT NULL DEFAULT '',
	consecutive_failures INTEGER NOT NULL DEFAULT 0,
	backoff_until        INTEGER,
	note                 TEXT    NOT NULL DEFAULT '',
	lease_owner          TEXT    NOT NULL DEFAULT '',
	lease_until          INTEGER
);
`},
	// 3: versions.content may hold the compact binary encoding of
	// content.go (JSON rows stay readable); versions_record, an index no
	// query uses, goes: it cost every new version a random-order insert.
	{sql: `
DROP INDEX IF EXISTS versions_record;
`},
	// 4: extra_names lists, per source, every extra field name its
	// versions have had: the extra.NAME columns of a CSV export without
	// seeds, read without decoding every record. fillExtraNames fills it
	// from the versions already stored; ApplyRun keeps it.
	{sql: `
CREATE TABLE extra_names (
	source TEXT NOT NULL,
	name   TEXT NOT NULL,
	PRIMARY KEY (source, name)
) WITHOUT ROWID;
`, fill: fillExtraNames},
	// 5: sweeps (seen.go). written_by is the run that last wrote a
	// records row; source_sweeps the last run of each source that saw
	// every current record it did not write. An unchanged run then marks
	// its records seen with one row instead of rewriting every one.
	{sql: `
ALTER TABLE records ADD COLUMN written_by INTEGER NOT NULL DEFAULT 0;
CREATE TABLE source_sweeps (
	source TEXT    PRIMARY KEY,
	run_id INTEGER NOT NULL REFERENCES runs (id),
	at     INTEGER NOT NULL
) WITHOUT ROWID;
`},
	// 6: records kept in (source, key) order (WITHOUT ROWID): a run's
	// walk over its source's current records (seen.go) and an export
	// read them in that order, page after page, instead of looking each
	// row up from an index. Nothing refers to records by rowid.
	{sql: `
CREATE TABLE records_by_key (
	source       TEXT    NOT NULL,
	key          TEXT    NOT NULL,
	version_id   INTEGER NOT NULL REFERENCES versions (id),
	content_hash TEXT    NOT NULL,
	full_hash    TEXT    NOT NULL,
	first_seen   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	last_changed INTEGER NOT NULL,
	removed_at   INTEGER,
	missed       INTEGER NOT NULL DEFAULT 0,
	written_by   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (source, key)
) WITHOUT ROWID;
INSERT INTO records_by_key (source, key, version_id, content_hash, full_hash, first_seen, last_seen, last_changed, removed_at, missed, written_by)
	SELECT source, key, version_id, content_hash, full_hash, first_seen, last_seen, last_changed, removed_at, missed, written_by FROM records ORDER BY source, key;
DROP TABLE records;
ALTER TABLE records_by_key RENAME TO records;
`},
	// 7: source_keys holds, per source, a digest of its current record
	// keys (keyset.go): a run whose seen keys have the same digest saw
	// every current record, and reads none of them to find the missed
	// ones. fillKeySets computes it for the records already stored; every
	// run keeps it. A source without current records has no row.
	{sql: `
CREATE TABLE source_keys (
	source TEXT    PRIMARY KEY,
	n      INTEGER NOT NULL,
	lo     INTEGER NOT NULL,
	hi     INTEGER NOT NULL
) WITHOUT ROWID;
`, fill: fillKeySets},
}

// A migration is one step of the schema history: sql, then fill, if set,
// for what a statement cannot compute (the binary content of versions),
// in the same transaction.
type migration struct {
	sql  string
	fill func(ctx context.Context, tx *sql.Tx) error
}

// fillExtraNames fills extra_names from every stored version.
func fillExtraNames(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT source, CAST(content AS TEXT) FROM versions`)
	if err != nil {
		return fmt.Errorf("read versions: %w", err)
	}
	defer rows.Close()
	type pair struct{ source, name string }
	names := map[pair]bool{}
	var source, content string
	for rows.Next() {
		if err := rows.Scan(&source, &content); err != nil {
			return fmt.Errorf("read versions: %w", err)
		}
		if err := extraNames(content, func(n string) {
			if p := (pair{source, n}); !names[p] {
				names[pair{strings.Clone(source), strings.Clone(n)}] = true
			}
		}); err != nil {
			return fmt.Errorf("read versions: source %s: decode: %w", source, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read versions: %w", err)
	}
	for p := range names {
		if _, err := tx.ExecContext(ctx, `INSERT INTO extra_names (source, name) VALUES (?, ?)`, p.source, p.name); err != nil {
			return fmt.Errorf("note extra field %q of %s: %w", p.name, p.source, err)
		}
	}
	return nil
}
