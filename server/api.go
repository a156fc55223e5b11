package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/harvest-dev/harvest/daemon"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/store"
)

// Page sizes of the JSON lists.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// errStop ends a store walk once a page is full.
var errStop = errors.New("page full")

// page is the envelope of every paginated list: the items and, when there
// are more, the cursor that asks for the next page (?cursor=...).
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// internal logs err and answers 500 without the details.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error (see the server log)")
}

func limitOf(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("limit %q: give a positive number", v)
	}
	return min(n, MaxLimit), nil
}

// sourceView is one source as /api/sources shows it: its schedule state
// (when a scheduler is configured) and what the store holds of it.
type sourceView struct {
	daemon.SourceStatus
	Records int        `json:"records"`
	Removed int        `json:"removed"`
	LastRun *store.Run `json:"last_run,omitempty"`
}

func (s *Server) sourceViews(r *http.Request) ([]sourceView, error) {
	sums, err := s.cfg.Store.Sources(r.Context())
	if err != nil {
		return nil, err
	}
	byID := map[string]store.SourceSummary{}
	for _, sm := range sums {
		byID[sm.Source] = sm
	}
	var out []sourceView
	seen := map[string]bool{}
	if s.cfg.Scheduler != nil {
		sts, err := s.cfg.Scheduler.Status(r.Context())
		if err != nil {
			return nil, err
		}
		for _, st := range sts {
			sm := byID[st.Source]
			out = append(out, sourceView{SourceStatus: st, Records: sm.Records, Removed: sm.Removed, LastRun: sm.LastRun})
			seen[st.Source] = true
		}
	}
	for _, sm := range sums { // sources in the store without a seed now
		if !seen[sm.Source] {
			out = append(out, sourceView{SourceStatus: daemon.SourceStatus{Source: sm.Source, State: "not scheduled",
				SourceSchedule: store.SourceSchedule{Source: sm.Source}}, Records: sm.Records, Removed: sm.Removed, LastRun: sm.LastRun})
		}
	}
	return out, nil
}

func (s *Server) apiSources(w http.ResponseWriter, r *http.Request) {
	vs, err := s.sourceViews(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if vs == nil {
		vs = []sourceView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": vs})
}

func (s *Server) apiRunSource(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.cfg.Scheduler == nil {
		writeError(w, http.StatusServiceUnavailable, "no scheduler is running")
		return
	}
	err := s.cfg.Scheduler.Trigger(r.Context(), id)
	switch {
	case err == nil:
		writeJSON(w, http.StatusAccepted, map[string]string{"source": id, "status": "started"})
	case errors.Is(err, daemon.ErrUnknownSource):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no source %q", id))
	case errors.Is(err, daemon.ErrRunning):
		writeError(w, http.StatusConflict, fmt.Sprintf("a run of %s is in progress", id))
	case errors.Is(err, daemon.ErrShuttingDown):
		writeError(w, http.StatusServiceUnavailable, "shutting down")
	default:
		s.internal(w, r, err)
	}
}

// apiRuns lists runs newest first; the cursor is the id of the last run
// of the previous page.
func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := limitOf(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var before int64
	if c := q.Get("cursor"); c != "" {
		if before, err = strconv.ParseInt(c, 10, 64); err != nil || before <= 0 {
			writeError(w, http.StatusBadRequest, "cursor: not a cursor of this list")
			return
		}
	}
	runs, err := s.cfg.Store.RunsBefore(r.Context(), q.Get("source"), before, limit+1)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	p := page[store.Run]{Items: runs}
	if len(runs) > limit {
		p.Items = runs[:limit]
		p.NextCursor = strconv.FormatInt(runs[limit-1].ID, 10)
	}
	if p.Items == nil {
		p.Items = []store.Run{}
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "run id: give a number")
		return
	}
	run, pages, err := s.cfg.Store.Run(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no run %d", id))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	warnings, err := s.cfg.Store.RunWarnings(r.Context(), id)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if pages == nil {
		pages = []store.PageOutcome{}
	}
	if warnings == nil {
		warnings = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"run": run, "pages": pages, "warnings": warnings})
}

// recordCursor is the position after (source, key) in the store's order.
func recordCursor(source, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(source + "\x00" + key))
}

func parseRecordCursor(c string) (source, key string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", "", err
	}
	source, key, ok := strings.Cut(string(b), "\x00")
	if !ok {
		return "", "", errors.New("bad cursor")
	}
	return source, key, nil
}

// recordQuery is the filter of /api/records and /export/records.*.
type recordQuery struct {
	store.RecordFilter
	q, country string
	year       int
}

func parseRecordQuery(q url.Values) (recordQuery, error) {
	rq := recordQuery{RecordFilter: store.RecordFilter{Sources: splitList(q.Get("source"))}}
	rq.IncludeRemoved = q.Get("removed") == "1" || q.Get("removed") == "true"
	rq.q = strings.ToLower(record.Text(q.Get("q")))
	rq.country = record.Text(q.Get("country"))
	if y := q.Get("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil {
			return rq, fmt.Errorf("year %q: give a number", y)
		}
		rq.year = n
	}
	return rq, nil
}

func (rq recordQuery) match(r *record.Record) bool {
	if rq.year != 0 && r.Year != rq.year {
		return false
	}
	if rq.country != "" {
		ok := false
		for _, c := range r.Countries {
			if strings.EqualFold(c, rq.country) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if rq.q != "" && !strings.Contains(strings.ToLower(r.Title)+"\n"+strings.ToLower(r.Summary), rq.q) {
		return false
	}
	return true
}

// apiRecords lists current records (by source and key) matching the
// filters: source (comma-separated), q (in title or summary,
// case-insensitive), country, year, removed=1.
func (s *Server) apiRecords(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := limitOf(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rq, err := parseRecordQuery(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var afterSrc, afterKey string
	hasCursor := q.Get("cursor") != ""
	if hasCursor {
		if afterSrc, afterKey, err = parseRecordCursor(q.Get("cursor")); err != nil {
			writeError(w, http.StatusBadRequest, "cursor: not a cursor of this list")
			return
		}
	}
	p := page[record.Record]{Items: []record.Record{}}
	err = s.cfg.Store.EachRecord(r.Context(), rq.RecordFilter, func(rec *record.Record) error {
		if hasCursor && (rec.Source < afterSrc || rec.Source == afterSrc && rec.Key <= afterKey) {
			return nil
		}
		if !rq.match(rec) {
			return nil
		}
		if len(p.Items) == limit {
			last := p.Items[limit-1]
			p.NextCursor = recordCursor(last.Source, last.Key)
			return errStop
		}
		p.Items = append(p.Items, *rec)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// changeFilter reads source, kind and since (a run id, an RFC 3339 time
// or a duration back from now) into a change filter.
func (s *Server) changeFilter(q url.Values) (store.ChangeFilter, error) {
	f := store.ChangeFilter{Sources: splitList(q.Get("source")), Kinds: splitList(q.Get("kind"))}
	for _, k := range f.Kinds {
		switch k {
		case store.KindAdded, store.KindUpdated, store.KindRemoved, store.KindRestored:
		default:
			return f, fmt.Errorf("kind %q: use added, updated, removed, restored", k)
		}
	}
	since := q.Get("since")
	if since == "" {
		return f, nil
	}
	if id, err := strconv.ParseInt(since, 10, 64); err == nil {
		f.SinceRun = id
		return f, nil
	}
	if t, err := time.Parse(time.RFC3339, since); err == nil {
		f.SinceTime = t
		return f, nil
	}
	if d, err := time.ParseDuration(since); err == nil && d > 0 {
		f.SinceTime = s.cfg.Now().Add(-d)
		return f, nil
	}
	return f, fmt.Errorf("since %q: give a run id (12), a time (2026-01-02T15:04:05Z) or a duration (24h)", since)
}

// apiChanges lists changes oldest first; the cursor is a change id, the
// same cursor "harvest export changes --since-cursor" keeps.
func (s *Server) apiChanges(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := limitOf(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f, err := s.changeFilter(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if c := q.Get("cursor"); c != "" {
		if f.AfterID, err = strconv.ParseInt(c, 10, 64); err != nil || f.AfterID < 0 {
			writeError(w, http.StatusBadRequest, "cursor: not a cursor of this list")
			return
		}
	}
	p := page[store.Change]{Items: []store.Change{}}
	err = s.cfg.Store.EachChange(r.Context(), f, func(c *store.Change) error {
		if len(p.Items) == limit {
			p.NextCursor = strconv.FormatInt(p.Items[limit-1].ID, 10)
			return errStop
		}
		p.Items = append(p.Items, *c)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
