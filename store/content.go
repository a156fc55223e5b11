package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/harvest-dev/harvest/record"
)

// A version's content is stored in versions.content as a compact binary
// encoding of the record's content fields (schema version 3 on). Rows
// written before hold the JSON of record.MarshalContent; a JSON document
// starts with '{', a binary one with contentBinary, so both are read.
//
// The binary form, after the leading contentBinary byte:
//
//	url, title, summary                  strings
//	countries, regions, authors          lists
//	year                                 zig-zag varint
//	categories                           list
//	language                             string
//	extra                                map
//
// A string is a uvarint byte length and the bytes; a list is a uvarint
// of 0 for nil or 1+n for n strings; a map is 0 for nil or 1+n followed
// by n (name, value) string pairs in name order. Source and key are not
// part of it: they are columns of the row.
const contentBinary = 0x01

// appendContent appends the binary content encoding of r to b.
func appendContent(b []byte, r *record.Record) []byte {
	b = append(b, contentBinary)
	b = appendString(b, r.URL)
	b = appendString(b, r.Title)
	b = appendString(b, r.Summary)
	b = appendList(b, r.Countries)
	b = appendList(b, r.Regions)
	b = appendList(b, r.Authors)
	b = binary.AppendVarint(b, int64(r.Year))
	b = appendList(b, r.Categories)
	b = appendString(b, r.Language)
	if r.Extra == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Extra))+1)
	switch len(r.Extra) {
	case 0:
	case 1:
		for k, v := range r.Extra {
			b = appendString(appendString(b, k), v)
		}
	default:
		var arr [8]string
		keys := arr[:0]
		for k := range r.Extra {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = appendString(appendString(b, k), r.Extra[k])
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendList(b []byte, vs []string) []byte {
	if vs == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(vs))+1)
	for _, v := range vs {
		b = appendString(b, v)
	}
	return b
}

var errContent = errors.New("malformed content")

// decodeContent sets r's content fields (URL through Extra) from a stored
// content value, binary or JSON; the other fields of r are left as they
// are. The strings of a binary value are substrings of data (queries
// read the column as CAST(content AS TEXT), so the driver's one copy is
// the only one).
func decodeContent(data string, r *record.Record) error {
	if len(data) == 0 {
		return errContent
	}
	if data[0] != contentBinary {
		var c record.Record
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return err
		}
		r.URL, r.Title, r.Summary = c.URL, c.Title, c.Summary
		r.Countries, r.Regions, r.Authors, r.Year = c.Countries, c.Regions, c.Authors, c.Year
		r.Categories, r.Language, r.Extra = c.Categories, c.Language, c.Extra
		return nil
	}
	return decodeBinary(data[1:], r)
}

// contentDecoder reads the binary form; s is the encoding after its
// leading byte, and every string it returns is a substring of s.
type contentDecoder struct {
	s   string
	err error
}

// varint reads a signed varint as binary.AppendVarint writes it (zigzag).
func (d *contentDecoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (d *contentDecoder) uvarint() uint64 {
	if len(d.s) > 0 && d.s[0] < 0x80 { // one byte: most lengths and counts
		x := uint64(d.s[0])
		d.s = d.s[1:]
		return x
	}
	var x uint64
	var shift uint
	for i := 0; i < len(d.s); i++ {
		c := d.s[i]
		if c < 0x80 {
			if i > 9 || i == 9 && c > 1 {
				break
			}
			d.s = d.s[i+1:]
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.err = errContent
	d.s = ""
	return 0
}

func (d *contentDecoder) str() string {
	if len(d.s) > 0 { // a length of one byte, the string all there: most strings
		if n := int(d.s[0]); n < 0x80 && n < len(d.s) {
			v := d.s[1 : n+1]
			d.s = d.s[n+1:]
			return v
		}
	}
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.err, d.s = errContent, ""
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

// listAppend reads a list onto the end of buf, which grows as append
// grows it, and returns it (capped at its length, so that a later append
// cannot overwrite it) with buf. A RecordRow reusing buf allocates
// nothing once it is large enough.
func (d *contentDecoder) listAppend(buf []string) ([]string, []string) {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil, buf
	}
	n--
	if n > uint64(len(d.s)) { // each value takes at least one byte
		d.err, d.s = errContent, ""
		return nil, buf
	}
	start := len(buf)
	for range n {
		buf = append(buf, d.str())
	}
	return buf[start:len(buf):len(buf)], buf
}

func decodeBinary(s string, r *record.Record) error {
	d := contentDecoder{s: s}
	// One backing array for the four lists of a record (a new one if
	// they outgrow it: the lists already read keep the old one).
	buf := make([]string, 0, 8)
	r.URL = d.str()
	r.Title = d.str()
	r.Summary = d.str()
	r.Countries, buf = d.listAppend(buf)
	r.Regions, buf = d.listAppend(buf)
	r.Authors, buf = d.listAppend(buf)
	r.Year = int(d.varint())
	r.Categories, _ = d.listAppend(buf)
	r.Language = d.str()
	r.Extra = nil
	if n := d.uvarint(); n > 0 && d.err == nil {
		n--
		if n > uint64(len(d.s)) {
			return errContent
		}
		r.Extra = make(map[string]string, n)
		for range n {
			k := d.str()
			r.Extra[k] = d.str()
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

// extraNames calls fn with the name of each extra field of a stored
// content value, reading nothing else of a binary one.
func extraNames(data string, fn func(string)) error {
	if len(data) == 0 {
		return errContent
	}
	if data[0] != contentBinary {
		var c struct {
			Extra map[string]string `json:"extra"`
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return err
		}
		for k := range c.Extra {
			fn(k)
		}
		return nil
	}
	d := contentDecoder{s: data[1:]}
	skipList := func() {
		if n := d.uvarint(); n > 0 {
			for range n - 1 {
				if d.str(); d.err != nil {
					return
				}
			}
		}
	}
	d.str() // url
	d.str() // title
	d.str() // summary
	skipList()
	skipList()
	skipList()
	d.uvarint() // year
	skipList()
	d.str() // language
	if n := d.uvarint(); n > 0 && d.err == nil {
		for range n - 1 {
			k := d.str()
			d.str()
			if d.err != nil {
				break
			}
			fn(k)
		}
	}
	return d.err
}
