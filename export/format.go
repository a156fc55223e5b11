package export

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/store"
)

// recordColumns are the fixed CSV columns of a record snapshot, in order.
var recordColumns = []string{
	"source", "key", "url", "title", "summary", "countries", "regions", "authors", "year",
	"categories", "language", "first_seen", "last_seen", "last_changed", "removed_at", "content_hash",
}

// changeColumns are the fixed leading CSV columns of a change list, in
// order; the record's content columns follow them (changeRecordColumns).
var changeColumns = []string{
	"change_id", "run_id", "at", "kind", "source", "key", "url", "title", "changed_fields", "before", "after",
}

// changeRecordColumns follow changeColumns: the record as of the change,
// so that a file of added publications carries the publications.
var changeRecordColumns = []string{
	"summary", "countries", "regions", "authors", "year", "categories", "language", "content_hash",
}

// RecordColumns returns the CSV header of a record snapshot: the fixed
// columns source, key, url, title, summary, countries, regions, authors,
// year, categories, language, first_seen, last_seen, last_changed,
// removed_at, content_hash, then extra.NAME for each of extra in the order
// given.
func RecordColumns(extra []string) []string {
	out := make([]string, 0, len(recordColumns)+len(extra))
	out = append(out, recordColumns...)
	for _, e := range extra {
		out = append(out, "extra."+e)
	}
	return out
}

// ChangeColumns returns the CSV header of a change list: change_id,
// run_id, at, kind, source, key, url, title, changed_fields, before,
// after, then the record's summary, countries, regions, authors, year,
// categories, language, content_hash, then extra.NAME for each of extra.
func ChangeColumns(extra []string) []string {
	out := make([]string, 0, len(changeColumns)+len(changeRecordColumns)+len(extra))
	out = append(out, changeColumns...)
	out = append(out, changeRecordColumns...)
	for _, e := range extra {
		out = append(out, "extra."+e)
	}
	return out
}

// SafeCell neutralises a CSV cell that a spreadsheet would run as a
// formula (OWASP "CSV injection"): a value beginning with = + - @ TAB or
// CR gets a single quote ' in front. Every other value is returned as is.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// JoinList joins list values into one CSV cell with record.ListSep ("; "),
// escaping first, in each value, a backslash as \\ and a semicolon as \;
// so that the cell splits back unambiguously.
func JoinList(vs []string) string {
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return escapeListValue(vs[0])
	}
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(record.ListSep)
		}
		b.WriteString(escapeListValue(v))
	}
	return b.String()
}

// SplitList is the inverse of JoinList.
func SplitList(cell string) []string {
	if cell == "" {
		return nil
	}
	var out []string
	var b strings.Builder
	for i := 0; i < len(cell); i++ {
		c := cell[i]
		switch {
		case c == '\\' && i+1 < len(cell):
			i++
			b.WriteByte(cell[i])
		case c == ';':
			out = append(out, b.String())
			b.Reset()
			if i+1 < len(cell) && cell[i+1] == ' ' {
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return append(out, b.String())
}

func escapeListValue(v string) string {
	if !strings.ContainsAny(v, `;\`) {
		return v
	}
	v = strings.ReplaceAll(v, `\`, `\\`)
	return strings.ReplaceAll(v, ";", `\;`)
}

// formatTime is the one time format of every export: RFC 3339 in UTC to
// the second ("2026-01-02T15:04:05Z"); "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func formatYear(y int) string {
	if y == 0 {
		return ""
	}
	return strconv.Itoa(y)
}

// writeRecord writes r as one row of a record snapshot (RecordColumns of
// extra): the cells SafeCell, JoinList, formatYear and formatTime make,
// without building them one by one (TestWriteRecordMatchesCells holds it
// to that).
func writeRecord(rw *rowWriter, r *record.Record, extra []string) {
	rw.safe(r.Source)
	rw.safe(r.Key)
	rw.safe(r.URL)
	rw.safe(r.Title)
	rw.safe(r.Summary)
	rw.list(r.Countries)
	rw.list(r.Regions)
	rw.list(r.Authors)
	rw.year(r.Year)
	rw.list(r.Categories)
	rw.safe(r.Language)
	rw.time(0, r.FirstSeen)
	rw.time(1, r.LastSeen)
	rw.time(2, r.LastChanged)
	if r.RemovedAt != nil {
		rw.time(3, *r.RemovedAt)
	} else {
		rw.field("")
	}
	rw.safe(r.ContentHash)
	for _, e := range extra {
		rw.safe(r.Extra[e])
	}
	rw.end()
}

// writeRecordRow writes r as writeRecord writes the record it views
// (TestRecordRowsMatchRecords holds it to that). sorted tells that extra
// is in order, so that the columns and the row's extras (in name order)
// are walked together.
func writeRecordRow(rw *rowWriter, r *store.RecordRow, extra []string, sorted bool) {
	rw.safe(r.Source())
	rw.safe(r.Key())
	rw.safe(r.URL())
	rw.safe(r.Title())
	rw.safe(r.Summary())
	rw.list(r.Countries())
	rw.list(r.Regions())
	rw.list(r.Authors())
	rw.year(r.Year())
	rw.list(r.Categories())
	rw.safe(r.Language())
	rw.time(0, r.FirstSeen())
	rw.time(1, r.LastSeen())
	rw.time(2, r.LastChanged())
	if t, ok := r.RemovedAt(); ok {
		rw.time(3, t)
	} else {
		rw.field("")
	}
	rw.safe(r.ContentHash())
	fields := r.Extra()
	j := 0
	for _, e := range extra {
		if !sorted {
			j = 0
		}
		for j < len(fields) && fields[j].Name < e {
			j++
		}
		if j < len(fields) && fields[j].Name == e {
			rw.safe(fields[j].Value)
		} else {
			rw.field("")
		}
	}
	rw.end()
}

func changeRow(row []string, c *store.Change, extra []string) []string {
	var names, before, after string
	if len(c.Fields) > 0 {
		ns := make([]string, len(c.Fields))
		for i, fc := range c.Fields {
			ns[i] = fc.Field
		}
		names = strings.Join(ns, record.ListSep)
		before = fieldObject(c.Fields, false)
		after = fieldObject(c.Fields, true)
	}
	r := &c.Record
	row = append(row,
		strconv.FormatInt(c.ID, 10), strconv.FormatInt(c.RunID, 10), formatTime(c.At), SafeCell(c.Kind),
		SafeCell(c.Source), SafeCell(c.Key), SafeCell(r.URL), SafeCell(r.Title),
		SafeCell(names), SafeCell(before), SafeCell(after),
		SafeCell(r.Summary), SafeCell(JoinList(r.Countries)), SafeCell(JoinList(r.Regions)),
		SafeCell(JoinList(r.Authors)), formatYear(r.Year), SafeCell(JoinList(r.Categories)),
		SafeCell(r.Language), SafeCell(r.ContentHash))
	for _, e := range extra {
		row = append(row, SafeCell(r.Extra[e]))
	}
	return row
}

// fieldObject renders changed fields as one JSON object {field: value},
// in the order the fields changed, of the old (newValues false) or new
// values.
func fieldObject(fs []record.FieldChange, newValues bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, fc := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		v := fc.Old
		if newValues {
			v = fc.New
		}
		enc.Encode(fc.Field) // strings always encode
		b.Truncate(b.Len() - 1)
		b.WriteByte(':')
		enc.Encode(v)
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('}')
	return b.String()
}

// jsonTime marshals as an RFC 3339 UTC string, or null when zero.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + formatTime(time.Time(t)) + `"`), nil
}

// recordJSON is a record as JSON exports write it: every key present,
// lists and extra never null, unknown year and unset times null.
type recordJSON struct {
	Source      string            `json:"source"`
	Key         string            `json:"key"`
	URL         string            `json:"url"`
	Title       string            `json:"title"`
	Summary     string            `json:"summary"`
	Countries   []string          `json:"countries"`
	Regions     []string          `json:"regions"`
	Authors     []string          `json:"authors"`
	Year        *int              `json:"year"`
	Categories  []string          `json:"categories"`
	Language    string            `json:"language"`
	Extra       map[string]string `json:"extra"`
	FirstSeen   jsonTime          `json:"first_seen"`
	LastSeen    jsonTime          `json:"last_seen"`
	LastChanged jsonTime          `json:"last_changed"`
	RemovedAt   jsonTime          `json:"removed_at"`
	ContentHash string            `json:"content_hash"`
}

var emptyList = []string{}

func orEmpty(vs []string) []string {
	if vs == nil {
		return emptyList
	}
	return vs
}

func newRecordJSON(r *record.Record) *recordJSON {
	j := &recordJSON{
		Source: r.Source, Key: r.Key, URL: r.URL, Title: r.Title, Summary: r.Summary,
		Countries: orEmpty(r.Countries), Regions: orEmpty(r.Regions), Authors: orEmpty(r.Authors),
		Categories: orEmpty(r.Categories), Language: r.Language, Extra: r.Extra,
		FirstSeen: jsonTime(r.FirstSeen), LastSeen: jsonTime(r.LastSeen), LastChanged: jsonTime(r.LastChanged),
		ContentHash: r.ContentHash,
	}
	if r.Year != 0 {
		y := r.Year
		j.Year = &y
	}
	if j.Extra == nil {
		j.Extra = map[string]string{}
	}
	if r.RemovedAt != nil {
		j.RemovedAt = jsonTime(*r.RemovedAt)
	}
	return j
}

// changeJSON is a change as JSON exports write it.
type changeJSON struct {
	ChangeID      int64                `json:"change_id"`
	RunID         int64                `json:"run_id"`
	At            jsonTime             `json:"at"`
	Kind          string               `json:"kind"`
	Source        string               `json:"source"`
	Key           string               `json:"key"`
	ChangedFields []string             `json:"changed_fields"`
	Fields        []record.FieldChange `json:"fields"`
	Record        *recordJSON          `json:"record"`
}

func newChangeJSON(c *store.Change) *changeJSON {
	j := &changeJSON{
		ChangeID: c.ID, RunID: c.RunID, At: jsonTime(c.At), Kind: c.Kind, Source: c.Source, Key: c.Key,
		ChangedFields: make([]string, len(c.Fields)), Fields: c.Fields, Record: newRecordJSON(&c.Record),
	}
	for i, fc := range c.Fields {
		j.ChangedFields[i] = fc.Field
	}
	if j.Fields == nil {
		j.Fields = []record.FieldChange{}
	}
	return j
}
