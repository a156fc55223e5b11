// Package export writes what the store holds: snapshots of records and
// lists of changes as CSV, JSON and JSON Lines, per-run change files with
// a manifest, and feeds of newly added publications (Atom 1.0, JSON Feed
// 1.1). It never talks to the crawler.
//
// Every writer streams: rows are written one at a time as the source
// yields them, so an export of a million records needs no more memory
// than one. The formats (column order, list and escape rules, JSON
// envelope, run directory layout) are documented in docs/export.md and
// the JSON shapes in docs/schema/*.schema.json; they are a user-facing
// contract.
package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/store"
)

// RecordSource yields records. EachRecord calls fn once per record
// selected by f, in a stable order (the store orders by source and key),
// and stops at the first error fn returns, returning it unchanged. fn must
// not keep the record pointer past the call. *store.Store implements it.
type RecordSource interface {
	EachRecord(ctx context.Context, f store.RecordFilter, fn func(*record.Record) error) error
}

// RecordRowSource is a RecordSource that also yields its records as
// store.RecordRow views, which a CSV export writes without a record.Record
// (and its Extra map) built for each row. EachRecordRow yields what
// EachRecord yields, in the same order, under the same rules, except that
// nothing of a row may be kept past fn, its strings included (the store's
// may point into SQLite's memory). *store.Store implements it; a
// RecordSource that filters or changes the records of one that does must
// not.
type RecordRowSource interface {
	RecordSource
	EachRecordRow(ctx context.Context, f store.RecordFilter, fn func(*store.RecordRow) error) error
}

// ChangeSource yields changes. EachChange calls fn once per change
// selected by f, in ascending change id order (the order they were made),
// and stops at the first error fn returns, returning it unchanged. fn must
// not keep the change pointer past the call. *store.Store implements it.
type ChangeSource interface {
	EachChange(ctx context.Context, f store.ChangeFilter, fn func(*store.Change) error) error
}

// Export formats accepted in Options.Format.
const (
	FormatCSV   = "csv"   // RFC 4180, CRLF line ends, fixed column order
	FormatJSON  = "json"  // one document with a schema version
	FormatJSONL = "jsonl" // JSON Lines: one object per line, nothing else
)

// SchemaVersion is the version of the JSON document envelope and of the
// record and change objects (docs/schema). It changes only when a field is
// renamed or removed or changes meaning; added fields keep it.
const SchemaVersion = 1

// Options shape an export.
type Options struct {
	// Format is "csv" (the default when empty), "json" or "jsonl".
	Format string
	// Excel starts CSV output with a UTF-8 byte-order mark so that Excel
	// reads accents right. It has no effect on JSON and JSON Lines.
	Excel bool
	// ExtraColumns are extra field names, sorted, that become the CSV
	// columns extra.NAME after the fixed columns (JSON always carries the
	// whole extra object).
	ExtraColumns []string
	// Now is the clock for generated_at; time.Now when nil.
	Now func() time.Time
	// Sources is what the JSON envelope reports in "sources"; when empty,
	// the filter's sources are reported (empty meaning all sources).
	Sources []string
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

func (o Options) format() (string, error) {
	switch o.Format {
	case "", FormatCSV:
		return FormatCSV, nil
	case FormatJSON, FormatJSONL:
		return o.Format, nil
	}
	return "", fmt.Errorf("export: unknown format %q (use csv, json or jsonl)", o.Format)
}

func (o Options) sources(filter []string) []string {
	s := o.Sources
	if len(s) == 0 {
		s = filter
	}
	if s == nil {
		s = []string{}
	}
	return s
}

// utf8BOM is what Options.Excel writes first.
const utf8BOM = "\uFEFF"

// WriteRecords writes the records src yields for f to w in o.Format and
// returns how many it wrote. It streams: one record is held at a time.
// On error, w may hold a partial export (use AtomicWriteFile to avoid
// leaving one on disk).
func WriteRecords(ctx context.Context, w io.Writer, src RecordSource, f store.RecordFilter, o Options) (int, error) {
	return write(w, "records", o, func(bw *bufio.Writer, format string) (int, error) {
		if format == FormatCSV {
			return recordsCSV(ctx, bw, src, f, o)
		}
		return recordsJSON(ctx, bw, src, f, o, format == FormatJSONL)
	})
}

// WriteChanges writes the changes src yields for f to w in o.Format,
// oldest first, and returns how many it wrote. It streams like
// WriteRecords.
func WriteChanges(ctx context.Context, w io.Writer, src ChangeSource, f store.ChangeFilter, o Options) (int, error) {
	return write(w, "changes", o, func(bw *bufio.Writer, format string) (int, error) {
		if format == FormatCSV {
			return changesCSV(ctx, bw, src, f, o)
		}
		return changesJSON(ctx, bw, src, f, o, format == FormatJSONL)
	})
}

// write checks o's format, runs body over a buffered w and flushes it,
// naming what (records, changes) and the format in any error.
func write(w io.Writer, what string, o Options, body func(bw *bufio.Writer, format string) (int, error)) (int, error) {
	format, err := o.format()
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 64<<10) // w itself when it is a large enough *bufio.Writer
	n, err := body(bw, format)
	if err != nil {
		return n, fmt.Errorf("export %s as %s: %w", what, format, err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export %s as %s: write: %w", what, format, err)
	}
	return n, nil
}

func recordsCSV(ctx context.Context, w *bufio.Writer, src RecordSource, f store.RecordFilter, o Options) (int, error) {
	if o.Excel {
		w.WriteString(utf8BOM)
	}
	rw := newRowWriter(w)
	defer rw.flush()
	rw.row(RecordColumns(o.ExtraColumns)...)
	if rs, ok := src.(RecordRowSource); ok {
		return recordRowsCSV(ctx, w, rw, rs, f, o.ExtraColumns)
	}
	n := 0
	err := src.EachRecord(ctx, f, func(r *record.Record) error {
		if err := checkpoint(ctx, w, n, r.Source, r.Key); err != nil {
			return err
		}
		writeRecord(rw, r, o.ExtraColumns)
		n++
		return nil
	})
	return n, err
}

// checkpoint stops a records export every 1,024 rows (n rows written so
// far) when ctx is done or the output has failed (the bufio.Writer's
// sticky error), naming the record about to be written.
func checkpoint(ctx context.Context, w *bufio.Writer, n int, source, key string) error {
	if n%1024 != 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := w.Write(nil); err != nil {
		return fmt.Errorf("write record %s/%s: %w", source, key, err)
	}
	return nil
}

// recordRowsCSV is recordsCSV's loop over the rows of a RecordRowSource.
func recordRowsCSV(ctx context.Context, w *bufio.Writer, rw *rowWriter, src RecordRowSource, f store.RecordFilter, extra []string) (int, error) {
	sorted := slices.IsSorted(extra)
	n := 0
	err := src.EachRecordRow(ctx, f, func(r *store.RecordRow) error {
		if err := checkpoint(ctx, w, n, r.Source(), r.Key()); err != nil {
			return err
		}
		writeRecordRow(rw, r, extra, sorted)
		n++
		return nil
	})
	return n, err
}

func changesCSV(ctx context.Context, w *bufio.Writer, src ChangeSource, f store.ChangeFilter, o Options) (int, error) {
	if o.Excel {
		w.WriteString(utf8BOM)
	}
	rw := newRowWriter(w)
	defer rw.flush()
	rw.row(ChangeColumns(o.ExtraColumns)...)
	row := make([]string, 0, len(changeColumns)+len(changeRecordColumns)+len(o.ExtraColumns))
	n := 0
	err := src.EachChange(ctx, f, func(c *store.Change) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		row = changeRow(row[:0], c, o.ExtraColumns)
		rw.row(row...)
		n++
		return nil
	})
	return n, err
}

// jsonStream writes either a JSON document whose items array is streamed
// or JSON Lines.
type jsonStream struct {
	w     *bufio.Writer
	buf   bytes.Buffer
	enc   *json.Encoder
	lines bool
	n     int
}

func newJSONStream(w *bufio.Writer, lines bool, arrayName string, generated time.Time, sources []string) (*jsonStream, error) {
	s := &jsonStream{w: w, lines: lines}
	s.enc = json.NewEncoder(&s.buf)
	s.enc.SetEscapeHTML(false)
	if lines {
		return s, nil
	}
	src, err := json.Marshal(sources)
	if err != nil {
		return nil, err
	}
	_, err = fmt.Fprintf(w, "{\"schema_version\":%d,\"generated_at\":\"%s\",\"sources\":%s,\"%s\":[",
		SchemaVersion, formatTime(generated), src, arrayName)
	return s, err
}

// item writes one element: a line of its own in JSON Lines, an array
// element on a line of its own (diff-friendly) in a document.
func (s *jsonStream) item(v any) error {
	s.buf.Reset()
	if err := s.enc.Encode(v); err != nil {
		return err
	}
	b := s.buf.Bytes() // ends in the newline Encode appends
	if !s.lines {
		if s.n > 0 {
			s.w.WriteByte(',')
		}
		s.w.WriteByte('\n')
		b = b[:len(b)-1]
	}
	s.n++
	_, err := s.w.Write(b)
	return err
}

func (s *jsonStream) close() error {
	if s.lines {
		return nil
	}
	nl := ""
	if s.n > 0 {
		nl = "\n"
	}
	_, err := fmt.Fprintf(s.w, "%s],\"count\":%d}\n", nl, s.n)
	return err
}

func recordsJSON(ctx context.Context, w *bufio.Writer, src RecordSource, f store.RecordFilter, o Options, lines bool) (int, error) {
	s, err := newJSONStream(w, lines, "records", o.now(), o.sources(f.Sources))
	if err != nil {
		return 0, err
	}
	err = src.EachRecord(ctx, f, func(r *record.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.item(newRecordJSON(r)); err != nil {
			return fmt.Errorf("write record %s/%s: %w", r.Source, r.Key, err)
		}
		return nil
	})
	if err != nil {
		return s.n, err
	}
	return s.n, s.close()
}

func changesJSON(ctx context.Context, w *bufio.Writer, src ChangeSource, f store.ChangeFilter, o Options, lines bool) (int, error) {
	s, err := newJSONStream(w, lines, "changes", o.now(), o.sources(f.Sources))
	if err != nil {
		return 0, err
	}
	err = src.EachChange(ctx, f, func(c *store.Change) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.item(newChangeJSON(c)); err != nil {
			return fmt.Errorf("write change %d: %w", c.ID, err)
		}
		return nil
	})
	if err != nil {
		return s.n, err
	}
	return s.n, s.close()
}
