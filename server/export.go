package server

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// contentTypes of the download formats.
var contentTypes = map[string]string{
	export.FormatCSV:   "text/csv; charset=utf-8",
	export.FormatJSON:  "application/json; charset=utf-8",
	export.FormatJSONL: "application/x-ndjson; charset=utf-8",
}

// filteredRecords is the store's records narrowed by the API's q,
// country and year filters, as an export.RecordSource.
type filteredRecords struct {
	st *store.Store
	rq recordQuery
}

func (f filteredRecords) EachRecord(ctx context.Context, rf store.RecordFilter, fn func(*record.Record) error) error {
	return f.st.EachRecord(ctx, rf, func(r *record.Record) error {
		if !f.rq.match(r) {
			return nil
		}
		return fn(r)
	})
}

// streamWriter writes a download to the client, pushing the write
// deadline forward on every write so that a long download is bounded per
// write rather than as a whole.
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (s *streamWriter) Write(p []byte) (int, error) {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout)) // not every writer supports deadlines
	return s.w.Write(p)
}

// exportFile serves /export/records.{csv,json,jsonl} and
// /export/changes.{csv,json,jsonl}, streamed from the store. Filters:
// source; records: q, country, year, removed=1; changes: since, kind,
// cursor (a change id). excel=1 starts CSV with a byte-order mark.
func (s *Server) exportFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	what, format, ok := strings.Cut(name, ".")
	if !ok || (what != "records" && what != "changes") || contentTypes[format] == "" {
		writeError(w, http.StatusNotFound, "downloads are records.csv, records.json, records.jsonl, changes.csv, changes.json, changes.jsonl")
		return
	}
	q := r.URL.Query()
	ctx := r.Context()
	srcs := splitList(q.Get("source"))
	opts := export.Options{Format: format, Excel: q.Get("excel") == "1", Now: s.cfg.Now, Sources: srcs}
	var write func(io.Writer) error
	switch what {
	case "records":
		rq, err := parseRecordQuery(q)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		write = func(out io.Writer) error {
			_, err := export.WriteRecords(ctx, out, filteredRecords{s.cfg.Store, rq}, rq.RecordFilter, opts)
			return err
		}
	default:
		f, err := s.changeFilter(q)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if c := q.Get("cursor"); c != "" {
			if _, err := fmt.Sscanf(c, "%d", &f.AfterID); err != nil {
				writeError(w, http.StatusBadRequest, "cursor: give a change id")
				return
			}
		}
		write = func(out io.Writer) error {
			_, err := export.WriteChanges(ctx, out, s.cfg.Store, f, opts)
			return err
		}
	}
	if format == export.FormatCSV {
		var sds []*seeds.Seed
		if len(s.seedIDs) > 0 {
			sds = slices.Collect(maps.Values(s.seedIDs))
		}
		cols, err := export.ExtraColumns(ctx, s.cfg.Store, sds, srcs)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		opts.ExtraColumns = cols
	}
	w.Header().Set("Content-Type", contentTypes[format])
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, name))
	w.Header().Set("Cache-Control", "no-store")
	sw := &streamWriter{w: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout}
	if err := write(sw); err != nil {
		// The status line is gone; cut the connection so the client sees
		// an incomplete download rather than a short file.
		s.log.Error("download failed mid-stream", "path", r.URL.Path, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// feed serves /feeds/{source|all}.{atom,json}: the newest publications
// added (or restored), public even when a token is configured.
func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	src, format, ok := strings.Cut(name, ".")
	if !ok || (format != "atom" && format != "json") || src == "" {
		writeError(w, http.StatusNotFound, "feeds are /feeds/all.atom, /feeds/all.json, /feeds/SOURCE.atom, /feeds/SOURCE.json")
		return
	}
	f := store.ChangeFilter{Kinds: []string{store.KindAdded, store.KindRestored}}
	title := "harvest: new publications"
	if src != "all" {
		if !s.knownSource(r.Context(), src) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no source %q", src))
			return
		}
		f.Sources = []string{src}
		title += " in " + src
		if sd := s.seedIDs[src]; sd != nil && sd.Name != "" {
			title = "harvest: new in " + sd.Name
		}
	}
	info := export.FeedInfo{Title: title, ID: "tag:harvest:feed:" + src, Updated: s.cfg.Now()}
	if s.cfg.BaseURL != "" {
		info.FeedURL = s.cfg.BaseURL + "/feeds/" + name
		info.HomeURL = s.cfg.BaseURL + "/"
	}
	sw := &streamWriter{w: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout}
	var err error
	if format == "atom" {
		w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
		err = export.WriteAtom(r.Context(), sw, s.cfg.Store, f, info)
	} else {
		w.Header().Set("Content-Type", "application/feed+json; charset=utf-8")
		err = export.WriteJSONFeed(r.Context(), sw, s.cfg.Store, f, info)
	}
	if err != nil {
		s.log.Error("feed failed", "path", r.URL.Path, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// knownSource reports whether id is a configured seed or a source the
// store holds.
func (s *Server) knownSource(ctx context.Context, id string) bool {
	if s.seedIDs[id] != nil {
		return true
	}
	sums, err := s.cfg.Store.Sources(ctx)
	if err != nil {
		return false
	}
	for _, sm := range sums {
		if sm.Source == id {
			return true
		}
	}
	return false
}
