package parser

import (
	"bytes"
	"unicode"
	"unicode/utf8"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/text/unicode/norm"
)

// textNorm builds, in a buffer reused from one text to the next, what
// record.Text makes of the concatenation of everything written to it:
// white space collapsed (ASCII and Unicode spaces, zero-width spaces and
// byte order marks count as space), controls dropped, no leading or
// trailing space, NFC. Reading a node's text through it costs one
// allocation (the final string) instead of a builder's growth plus
// record.Text's copies, and none at all when the text is only compared.
type textNorm struct {
	b       []byte
	k       []byte // labelKey of b (key)
	space   bool   // a space is pending before the next visible character
	ascii   bool
	invalid bool // the last byte written was invalid UTF-8
}

func (w *textNorm) reset() {
	w.b, w.space, w.ascii = w.b[:0], false, true
}

// sep writes a separator: a space unless the text ends up at an edge.
func (w *textNorm) sep() { w.space = true }

// write appends s. Text nodes of a parsed page are valid UTF-8; in
// anything else each run of invalid bytes reads as one U+FFFD, as
// record.Text reads it.
func (w *textNorm) write(s string) {
	w.invalid = false
	for i := 0; i < len(s); {
		c := s[i]
		if c > ' ' && c < 0x7f { // a run of visible ASCII, copied at once
			j := i + 1
			for j < len(s) && s[j] > ' ' && s[j] < 0x7f {
				j++
			}
			if w.space && len(w.b) > 0 {
				w.b = append(w.b, ' ')
			}
			w.space, w.invalid = false, false
			w.b = append(w.b, s[i:j]...)
			i = j
			continue
		}
		if c == 0xc3 && i+1 < len(s) && s[i+1]&0xc0 == 0x80 {
			// U+00C0-U+00FF (accented Latin letters, × and ÷): never
			// space nor control.
			if w.space && len(w.b) > 0 {
				w.b = append(w.b, ' ')
			}
			w.space, w.invalid, w.ascii = false, false, false
			w.b = append(w.b, c, s[i+1])
			i += 2
			continue
		}
		if c < utf8.RuneSelf {
			w.invalid = false
			i++
			switch {
			case c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == 0:
				w.space = true
				continue
			case c < ' ' || c == 0x7f:
				continue
			}
			if w.space && len(w.b) > 0 {
				w.b = append(w.b, ' ')
			}
			w.space = false
			w.b = append(w.b, c)
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r == utf8.RuneError && n == 1 {
			if w.invalid {
				continue // the same run of invalid bytes
			}
			w.invalid = true
		} else {
			w.invalid = false
		}
		if unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff' {
			w.space = true
			continue
		}
		if unicode.IsControl(r) {
			continue
		}
		if w.space && len(w.b) > 0 {
			w.b = append(w.b, ' ')
		}
		w.space = false
		w.ascii = false
		w.b = utf8.AppendRune(w.b, r)
	}
}

// bytes returns the normalised text written since reset; it is valid
// until the next write or reset.
func (w *textNorm) bytes() []byte {
	if !w.ascii && !norm.NFC.IsNormal(w.b) {
		w.b = norm.NFC.Bytes(w.b)
		w.ascii = true // normal now
	}
	return w.b
}

// String returns the normalised text written since reset.
func (w *textNorm) String() string { return string(w.bytes()) }

// key returns labelKey of the text written since reset, without
// allocating: lower case, without trailing colons and spaces.
func (w *textNorm) key() []byte {
	b := w.bytes()
	w.k = w.k[:0]
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			w.k = append(w.k, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		w.k = utf8.AppendRune(w.k, unicode.ToLower(r))
		i += n
	}
	return bytes.TrimSpace(bytes.TrimRight(w.k, " :："))
}

// keyUpTo is key, or nil when the key is surely longer than max bytes
// (lower-casing shortens a rune's encoding at most threefold).
func (w *textNorm) keyUpTo(max int) []byte {
	if len(bytes.TrimRight(w.bytes(), " :：")) > 3*max {
		return nil
	}
	return w.key()
}

// writeNode writes the visible text of n as writeText lays it out: <br>
// and block boundaries separate words.
func (w *textNorm) writeNode(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		w.write(n.Data)
		return
	case html.ElementNode, html.DocumentNode:
	default:
		return
	}
	if invisible(n) {
		return
	}
	if n.DataAtom == atom.Br {
		w.sep()
		return
	}
	block := isBlock(n)
	if block {
		w.sep()
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.writeNode(c)
	}
	if block {
		w.sep()
	}
}

// scratch is the reusable working memory of one Parse call, and what it
// computes once per item for every rule that asks.
type scratch struct {
	tn      textNorm
	entries []labelEntry // backing store of the label indexes of one item
	labels  map[labelScope][]labelEntry
	lvalues map[labelScope][]raw
	matches map[labelScope][]*html.Node
}

// forget drops what was kept of the elements read so far; the next item
// reuses the memory.
func (sc *scratch) forget() {
	clear(sc.entries) // no pointers kept into the last item
	sc.entries = sc.entries[:0]
	clear(sc.labels)
	clear(sc.lvalues)
	clear(sc.matches)
}

// query returns the matches of fr's selector in root: the first for a
// single value, all for a list; rules with the same selector share them.
// The slice is shared: callers must not modify it.
func (sc *scratch) query(root *html.Node, fr *fieldRule) []*html.Node {
	k := labelScope{root: root, group: fr.sgroup}
	if ms, ok := sc.matches[k]; ok {
		return ms
	}
	var ms []*html.Node
	if fr.isList {
		ms = cascadia.QueryAll(root, fr.sel)
	} else if n := cascadia.Query(root, fr.sel); n != nil {
		ms = []*html.Node{n}
	}
	if sc.matches == nil {
		sc.matches = map[labelScope][]*html.Node{}
	}
	sc.matches[k] = ms
	return ms
}

// labelScope names an element read by the labels of one lexicon (for
// labels), or by one group of equal label rules (for lvalues).
type labelScope struct {
	root  *html.Node
	lex   *labelLexicon
	group int
}

// text is nodeText through the scratch buffer.
func (sc *scratch) text(n *html.Node) string {
	if n == nil {
		return ""
	}
	sc.tn.reset()
	sc.tn.writeNode(n)
	return sc.tn.String()
}

// textBytes is the normalised text of n, valid until the next use of sc.
func (sc *scratch) textBytes(n *html.Node) []byte {
	sc.tn.reset()
	if n != nil {
		sc.tn.writeNode(n)
	}
	return sc.tn.bytes()
}

// keyIs reports whether labelKey(nodeText(n)) == key.
func (sc *scratch) keyIs(n *html.Node, key string) bool {
	sc.tn.reset()
	if n != nil {
		sc.tn.writeNode(n)
	}
	return string(sc.tn.key()) == key
}

// pieceText is piece.text through the scratch buffer.
func (sc *scratch) pieceText(p piece) string {
	sc.tn.reset()
	sc.tn.write(p.lead)
	sc.tn.sep()
	for _, n := range p.nodes {
		sc.tn.writeNode(n)
	}
	return sc.tn.String()
}

// labelEntry is a visible text node of an element that may be a label of
// the lexicon: its labelKey when that is a label of the lexicon ("" when
// not), and its normalised text when it holds a colon ("" when not: only
// a "Label: value" line needs the text, and that has a colon).
type labelEntry struct {
	node *html.Node
	text string
	key  string
}

// labelIndex lists, in document order, the text nodes under root that
// findLabelIn would look at for any label of lex: one walk per element
// and lexicon, shared by every label rule.
func (sc *scratch) labelIndex(root *html.Node, lex *labelLexicon) []labelEntry {
	k := labelScope{root: root, lex: lex}
	if es, ok := sc.labels[k]; ok {
		return es
	}
	start := len(sc.entries)
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			if mayStartWith(n.Data, lex.list) {
				sc.tn.reset()
				sc.tn.write(n.Data)
				e := labelEntry{node: n}
				if b := sc.tn.bytes(); bytes.IndexByte(b, ':') >= 0 || bytes.Contains(b, []byte("：")) {
					e.text = string(b)
				}
				if kb := sc.tn.keyUpTo(lex.longest); kb != nil {
					for _, l := range lex.list {
						if l == string(kb) {
							e.key = l
							break
						}
					}
				}
				sc.entries = append(sc.entries, e)
			}
			return
		}
		if n.Type != html.ElementNode && n.Type != html.DocumentNode || invisible(n) {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	es := sc.entries[start:len(sc.entries):len(sc.entries)]
	if sc.labels == nil {
		sc.labels = map[labelScope][]labelEntry{}
	}
	sc.labels[k] = es
	return es
}
