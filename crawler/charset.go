package crawler

import (
	"bytes"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/saintfish/chardet"
	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
)

// DecodeHTML converts an HTML document to UTF-8. contentType is the HTTP
// Content-Type header ("" when unknown, as for a file on disk).
//
// The encoding is taken from, in this order: a byte order mark; the charset
// parameter of contentType; a <meta charset> or <meta http-equiv=
// "Content-Type"> anywhere in the document's head (not only its first 1024
// bytes); else it is detected: valid UTF-8 is UTF-8, anything else is
// guessed statistically, falling back to windows-1252. Labels are read as
// the WHATWG Encoding standard says (so ISO-8859-1 and US-ASCII mean
// windows-1252). A document declared windows-1252 (or ISO-8859-1) whose
// bytes are valid UTF-8 is read as UTF-8: that mislabelling is far more
// common than Latin-1 text that happens to be valid UTF-8.
//
// The result is always valid UTF-8 (undecodable bytes become U+FFFD) and
// carries no byte order mark. The document's own charset declaration is
// left in place; the bytes returned are UTF-8 whatever it says.
//
// The result never shares memory with body.
func DecodeHTML(contentType string, body []byte) ([]byte, error) {
	return decodeHTML(contentType, body, false)
}

// decodeHTML is DecodeHTML; with owned, the caller hands body over and
// body that is already valid UTF-8 (the common case) is returned as it
// is, or without its UTF-8 byte order mark: no copy is made.
func decodeHTML(contentType string, body []byte, owned bool) ([]byte, error) {
	if len(body) == 0 {
		return []byte{}, nil
	}
	if e, name, n := bomEncoding(body); e != nil {
		return decodeWith(e, name, body[n:], owned)
	}
	e, name := headerCharset(contentType)
	if e == nil {
		e, name = metaCharset(body)
	}
	if e != nil && name == "windows-1252" && utf8.Valid(body) {
		e, name = nil, "utf-8"
	}
	if e == nil && name == "" {
		e, name = detectCharset(body)
	}
	return decodeWith(e, name, body, owned)
}

// bomEncoding returns the encoding a byte order mark announces and the
// mark's length, or nil.
func bomEncoding(b []byte) (encoding.Encoding, string, int) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return encoding.Nop, "utf-8", 3
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		e, name := charset.Lookup("utf-16be")
		return e, name, 2
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		e, name := charset.Lookup("utf-16le")
		return e, name, 2
	}
	return nil, "", 0
}

// headerCharset reads the charset parameter of a Content-Type value.
func headerCharset(contentType string) (encoding.Encoding, string) {
	if contentType == "" {
		return nil, ""
	}
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		// A malformed header may still carry a usable charset.
		return labelCharset(charsetFromContent(contentType))
	}
	return labelCharset(params["charset"])
}

// metaCharset scans the document's head (up to <body>, or the whole
// document when there is none) for a charset declaration.
func metaCharset(body []byte) (encoding.Encoding, string) {
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return nil, ""
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "body":
				return nil, ""
			case "meta":
			default:
				continue
			}
			var cs, content string
			pragma := false
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				switch strings.ToLower(string(k)) {
				case "charset":
					cs = string(v)
				case "http-equiv":
					pragma = strings.EqualFold(strings.TrimSpace(string(v)), "content-type")
				case "content":
					content = string(v)
				}
			}
			if cs == "" && pragma {
				cs = charsetFromContent(content)
			}
			if cs == "" {
				continue
			}
			e, n := labelCharset(cs)
			if e == nil {
				continue
			}
			// A declaration readable as ASCII cannot be UTF-16 (WHATWG
			// "prescan": such a label means UTF-8).
			if strings.HasPrefix(n, "utf-16") {
				return encoding.Nop, "utf-8"
			}
			return e, n
		}
	}
}

// charsetFromContent extracts the charset of "text/html; charset=X".
func charsetFromContent(s string) string {
	ls := strings.ToLower(s)
	i := strings.Index(ls, "charset")
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(s[i+len("charset"):], " \t")
	if !strings.HasPrefix(rest, "=") {
		return ""
	}
	rest = strings.TrimLeft(rest[1:], " \t")
	if rest == "" {
		return ""
	}
	if q := rest[0]; q == '"' || q == '\'' {
		if j := strings.IndexByte(rest[1:], q); j >= 0 {
			return rest[1 : 1+j]
		}
		return ""
	}
	if j := strings.IndexAny(rest, " \t;"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// labelCharset looks up an encoding label; unknown labels give nil.
func labelCharset(label string) (encoding.Encoding, string) {
	label = strings.TrimSpace(label)
	if label == "" {
		return nil, ""
	}
	e, name := charset.Lookup(label)
	if e == nil {
		return nil, ""
	}
	return e, name
}

// detectCharset guesses the encoding of an undeclared document.
func detectCharset(body []byte) (encoding.Encoding, string) {
	if utf8.Valid(body) {
		return encoding.Nop, "utf-8"
	}
	if r, err := chardet.NewHtmlDetector().DetectBest(body); err == nil && r.Confidence >= 50 {
		if e, name := labelCharset(r.Charset); e != nil && name != "utf-8" {
			return e, name
		}
	}
	e, name := charset.Lookup("windows-1252")
	return e, name
}

// decodeWith converts body from the named encoding to valid UTF-8 in a
// new slice, or, when the caller owns body and it is valid UTF-8 already,
// returns body itself.
func decodeWith(e encoding.Encoding, name string, body []byte, owned bool) ([]byte, error) {
	if name == "utf-8" || e == nil || e == encoding.Nop {
		switch {
		case !utf8.Valid(body):
			return bytes.ToValidUTF8(body, []byte("\uFFFD")), nil // always a new slice
		case owned:
			return body, nil
		}
		return bytes.Clone(body), nil
	}
	out, err := e.NewDecoder().Bytes(body)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", name, err)
	}
	if !utf8.Valid(out) {
		out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
	}
	return out, nil
}
