package store

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/harvest-dev/harvest/record"
)

// A RecordRow is one record as EachRecordRow reads it: the fields of a
// record.Record behind accessors, decoded without building the record
// (no Extra map, no lists of its own). A CSV export of a million records
// spends a good part of its time building records it writes once.
//
// A RecordRow, its strings and the slices its methods return are valid
// only during the call of EachRecordRow's fn: the next row reuses them,
// and the strings may point into SQLite's memory. Copy what must be kept
// (strings.Clone).
type RecordRow struct {
	source, key, contentHash string
	firstSeen, lastSeen      time.Time
	lastChanged, removedAt   time.Time
	removed                  bool

	url, title, summary, language           string
	countries, regions, authors, categories []string
	year                                    int
	extra                                   []ExtraField // in name order

	buf []string // backing array of the lists, reused row to row
}

// ExtraField is one extra field of a record: record.Record.Extra[Name]
// is Value.
type ExtraField struct {
	Name, Value string
}

// Source through ContentHash are the record's fields of those names
// (record.Record); a list is nil where the record's is.
func (r *RecordRow) Source() string       { return r.source }
func (r *RecordRow) Key() string          { return r.key }
func (r *RecordRow) URL() string          { return r.url }
func (r *RecordRow) Title() string        { return r.title }
func (r *RecordRow) Summary() string      { return r.summary }
func (r *RecordRow) Countries() []string  { return r.countries }
func (r *RecordRow) Regions() []string    { return r.regions }
func (r *RecordRow) Authors() []string    { return r.authors }
func (r *RecordRow) Year() int            { return r.year }
func (r *RecordRow) Categories() []string { return r.categories }
func (r *RecordRow) Language() string     { return r.language }
func (r *RecordRow) ContentHash() string  { return r.contentHash }

// Extra returns the record's extra fields in name order (nil when the
// record has none).
func (r *RecordRow) Extra() []ExtraField { return r.extra }

// FirstSeen, LastSeen and LastChanged are the record's bookkeeping times,
// in UTC.
func (r *RecordRow) FirstSeen() time.Time   { return r.firstSeen }
func (r *RecordRow) LastSeen() time.Time    { return r.lastSeen }
func (r *RecordRow) LastChanged() time.Time { return r.lastChanged }

// RemovedAt is when the record was taken down; ok is false for a current
// record.
func (r *RecordRow) RemovedAt() (t time.Time, ok bool) {
	if !r.removed {
		return time.Time{}, false
	}
	return r.removedAt, true
}

// decodeRowContent sets r's content fields from a stored content value,
// binary or JSON, as decodeContent sets a record's.
func decodeRowContent(data string, r *RecordRow) error {
	if len(data) == 0 {
		return errContent
	}
	if data[0] != contentBinary {
		var c record.Record
		if err := decodeContent(data, &c); err != nil {
			return err
		}
		r.url, r.title, r.summary = c.URL, c.Title, c.Summary
		r.countries, r.regions, r.authors, r.year = c.Countries, c.Regions, c.Authors, c.Year
		r.categories, r.language = c.Categories, c.Language
		r.extra = r.extra[:0]
		if c.Extra == nil {
			r.extra = nil
		}
		for k, v := range c.Extra {
			r.extra = append(r.extra, ExtraField{k, v})
		}
		slices.SortFunc(r.extra, func(a, b ExtraField) int { return cmp.Compare(a.Name, b.Name) })
		return nil
	}
	d := contentDecoder{s: data[1:]}
	if r.buf == nil {
		r.buf = make([]string, 0, 16)
	}
	buf := r.buf[:0]
	r.url = d.str()
	r.title = d.str()
	r.summary = d.str()
	r.countries, buf = d.listAppend(buf)
	r.regions, buf = d.listAppend(buf)
	r.authors, buf = d.listAppend(buf)
	r.year = int(d.varint())
	r.categories, buf = d.listAppend(buf)
	r.buf = buf
	r.language = d.str()
	r.extra = r.extra[:0]
	n := d.uvarint()
	if n == 0 && d.err == nil {
		r.extra = nil
	} else if d.err == nil {
		n--
		if n > uint64(len(d.s)) {
			return errContent
		}
		sorted := true
		for i := range n {
			k := d.str()
			r.extra = append(r.extra, ExtraField{k, d.str()})
			if i > 0 && r.extra[i-1].Name >= k {
				sorted = false
			}
		}
		if !sorted { // appendContent writes name order; hold to it anyway
			slices.SortFunc(r.extra, func(a, b ExtraField) int { return cmp.Compare(a.Name, b.Name) })
		}
	}
	if d.err != nil {
		return d.err
	}
	if d.s != "" {
		return fmt.Errorf("%w: %d bytes after the last field", errContent, len(d.s))
	}
	return nil
}
