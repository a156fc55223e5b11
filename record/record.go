// Package record defines the unit harvest stores: one publication of one
// source, with its normalised fields, identity key and content hash.
//
// It holds no I/O. The parser produces records, the store versions them,
// exports write them; all three agree on the shape through this package.
package record

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Record is one publication as harvest knows it.
//
// Text fields are UTF-8, NFC, whitespace-collapsed; URL is absolute and
// canonical; lists keep page order and hold no empties or duplicates.
// Year is 0 when unknown. Extra holds every configured field that is not a
// record field; list-valued extras are joined with ListSep.
type Record struct {
	Source     string            `json:"source"`
	Key        string            `json:"key"`
	URL        string            `json:"url"`
	Title      string            `json:"title"`
	Summary    string            `json:"summary"`
	Countries  []string          `json:"countries"`
	Regions    []string          `json:"regions"`
	Authors    []string          `json:"authors"`
	Year       int               `json:"year,omitempty"`
	Categories []string          `json:"categories"`
	Language   string            `json:"language"`
	Extra      map[string]string `json:"extra"`

	// Bookkeeping, owned by the store. Zero in parser output.
	FirstSeen   time.Time  `json:"first_seen,omitzero"`
	LastSeen    time.Time  `json:"last_seen,omitzero"`
	LastChanged time.Time  `json:"last_changed,omitzero"`
	RemovedAt   *time.Time `json:"removed_at,omitempty"`
	ContentHash string     `json:"content_hash,omitempty"`
}

// ListSep joins list values wherever a list must become one string
// (CSV cells, change before/after values, list-valued extras).
const ListSep = "; "

// Field names of the record, in the fixed order used by exports and diffs.
var Fields = []string{"url", "title", "summary", "countries", "regions", "authors", "year", "categories", "language"}

// IsField reports whether name is a record field a seed may fill
// (anything else goes to Extra).
func IsField(name string) bool {
	for _, f := range Fields {
		if f == name {
			return true
		}
	}
	return false
}

// IsListField reports whether the record field holds a list.
func IsListField(name string) bool {
	switch name {
	case "countries", "regions", "authors", "categories":
		return true
	}
	return false
}

// Get returns the value of a record field or "extra.NAME"/extra name as one
// string (lists joined with ListSep, year "" when unknown).
func (r *Record) Get(name string) string {
	switch name {
	case "source":
		return r.Source
	case "key":
		return r.Key
	case "url":
		return r.URL
	case "title":
		return r.Title
	case "summary":
		return r.Summary
	case "countries":
		return strings.Join(r.Countries, ListSep)
	case "regions":
		return strings.Join(r.Regions, ListSep)
	case "authors":
		return strings.Join(r.Authors, ListSep)
	case "categories":
		return strings.Join(r.Categories, ListSep)
	case "year":
		if r.Year == 0 {
			return ""
		}
		return strconv.Itoa(r.Year)
	case "language":
		return r.Language
	}
	return r.Extra[strings.TrimPrefix(name, "extra.")]
}

// Normalize brings every text of r to the canonical form: NFC, collapsed
// whitespace, invalid UTF-8 replaced, list values de-duplicated in page
// order with empties dropped. It is idempotent.
func (r *Record) Normalize() {
	r.Source = Text(r.Source)
	r.Key = Text(r.Key)
	r.URL = strings.TrimSpace(r.URL)
	r.Title = Text(r.Title)
	r.Summary = Text(r.Summary)
	r.Language = Text(r.Language)
	r.Countries = List(r.Countries)
	r.Regions = List(r.Regions)
	r.Authors = List(r.Authors)
	r.Categories = List(r.Categories)
	for k, v := range r.Extra {
		nv := Text(v)
		if nv == "" {
			delete(r.Extra, k)
			continue
		}
		r.Extra[k] = nv
	}
}

// Text returns s as valid UTF-8, NFC, with runs of white space (including
// no-break and zero-width spaces) collapsed to one space and trimmed, and
// control characters dropped. Text that is already normal is returned as
// it is; otherwise bytes are copied, not runes (FuzzText checks it against
// the plain rune-by-rune definition, textSlow).
func Text(s string) string {
	if !utf8.ValidString(s) {
		return textSlow(s)
	}
	clean, ascii := len(s) == 0 || (s[0] != ' ' && s[len(s)-1] != ' '), true
	prev := byte(0)
	for i := 0; i < len(s) && clean; i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			ascii = false
			r, n := utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff' || unicode.IsControl(r) {
				clean = false
			}
			i += n - 1
		case c < ' ' || c == 0x7f || (c == ' ' && prev == ' '):
			clean = false
		}
		prev = c
	}
	if clean {
		if ascii || norm.NFC.IsNormalString(s) {
			return s
		}
		return norm.NFC.String(s)
	}
	b := make([]byte, 0, len(s))
	space := false
	ascii = true
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == 0:
				space = true
				continue
			case c < ' ' || c == 0x7f:
				continue
			}
			if space && len(b) > 0 {
				b = append(b, ' ')
			}
			space = false
			b = append(b, c)
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff' {
			space = true
			continue
		}
		if unicode.IsControl(r) {
			continue
		}
		if space && len(b) > 0 {
			b = append(b, ' ')
		}
		space = false
		ascii = false
		b = append(b, s[i-n:i]...)
	}
	out := string(b)
	if !ascii && !norm.NFC.IsNormalString(out) {
		return norm.NFC.String(out)
	}
	return out
}

// textSlow is Text written rune by rune: the definition, and the path for
// invalid UTF-8 (replaced by U+FFFD).
func textSlow(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, c := range s {
		if unicode.IsSpace(c) || c == '\u200b' || c == '\ufeff' || c == 0 {
			space = true
			continue
		}
		if unicode.IsControl(c) {
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(c)
	}
	out := b.String()
	if !norm.NFC.IsNormalString(out) {
		out = norm.NFC.String(out)
	}
	return out
}

// List normalises each value with Text and drops empties and duplicates,
// keeping the first occurrence's position. It returns nil for no values.
func List(vs []string) []string {
	var out []string
	for _, v := range vs {
		v = Text(v)
		if v == "" || slices.Contains(out, v) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// Hash is the content hash used for change detection: SHA-256 over the
// content fields and extras, minus the excluded field names (record field
// names or extra names). List values are hashed one by one, so
// ["a; b"] and ["a", "b"] differ. Bookkeeping fields never count.
func (r *Record) Hash(exclude []string) string {
	skip := func(string) bool { return false }
	if len(exclude) > 0 {
		m := make(map[string]bool, len(exclude))
		for _, e := range exclude {
			m[strings.TrimPrefix(e, "extra.")] = true
		}
		skip = func(f string) bool { return m[f] }
	}
	h := sha256.New()
	buf := make([]byte, 0, 1024)
	field := func(name string, values ...string) {
		// Length-prefixed so that no two different records hash alike.
		buf = append(buf[:0], name...)
		buf = append(buf, 0)
		buf = strconv.AppendInt(buf, int64(len(values)), 10)
		for _, v := range values {
			buf = append(buf, 0)
			buf = strconv.AppendInt(buf, int64(len(v)), 10)
			buf = append(buf, ':')
			buf = append(buf, v...)
		}
		buf = append(buf, '\n')
		h.Write(buf)
	}
	for _, f := range Fields {
		if skip(f) {
			continue
		}
		switch f {
		case "countries":
			field(f, r.Countries...)
		case "regions":
			field(f, r.Regions...)
		case "authors":
			field(f, r.Authors...)
		case "categories":
			field(f, r.Categories...)
		default:
			field(f, r.Get(f))
		}
	}
	if len(r.Extra) > 0 {
		keys := make([]string, 0, len(r.Extra))
		for k := range r.Extra {
			if !skip(k) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			field("extra."+k, r.Extra[k])
		}
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// FallbackKey is the identity of a record without a usable key field: a
// hash of its normalised, case-folded title and its year.
func FallbackKey(title string, year int) string {
	t := strings.ToLower(Text(title))
	sum := sha256.Sum256([]byte(t + "\x00" + strconv.Itoa(year)))
	return "h:" + hex.EncodeToString(sum[:12])
}

// Diff lists the fields whose values differ between old and new, in the
// fixed field order, extras last by name. Excluded fields are skipped.
func Diff(old, new *Record, exclude []string) []FieldChange {
	skip := make(map[string]bool, len(exclude))
	for _, e := range exclude {
		skip[strings.TrimPrefix(e, "extra.")] = true
	}
	var out []FieldChange
	for _, f := range Fields {
		if skip[f] {
			continue
		}
		if a, b := old.Get(f), new.Get(f); a != b {
			out = append(out, FieldChange{Field: f, Old: a, New: b})
		}
	}
	names := map[string]bool{}
	for k := range old.Extra {
		names[k] = true
	}
	for k := range new.Extra {
		names[k] = true
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		if !skip[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if a, b := old.Extra[k], new.Extra[k]; a != b {
			out = append(out, FieldChange{Field: "extra." + k, Old: a, New: b})
		}
	}
	return out
}

// FieldChange is one field's old and new value, as strings.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// MarshalContent returns the record's content (no bookkeeping) as JSON,
// the form the store keeps per version.
func (r *Record) MarshalContent() ([]byte, error) {
	c := *r
	c.FirstSeen, c.LastSeen, c.LastChanged, c.RemovedAt, c.ContentHash = time.Time{}, time.Time{}, time.Time{}, nil, ""
	return json.Marshal(&c)
}

// Set assigns a field from one string, the inverse of Get: list fields
// are split on ListSep, year is parsed (0 when not a number), names that
// are not record fields go to Extra ("extra." prefix optional). An empty
// value clears the field.
func (r *Record) Set(name, value string) {
	split := func() []string {
		if value == "" {
			return nil
		}
		return List(strings.Split(value, ListSep))
	}
	switch name {
	case "url":
		r.URL = value
	case "title":
		r.Title = value
	case "summary":
		r.Summary = value
	case "countries":
		r.Countries = split()
	case "regions":
		r.Regions = split()
	case "authors":
		r.Authors = split()
	case "categories":
		r.Categories = split()
	case "year":
		r.Year, _ = strconv.Atoi(value)
	case "language":
		r.Language = value
	default:
		name = strings.TrimPrefix(name, "extra.")
		if value == "" {
			delete(r.Extra, name)
			return
		}
		if r.Extra == nil {
			r.Extra = map[string]string{}
		}
		r.Extra[name] = value
	}
}
