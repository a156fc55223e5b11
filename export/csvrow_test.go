package export

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/record"
)

// The CSV a record snapshot is made of, cell by cell, the plain way: the
// reference writeRecord and rowWriter are held to.
func referenceRecordRow(r *record.Record, extra []string) []string {
	removed := ""
	if r.RemovedAt != nil {
		removed = formatTime(*r.RemovedAt)
	}
	row := []string{
		SafeCell(r.Source), SafeCell(r.Key), SafeCell(r.URL), SafeCell(r.Title), SafeCell(r.Summary),
		SafeCell(JoinList(r.Countries)), SafeCell(JoinList(r.Regions)), SafeCell(JoinList(r.Authors)),
		formatYear(r.Year), SafeCell(JoinList(r.Categories)), SafeCell(r.Language),
		formatTime(r.FirstSeen), formatTime(r.LastSeen), formatTime(r.LastChanged), removed,
		SafeCell(r.ContentHash),
	}
	for _, e := range extra {
		row = append(row, SafeCell(r.Extra[e]))
	}
	return row
}

// encodingCSV writes rows with encoding/csv as harvest writes CSV.
func encodingCSV(t testing.TB, rows ...[]string) string {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.UseCRLF = true
	if err := cw.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func rowWriterCSV(t testing.TB, write func(rw *rowWriter)) string {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	rw := newRowWriter(bw)
	write(rw)
	rw.flush()
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// awkward are cell values that exercise every quoting and neutralising
// rule.
var awkward = []string{
	"", "plain", "a,b", `say "hi"`, "two\nlines", "cr\rhere", "crlf\r\nend", `\.`, `\.x`,
	" leading space", "\u00a0nbsp first", "\u3000ideographic space", "trailing ",
	"=SUM(A1)", "+1", "-2", "@cmd", "\tTab", "\rCR", "a;b", `back\slash`, ";", `\`,
	"Perú, Bogotá & <Ñ>", "עברית \"quoted\"", "\xff\xfe invalid UTF-8", "\"", `""`, ",",
}

func TestRowWriterMatchesEncodingCSV(t *testing.T) {
	for _, a := range awkward {
		for _, b := range awkward {
			want := encodingCSV(t, []string{a, b}, []string{b})
			got := rowWriterCSV(t, func(rw *rowWriter) { rw.row(a, b); rw.row(b) })
			if got != want {
				t.Fatalf("row (%q, %q): rowWriter wrote %q, encoding/csv %q", a, b, got, want)
			}
		}
	}
}

func FuzzRowWriter(f *testing.F) {
	for _, a := range awkward {
		f.Add(a, "x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		want := encodingCSV(t, []string{a, b, a})
		got := rowWriterCSV(t, func(rw *rowWriter) { rw.row(a, b, a) })
		if got != want {
			t.Fatalf("rowWriter wrote %q, encoding/csv %q", got, want)
		}
	})
}

// FuzzRowWriterList: a list cell, whatever its values, is written as
// encoding/csv writes SafeCell(JoinList(values)).
func FuzzRowWriterList(f *testing.F) {
	for i, a := range awkward {
		f.Add(a, awkward[(i+3)%len(awkward)])
	}
	f.Add(strings.Repeat(`long\value; `, 4), "=a;b\\c")
	f.Fuzz(func(t *testing.T, a, b string) {
		lists := [][]string{{a}, {b}, {a, b}, {b, a, b}}
		var cells []string
		for _, vs := range lists {
			cells = append(cells, SafeCell(JoinList(vs)))
		}
		want := encodingCSV(t, cells)
		got := rowWriterCSV(t, func(rw *rowWriter) {
			for _, vs := range lists {
				rw.list(vs)
			}
			rw.end()
		})
		if got != want {
			t.Fatalf("lists %q: rowWriter wrote %q, encoding/csv %q", lists, got, want)
		}
	})
}

// TestWriteRecordMatchesCells: every record, however awkward its values,
// comes out of writeRecord exactly as encoding/csv writes the cells
// SafeCell, JoinList, formatYear and formatTime make of it.
func TestWriteRecordMatchesCells(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 8, time.FixedZone("X", 3600))
	extra := []string{"doi", "pages"}
	var recs []record.Record
	for i, a := range awkward {
		b := awkward[(i+7)%len(awkward)]
		r := record.Record{
			Source: "src", Key: a, URL: "https://example.org/" + b, Title: a, Summary: b + a,
			Countries: []string{a, b}, Regions: []string{b}, Authors: []string{a},
			Year: 2000 + i - 10, Categories: nil, Language: b,
			FirstSeen: t0, LastSeen: t0.Add(time.Duration(i/3) * time.Hour), LastChanged: t0,
			ContentHash: "sha256:" + strings.Repeat("ab", 4),
			Extra:       map[string]string{"doi": a},
		}
		if i%2 == 0 {
			r.Extra["pages"] = b
			removed := t0.Add(time.Duration(i) * time.Minute)
			r.RemovedAt = &removed
		}
		if i%5 == 0 {
			r.Year, r.Extra, r.Countries = 0, nil, []string{}
		}
		recs = append(recs, r)
	}
	var rows [][]string
	for i := range recs {
		rows = append(rows, referenceRecordRow(&recs[i], extra))
	}
	want := encodingCSV(t, rows...)
	got := rowWriterCSV(t, func(rw *rowWriter) {
		for i := range recs {
			writeRecord(rw, &recs[i], extra)
		}
	})
	if got != want {
		gl, wl := strings.Split(got, "\r\n"), strings.Split(want, "\r\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d:\n got %q\nwant %q", i, gl[i], wl[i])
			}
		}
		t.Fatalf("got %d lines, want %d", len(gl), len(wl))
	}
}

// TestHasSpecial: the word-at-a-time tests find every special byte, and
// every ';' and '\', at every position of strings of every length they
// handle, and no other byte (bytes one off, or with the high bit set,
// included).
func TestHasSpecial(t *testing.T) {
	others := []byte{'a', ' ', 0, 0x7f, 0x80, 0xff, ',' + 1, ',' - 1, '"' + 1, '\n' + 1, '\r' - 1, ',' | 0x80, '\n' | 0x80, '"' ^ 0x01, ';' + 1, '\\' - 1, ';' | 0x80}
	for n := 0; n <= 70; n++ {
		for _, fill := range others {
			b := bytes.Repeat([]byte{fill}, n)
			if hasSpecial(string(b)) {
				t.Fatalf("found a special byte in %q", b)
			}
			for i := range n {
				for c := range 256 {
					b[i] = byte(c)
					if got, want := hasSpecial(string(b)), special[c]; got != want {
						t.Fatalf("%q: hasSpecial = %v, want %v", b, got, want)
					}
					if got, want := hasByte2(string(b), ';', '\\'), c == ';' || c == '\\'; got != want {
						t.Fatalf("%q: hasByte2(;\\) = %v, want %v", b, got, want)
					}
				}
				b[i] = fill
			}
		}
	}
}
