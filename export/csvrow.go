package export

import (
	"bufio"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/harvest-dev/harvest/record"
)

// rowWriter writes CSV rows field by field, byte for byte as
// encoding/csv.Writer does with Comma ',' and UseCRLF (FuzzRowWriter
// checks it against that writer), without building a []string per row:
// an export of a million records spends most of its time here, and
// encoding/csv's quoting scan runs a byte at a time where strings.IndexByte
// runs a word at a time.
//
// The rules it keeps (RFC 4180): fields are separated by ',' and rows end
// with CRLF; a field is quoted when it holds '"', ',', CR or LF, starts
// with a Unicode space, or is exactly `\.`; inside quotes '"' is doubled,
// LF is written as CRLF and a CR is dropped (so CRLF stays CRLF), which is
// what encoding/csv does with UseCRLF.
//
// Rows are assembled in a buffer of the rowWriter's own, handed to the
// bufio.Writer a rowFlush at a time (appending to a slice costs less than
// a bufio call per field, and a bufio.Writer passes a write as large as
// its buffer straight through). Whoever makes a rowWriter calls flush
// when done. Errors stick in the bufio.Writer; the caller checks them at
// Flush.
type rowWriter struct {
	w       *bufio.Writer
	buf     []byte // rows not yet handed to w
	started bool   // a field of the current row is written
	scratch []byte // list cells and numbers are assembled here
	times   [4]timeCell
}

// rowFlush is how many bytes of rows a rowWriter holds before it hands
// them on: the size of the bufio.Writer of an export.
const rowFlush = 64 << 10

func newRowWriter(w *bufio.Writer) *rowWriter {
	return &rowWriter{w: w, buf: make([]byte, 0, rowFlush+4<<10)}
}

// flush hands the rows written so far to the bufio.Writer.
func (rw *rowWriter) flush() {
	if len(rw.buf) > 0 {
		rw.w.Write(rw.buf)
		rw.buf = rw.buf[:0]
	}
}

// field writes s as the next field of the row.
func (rw *rowWriter) field(s string) {
	b := rw.buf
	if rw.started {
		b = append(b, ',')
	}
	rw.started = true
	if !needsQuotes(s) {
		rw.buf = append(b, s...)
		return
	}
	b = append(b, '"')
	if strings.IndexByte(s, '\n') < 0 && strings.IndexByte(s, '\r') < 0 {
		for {
			i := strings.IndexByte(s, '"')
			if i < 0 {
				break
			}
			b = append(append(b, s[:i+1]...), '"') // the quote, then the quote again
			s = s[i+1:]
		}
		b = append(b, s...)
	} else {
		for len(s) > 0 {
			i := strings.IndexAny(s, "\"\r\n")
			if i < 0 {
				i = len(s)
			}
			b = append(b, s[:i]...)
			s = s[i:]
			if len(s) > 0 {
				switch s[0] {
				case '"':
					b = append(b, `""`...)
				case '\n':
					b = append(b, "\r\n"...)
				}
				s = s[1:]
			}
		}
	}
	rw.buf = append(b, '"')
}

// needsQuotes is encoding/csv's fieldNeedsQuotes for Comma ','.
func needsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if len(s) < 32 { // eight bytes at a time beats four calls of IndexByte
		if hasSpecial(s) {
			return true
		}
	} else if strings.IndexByte(s, ',') >= 0 || strings.IndexByte(s, '"') >= 0 ||
		strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 {
		return true
	}
	if s == `\.` {
		return true
	}
	if s[0] < utf8.RuneSelf {
		return asciiSpace(s[0])
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}

// special are the bytes that make a field quoted wherever they are.
var special = [256]bool{',': true, '"': true, '\n': true, '\r': true}

// Word-at-a-time byte tests: a word w has a byte equal to c where
// x = w^(c*ones) has a zero byte, which (x-ones) &^ x & highs finds
// exactly (its other bits may be wrong, its being zero never is).
const ones, highs = 0x0101010101010101, 0x8080808080808080

// word is the first eight bytes of s, little-endian (one load).
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// hasSpecial reports whether s holds a special byte, eight bytes at a
// time.
func hasSpecial(s string) bool {
	for ; len(s) >= 8; s = s[8:] {
		w := word(s)
		a, b, c, d := w^(ones*','), w^(ones*'"'), w^(ones*'\n'), w^(ones*'\r')
		if ((a-ones)&^a|(b-ones)&^b|(c-ones)&^c|(d-ones)&^d)&highs != 0 {
			return true
		}
	}
	for i := 0; i < len(s); i++ {
		if special[s[i]] {
			return true
		}
	}
	return false
}

// hasByte2 reports whether s holds byte c or d, eight bytes at a time.
func hasByte2(s string, c, d byte) bool {
	for ; len(s) >= 8; s = s[8:] {
		w := word(s)
		a, b := w^(ones*uint64(c)), w^(ones*uint64(d))
		if ((a-ones)&^a|(b-ones)&^b)&highs != 0 {
			return true
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] == c || s[i] == d {
			return true
		}
	}
	return false
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// safe writes s neutralised as SafeCell does, without the copy SafeCell
// makes of a cell it changes.
func (rw *rowWriter) safe(s string) {
	if s == "" || !formulaStart(s[0]) {
		rw.field(s)
		return
	}
	rw.scratch = append(append(rw.scratch[:0], '\''), s...)
	rw.field(rw.scratchString())
}

// list writes vs as SafeCell(JoinList(vs)) does.
func (rw *rowWriter) list(vs []string) {
	switch {
	case len(vs) == 0:
		rw.field("")
		return
	case len(vs) == 1 && indexListSpecial(vs[0]) < 0:
		rw.safe(vs[0])
		return
	}
	b := rw.scratch[:0]
	if vs[0] != "" && formulaStart(vs[0][0]) {
		b = append(b, '\'')
	}
	for i, v := range vs {
		if i > 0 {
			b = append(b, record.ListSep...)
		}
		for { // v with a backslash before each ';' and '\', a run at a time
			j := indexListSpecial(v)
			if j < 0 {
				b = append(b, v...)
				break
			}
			b = append(append(b, v[:j]...), '\\', v[j])
			v = v[j+1:]
		}
	}
	rw.scratch = b
	rw.field(rw.scratchString())
}

// indexListSpecial is the index of the first ';' or '\' in s, or -1:
// what strings.IndexAny(s, `;\`) returns, without building its byte set
// at every call.
func indexListSpecial(s string) int {
	if len(s) < 32 {
		if !hasByte2(s, ';', '\\') {
			return -1
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == ';' || c == '\\' {
				return i
			}
		}
		return -1
	}
	i := strings.IndexByte(s, ';')
	if j := strings.IndexByte(s, '\\'); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	return i
}

// year writes formatYear(y).
func (rw *rowWriter) year(y int) {
	if y == 0 {
		rw.field("")
		return
	}
	rw.scratch = strconv.AppendInt(rw.scratch[:0], int64(y), 10)
	rw.plain(rw.scratchString())
}

// time writes formatTime(t), remembering the last value of column slot
// i: the times of one run repeat across thousands of rows.
func (rw *rowWriter) time(i int, t time.Time) {
	rw.plain(rw.times[i].format(t))
}

// plain writes s as the next field of the row, s being a cell that never
// needs quotes: a time of formatTime ("2026-01-02T15:04:05Z") or an
// integer, nothing but ASCII digits, letters, '-' and ':'.
func (rw *rowWriter) plain(s string) {
	if rw.started {
		rw.buf = append(rw.buf, ',')
	}
	rw.started = true
	rw.buf = append(rw.buf, s...)
}

// end finishes the row.
func (rw *rowWriter) end() {
	rw.buf = append(rw.buf, "\r\n"...)
	rw.started = false
	if len(rw.buf) >= rowFlush {
		rw.flush()
	}
}

// row writes a whole row of fields as they are.
func (rw *rowWriter) row(fields ...string) {
	for _, f := range fields {
		rw.field(f)
	}
	rw.end()
}

// scratchString is the scratch buffer as a string, without a copy: it
// is only ever passed to field, which writes it out and keeps nothing.
func (rw *rowWriter) scratchString() string {
	return unsafe.String(unsafe.SliceData(rw.scratch), len(rw.scratch))
}

func formulaStart(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// timeCell caches the formatTime of the last time it was given.
type timeCell struct {
	ok  bool
	t   time.Time
	out string
}

func (c *timeCell) format(t time.Time) string {
	if !c.ok || !t.Equal(c.t) {
		c.ok, c.t, c.out = true, t, formatTime(t)
	}
	return c.out
}
