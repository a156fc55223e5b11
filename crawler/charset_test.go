package crawler

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"
)

func encode(t *testing.T, e encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encode %q: %v", s, err)
	}
	return b
}

func TestDecodeHTML(t *testing.T) {
	const fr = "Traite des êtres humains — «café» Año 2019 €"
	const ja = "人身取引に関する報告書"
	longHead := "<!-- " + strings.Repeat("padding ", 300) + " -->" // pushes <meta> past 1024 bytes
	cases := []struct {
		name        string
		contentType string
		body        []byte
		want        string
	}{
		{
			name:        "windows-1252 in the header",
			contentType: "text/html; charset=windows-1252",
			body:        encode(t, charmap.Windows1252, "<p>"+fr+"</p>"),
			want:        "<p>" + fr + "</p>",
		},
		{
			name:        "ISO-8859-1 in the header, quoted",
			contentType: `text/html; charset="ISO-8859-1"`,
			body:        encode(t, charmap.ISO8859_1, "<p>Año: Bogotá</p>"),
			want:        "<p>Año: Bogotá</p>",
		},
		{
			name: "ISO-8859-1 in meta http-equiv",
			body: encode(t, charmap.ISO8859_1, `<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head><body>País: México</body></html>`),
			want: `<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head><body>País: México</body></html>`,
		},
		{
			name: "Shift_JIS in meta charset",
			body: encode(t, japanese.ShiftJIS, `<html><head><meta charset="Shift_JIS"><title>`+ja+`</title></head></html>`),
			want: `<html><head><meta charset="Shift_JIS"><title>` + ja + `</title></head></html>`,
		},
		{
			// Detection alone would read these bytes as windows-1252.
			name: "meta charset beyond the first 1024 bytes",
			body: encode(t, charmap.Windows1250, "<html><head>"+longHead+`<meta charset="windows-1250"></head><body>Příliš žluťoučký kůň. Łódź</body></html>`),
			want: "<html><head>" + longHead + `<meta charset="windows-1250"></head><body>Příliš žluťoučký kůň. Łódź</body></html>`,
		},
		{
			name:        "UTF-8 with a BOM, header says otherwise",
			contentType: "text/html; charset=windows-1252",
			body:        append([]byte{0xEF, 0xBB, 0xBF}, "<p>"+fr+"</p>"...),
			want:        "<p>" + fr + "</p>",
		},
		{
			name: "UTF-16LE with a BOM",
			body: encode(t, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), "<p>"+ja+"</p>"),
			want: "<p>" + ja + "</p>",
		},
		{
			name:        "UTF-8 mislabelled ISO-8859-1 in the header",
			contentType: "text/html; charset=ISO-8859-1",
			body:        []byte("<p>" + fr + "</p>"),
			want:        "<p>" + fr + "</p>",
		},
		{
			name: "UTF-8 mislabelled windows-1252 in meta",
			body: []byte(`<meta charset="windows-1252"><p>` + fr + "</p>"),
			want: `<meta charset="windows-1252"><p>` + fr + "</p>",
		},
		{
			name: "undeclared UTF-8",
			body: []byte("<p>" + ja + " " + fr + "</p>"),
			want: "<p>" + ja + " " + fr + "</p>",
		},
		{
			name: "undeclared Latin-1",
			body: encode(t, charmap.Windows1252, "<html><body><p>Le président a déclaré que la sécurité était prioritaire à Genève.</p></body></html>"),
			want: "<html><body><p>Le président a déclaré que la sécurité était prioritaire à Genève.</p></body></html>",
		},
		{
			name:        "unknown label falls back to detection",
			contentType: "text/html; charset=x-no-such-charset",
			body:        []byte("<p>" + fr + "</p>"),
			want:        "<p>" + fr + "</p>",
		},
		{
			name:        "declared UTF-8 with a stray invalid byte stays valid",
			contentType: "text/html; charset=utf-8",
			body:        []byte("<p>ok \xff ok</p>"),
			want:        "<p>ok \uFFFD ok</p>",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeHTML(tc.contentType, tc.body)
			if err != nil {
				t.Fatalf("DecodeHTML: %v", err)
			}
			if !utf8.Valid(got) {
				t.Fatalf("output is not valid UTF-8: %q", got)
			}
			if string(got) != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDecodeHTMLDoesNotAliasInput(t *testing.T) {
	in := []byte("<p>abc</p>")
	out, err := DecodeHTML("", in)
	if err != nil {
		t.Fatal(err)
	}
	out[3] = 'X'
	if !bytes.Equal(in, []byte("<p>abc</p>")) {
		t.Errorf("DecodeHTML returned the caller's slice; changing the output changed the input to %q", in)
	}
}

// A body the crawler owns that is already UTF-8 (the common case) is
// handed on as it is: no copy per page, with or without a byte order mark
// or a charset label. DecodeHTML itself still copies (see above).
func TestDecodeOwnedValidUTF8IsNotCopied(t *testing.T) {
	page := []byte(`<html><head><meta charset="utf-8"></head><body><p>Año: Bogotá — «café»</p></body></html>`)
	bom := append([]byte{0xEF, 0xBB, 0xBF}, page...)
	for _, tc := range []struct {
		name, ct string
		body     []byte
		want     []byte // the slice the result must share
	}{
		{"no label", "", page, page},
		{"utf-8 header", "text/html; charset=utf-8", page, page},
		{"windows-1252 header on UTF-8 bytes", "text/html; charset=windows-1252", page, page},
		{"byte order mark", "text/html", bom, bom[3:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeHTML(tc.ct, tc.body, true)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, page) {
				t.Fatalf("decodeHTML = %q, want %q", got, page)
			}
			if &got[0] != &tc.want[0] {
				t.Error("valid UTF-8 body was copied")
			}
			if c, _ := DecodeHTML(tc.ct, tc.body); &c[0] == &tc.want[0] {
				t.Error("DecodeHTML returned the caller's slice")
			}
		})
	}
	bad := []byte("<p>caf\xe9 \xff</p>")
	got, err := decodeHTML("text/html; charset=utf-8", bad, true)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "<p>caf\uFFFD \uFFFD</p>" || string(bad) != "<p>caf\xe9 \xff</p>" {
		t.Errorf("invalid UTF-8: got %q, input now %q", got, bad)
	}
}
