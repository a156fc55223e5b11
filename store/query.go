package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// SourceSummary is what the store holds of one source.
type SourceSummary struct {
	Source  string `json:"source"`
	Records int    `json:"records"` // current (not removed) records
	Removed int    `json:"removed"` // records removed and not seen since
	LastRun *Run   `json:"last_run,omitempty"`
}

const runColumns = `id, source, started_at, finished_at, status, reason, pages, pages_failed, seen,
	added, updated, removed, restored, held, dropped, warnings`

type scanner interface{ Scan(dest ...any) error }

func scanRun(sc scanner) (*Run, error) {
	var r Run
	var started, finished sql.NullInt64
	if err := sc.Scan(&r.ID, &r.Source, &started, &finished, &r.Status, &r.Reason, &r.Pages, &r.PagesFailed,
		&r.Seen, &r.Added, &r.Updated, &r.Removed, &r.Restored, &r.Held, &r.Dropped, &r.Warnings); err != nil {
		return nil, err
	}
	r.StartedAt, r.FinishedAt = fromNanos(started), fromNanos(finished)
	return &r, nil
}

// Runs lists runs newest first: of one source when f.Source is set, with
// id < f.Before when it is positive, at most f.Limit when it is positive.
func (s *Store) Runs(ctx context.Context, f RunFilter) ([]Run, error) {
	var where []string
	var args []any
	if f.Source != "" {
		where, args = append(where, "source = ?"), append(args, f.Source)
	}
	if f.Before > 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	q := `SELECT ` + runColumns + ` FROM runs` + whereClause(where) + ` ORDER BY id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// Run returns one run and its pages in fetch order. A run that does not
// exist gives an error wrapping ErrNotFound.
func (s *Store) Run(ctx context.Context, id int64) (*Run, []PageOutcome, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("run %d: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT url, status, bytes, duration_ns, items, error, not_modified
		FROM run_pages WHERE run_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("run %d: pages: %w", id, err)
	}
	defer rows.Close()
	var pages []PageOutcome
	for rows.Next() {
		var p PageOutcome
		var d int64
		if err := rows.Scan(&p.URL, &p.Status, &p.Bytes, &d, &p.Items, &p.Err, &p.NotModified); err != nil {
			return nil, nil, fmt.Errorf("run %d: pages: %w", id, err)
		}
		p.Duration = time.Duration(d)
		pages = append(pages, p)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("run %d: pages: %w", id, err)
	}
	return r, pages, nil
}

// RunWarnings returns the warnings stored with a run, in the order given.
func (s *Store) RunWarnings(ctx context.Context, id int64) ([]string, error) {
	var wj string
	err := s.db.QueryRowContext(ctx, `SELECT warning_text FROM runs WHERE id = ?`, id).Scan(&wj)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("run %d: warnings: %w", id, err)
	}
	var ws []string
	if err := json.Unmarshal([]byte(wj), &ws); err != nil {
		return nil, fmt.Errorf("run %d: decode warnings: %w", id, err)
	}
	return ws, nil
}

// LastRun returns the newest run of a source, or nil when it has none.
func (s *Store) LastRun(ctx context.Context, source string) (*Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx,
		`SELECT `+runColumns+` FROM runs WHERE source = ? ORDER BY id DESC LIMIT 1`, source))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: last run: %w", source, err)
	}
	return r, nil
}

// PageState returns what the store remembers of a listing URL of a
// source, or nil when the URL was never parsed successfully.
func (s *Store) PageState(ctx context.Context, source, url string) (*PageState, error) {
	var p *PageState
	err := s.eachPageState(ctx, `SELECT url, etag, last_modified, body_hash, keys, next FROM page_states WHERE source = ? AND url = ?`,
		[]any{source, url}, func(ps *PageState) { p = ps })
	if err != nil {
		return nil, fmt.Errorf("source %s: page state of %s: %w", source, url, err)
	}
	return p, nil
}

// PageStates returns what the store remembers of every listing URL of a
// source, keyed by URL: one query where a run would otherwise ask page by
// page.
func (s *Store) PageStates(ctx context.Context, source string) (map[string]*PageState, error) {
	out := map[string]*PageState{}
	err := s.eachPageState(ctx, `SELECT url, etag, last_modified, body_hash, keys, next FROM page_states WHERE source = ?`,
		[]any{source}, func(ps *PageState) { out[ps.URL] = ps })
	if err != nil {
		return nil, fmt.Errorf("source %s: page states: %w", source, err)
	}
	return out, nil
}

func (s *Store) eachPageState(ctx context.Context, query string, args []any, fn func(*PageState)) error {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		p := &PageState{}
		var kj, nj string
		if err := rows.Scan(&p.URL, &p.ETag, &p.LastModified, &p.BodyHash, &kj, &nj); err != nil {
			return err
		}
		if p.Keys, err = decodeList(kj); err != nil {
			return fmt.Errorf("%s: decode keys: %w", p.URL, err)
		}
		if p.Next, err = decodeList(nj); err != nil {
			return fmt.Errorf("%s: decode next links: %w", p.URL, err)
		}
		if len(p.Keys) == 0 {
			p.Keys = nil
		}
		if len(p.Next) == 0 {
			p.Next = nil
		}
		fn(p)
	}
	return rows.Err()
}

// decodeList decodes a JSON array of strings as jsonList writes it. The
// usual list (no escapes, no spaces, valid UTF-8: page keys and links
// without '&', '<' or '>') is split as is, its strings sharing j's
// memory; any other goes through encoding/json. Loading a source's page
// states decodes every key of the source.
func decodeList(j string) ([]string, error) {
	if vs, ok := splitPlainList(j); ok {
		return vs, nil
	}
	var vs []string
	if err := json.Unmarshal([]byte(j), &vs); err != nil {
		return nil, err
	}
	return vs, nil
}

// splitPlainList splits ["a","b",...] whose strings hold no backslash,
// quote or control character and are valid UTF-8; ok is false for
// anything else.
func splitPlainList(j string) (vs []string, ok bool) {
	if len(j) < 2 || j[0] != '[' || j[len(j)-1] != ']' {
		return nil, false
	}
	body := j[1 : len(j)-1]
	if body == "" {
		return []string{}, true
	}
	vs = make([]string, 0, strings.Count(body, `","`)+1)
	for {
		if len(body) < 2 || body[0] != '"' {
			return nil, false
		}
		end := strings.IndexByte(body[1:], '"') + 1
		if end == 0 {
			return nil, false
		}
		v := body[1:end]
		for i := 0; i < len(v); i++ {
			if c := v[i]; c == '\\' || c < 0x20 {
				return nil, false
			}
		}
		if !utf8.ValidString(v) {
			return nil, false
		}
		vs = append(vs, v)
		body = body[end+1:]
		if body == "" {
			return vs, true
		}
		if body[0] != ',' {
			return nil, false
		}
		body = body[1:]
	}
}

// inList appends "col IN (?, ...)" for vs to the where clauses.
func inList(where []string, args []any, col string, vs []string) ([]string, []any) {
	if len(vs) == 0 {
		return where, args
	}
	where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vs)), ", ")+")")
	for _, v := range vs {
		args = append(args, v)
	}
	return where, args
}

func whereClause(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}

// ExtraNames returns, sorted, the names of the extra fields that any
// version of any record of f.Sources (all sources when empty) has had, or
// that the seed of any of their runs configured (RunInput.ExtraFields):
// the extra.NAME columns of a CSV export when no seed says which. The
// store keeps the list as it writes versions, so it costs nothing to read
// however many records there are, and a column does not disappear from
// a nightly export when the last record with that field goes. Only
// f.Sources is used.
func (s *Store) ExtraNames(ctx context.Context, f RecordFilter) ([]string, error) {
	where, args := inList(nil, nil, "source", f.Sources)
	names, err := queryStrings(ctx, s.db, `SELECT DISTINCT name FROM extra_names`+whereClause(where)+` ORDER BY name`, args...)
	if err != nil {
		return nil, fmt.Errorf("list extra names: %w", err)
	}
	return names, nil
}

// changeColumns are the columns scanChange reads, from changes c joined
// with versions v.
const changeColumns = `c.id, c.run_id, c.source, c.key, c.kind, c.at, c.fields, v.content_hash, CAST(v.content AS TEXT)`

// scanChange reads one row of changeColumns into c, which it overwrites.
func scanChange(sc scanner, c *Change) error {
	var (
		at      sql.NullInt64
		fields  []byte
		hash    string
		content string
	)
	*c = Change{}
	if err := sc.Scan(&c.ID, &c.RunID, &c.Source, &c.Key, &c.Kind, &at, &fields, &hash, &content); err != nil {
		return err
	}
	c.At = fromNanos(at)
	if err := decodeContent(content, &c.Record); err != nil {
		return fmt.Errorf("change %d: decode record: %w", c.ID, err)
	}
	c.Record.Source, c.Record.Key, c.Record.ContentHash = c.Source, c.Key, hash
	if len(fields) > 0 {
		if err := json.Unmarshal(fields, &c.Fields); err != nil {
			return fmt.Errorf("change %d: decode fields: %w", c.ID, err)
		}
	}
	if c.Kind == KindRemoved {
		t := c.At
		c.Record.RemovedAt = &t
	}
	return nil
}

// EachChange calls fn for each change selected by f, in change id order
// (the order they were made). Change.Record holds the record's content
// and content hash as of the change (a removed record: its last version,
// with RemovedAt set to the change time); its other bookkeeping times are
// zero. Change.At is the store clock's time when the run was applied
// (what SinceTime compares). An error from fn stops the walk and is
// returned as is.
func (s *Store) EachChange(ctx context.Context, f ChangeFilter, fn func(*Change) error) error {
	where, args := inList(nil, nil, "c.source", f.Sources)
	where, args = inList(where, args, "c.kind", f.Kinds)
	if f.AfterID > 0 {
		where, args = append(where, "c.id > ?"), append(args, f.AfterID)
	}
	if f.SinceRun > 0 {
		where, args = append(where, "c.run_id >= ?"), append(args, f.SinceRun)
	}
	if !f.SinceTime.IsZero() {
		where, args = append(where, "c.at >= ?"), append(args, f.SinceTime.UnixNano())
	}
	if f.RunID > 0 {
		where, args = append(where, "c.run_id = ?"), append(args, f.RunID)
	}
	from := `changes c`
	if f.Last > 0 {
		// The newest Last matching ids, walked backwards on the primary key
		// (or the source index), then joined and yielded oldest first.
		from = `(SELECT * FROM changes c` + whereClause(where) + ` ORDER BY c.id DESC LIMIT ?) c`
		where, args = nil, append(args, f.Last)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+changeColumns+` FROM `+from+` JOIN versions v ON v.id = c.version_id`+
		whereClause(where)+` ORDER BY c.id`, args...)
	if err != nil {
		return fmt.Errorf("list changes: %w", err)
	}
	defer rows.Close()
	var c Change // reused: fn may not keep it
	for rows.Next() {
		if err := scanChange(rows, &c); err != nil {
			return fmt.Errorf("list changes: %w", err)
		}
		if err := fn(&c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list changes: %w", err)
	}
	return nil
}

// RunChanges returns the changes one run made, in the order it made them.
func (s *Store) RunChanges(ctx context.Context, runID int64) ([]Change, error) {
	var out []Change
	err := s.EachChange(ctx, ChangeFilter{RunID: runID}, func(c *Change) error {
		out = append(out, *c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("run %d: %w", runID, err)
	}
	return out, nil
}

// MaxChangeID returns the id of the newest change, 0 when there is none:
// the cursor a consumer that has seen everything would keep.
func (s *Store) MaxChangeID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM changes`).Scan(&id); err != nil {
		return 0, fmt.Errorf("newest change id: %w", err)
	}
	return id, nil
}

// Sources lists every source the store has a run or a record of, by name,
// with its record counts and newest run.
func (s *Store) Sources(ctx context.Context) ([]SourceSummary, error) {
	byName := map[string]*SourceSummary{}
	var names []string
	get := func(name string) *SourceSummary {
		if ss := byName[name]; ss != nil {
			return ss
		}
		ss := &SourceSummary{Source: name}
		byName[name] = ss
		names = append(names, name)
		return ss
	}
	rows, err := s.db.QueryContext(ctx, `SELECT source, SUM(CASE WHEN removed_at IS NULL THEN 1 ELSE 0 END),
		SUM(CASE WHEN removed_at IS NULL THEN 0 ELSE 1 END) FROM records GROUP BY source`)
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	for rows.Next() {
		var name string
		var cur, removed int
		if err := rows.Scan(&name, &cur, &removed); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list sources: %w", err)
		}
		ss := get(name)
		ss.Records, ss.Removed = cur, removed
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id IN (SELECT MAX(id) FROM runs GROUP BY source)`)
	if err != nil {
		return nil, fmt.Errorf("list sources: last runs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list sources: last runs: %w", err)
		}
		get(r.Source).LastRun = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sources: last runs: %w", err)
	}
	slices.Sort(names)
	out := make([]SourceSummary, 0, len(names))
	for _, n := range names {
		out = append(out, *byName[n])
	}
	return out, nil
}
