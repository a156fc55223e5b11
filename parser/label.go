package parser

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/harvest-dev/harvest/record"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// A labelled facet is read in two steps: find the label (a text node
// whose text is the label, or starts with "Label:"), then walk what
// follows it up to the next label of the same shape. See DESIGN.md, "How
// rules read a page".

// piece is one value found after a label: an optional leading text (the
// rest of a "Label: value" text node) and a run of sibling nodes.
type piece struct {
	lead  string
	nodes []*html.Node
}

// empty reports whether p.text() == "", without building the text.
func (p piece) empty() bool {
	if !isBlank(p.lead) {
		return false
	}
	for _, n := range p.nodes {
		if hasContent(n) {
			return false
		}
	}
	return true
}

// labelKey folds a label for comparison: normalised text, lower case,
// without a trailing colon.
func labelKey(s string) string {
	s = strings.ToLower(record.Text(s))
	s = strings.TrimRight(s, " :：")
	return strings.TrimSpace(s)
}

// foldPrefix reports whether s begins with prefix, compared case-
// insensitively rune by rune, and returns the rest of s.
func foldPrefix(s, prefix string) (string, bool) {
	for prefix != "" {
		if s == "" {
			return "", false
		}
		pr, pn := utf8.DecodeRuneInString(prefix)
		sr, sn := utf8.DecodeRuneInString(s)
		if pr != sr && unicode.ToLower(pr) != unicode.ToLower(sr) {
			return "", false
		}
		prefix, s = prefix[pn:], s[sn:]
	}
	return s, true
}

// findLabel returns the first node inside the scope whose text is one of
// labels, in document order, and for a "Label: value" text node the rest
// of its text. A text that is the label alone wins over a "Label: value"
// line anywhere before it, so a summary beginning "Country: ..." does not
// pass for the facet. The node is nil when no label is found; key is the
// labelKey of a label alone. It reads the label index of each scope root
// (one walk per root for every rule of the lexicon).
func (sc *scratch) findLabel(scope []*html.Node, labels []string, lex *labelLexicon) (*html.Node, string, string) {
	var line labelLine
	for _, root := range scope {
		for _, e := range sc.labelIndex(root, lex) {
			if !mayStartWith(e.node.Data, labels) {
				continue
			}
			if line.matchText(e.node, e.text, e.key, labels) {
				return e.node, "", e.key
			}
		}
	}
	return line.node, line.rest, ""
}

// labelLine is the first "Label: value" text node met, kept while the
// search goes on for a text that is the label alone.
type labelLine struct {
	node *html.Node
	rest string
}

// matchText reports whether the text node n (normalised text t, label
// key) is one of labels alone; otherwise, when it is the first "Label:
// value" line met, it keeps it in line.
func (line *labelLine) matchText(n *html.Node, t, key string, labels []string) bool {
	for _, l := range labels {
		if key == l {
			return true
		}
	}
	if line.node != nil {
		return false
	}
	for _, l := range labels {
		rest, ok := foldPrefix(t, l)
		if !ok {
			continue
		}
		rest = strings.TrimLeft(rest, " ")
		r, ok := strings.CutPrefix(rest, ":")
		if !ok {
			r, ok = strings.CutPrefix(rest, "：")
		}
		if ok {
			line.node, line.rest = n, strings.TrimSpace(r)
			return false
		}
	}
	return false
}

// mayStartWith is a cheap filter before normalising a text node: does its
// first visible character match the first character of some label?
func mayStartWith(s string, labels []string) bool {
	// Skip ASCII white space byte by byte; other leading spaces the slow way.
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v') {
		i++
	}
	s = s[i:]
	if s != "" && s[0] >= utf8.RuneSelf {
		s = strings.TrimLeftFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff' })
	}
	if s == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	lr := unicode.ToLower(r)
	for _, l := range labels {
		f, _ := utf8.DecodeRuneInString(l)
		if f == r || f == lr {
			return true
		}
		// A decomposed first letter (NFD) normalises to another rune.
		if r < utf8.RuneSelf && f >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// labelElement climbs from the text node t to the element that is the
// label as a whole (<div class="field__label">, <dt>, <th>, <strong>),
// staying strictly inside the scope roots: the text's parent when the
// text is all it shows, then further up only from inline elements
// (<th><strong>Year</strong></th> is the <th>), never out of a block,
// so an empty Drupal field does not borrow the next field's value.
func (sc *scratch) labelElement(t *html.Node, key string, scope []*html.Node) *html.Node {
	inScope := func(n *html.Node) bool {
		for _, s := range scope {
			if n == s {
				return false
			}
		}
		return n != nil && n.Type == html.ElementNode
	}
	p := t.Parent
	if !inScope(p) || !sc.keyIs(p, key) {
		return t
	}
	l := p
	for !isBlock(l) {
		p := l.Parent
		if !inScope(p) || nextContent(l) != nil || !sc.keyIs(p, key) {
			break
		}
		l = p
	}
	return l
}

// nextContent is the first following sibling of n that shows something.
func nextContent(n *html.Node) *html.Node {
	for s := n.NextSibling; s != nil; s = s.NextSibling {
		if s.Type == html.ElementNode && s.DataAtom == atom.Br {
			return s
		}
		if hasContent(s) {
			return s
		}
	}
	return nil
}

// sameShape reports whether b looks like a label of the same kind as a:
// the same tag and, when a has classes, a's first class.
func sameShape(a, b *html.Node) bool {
	if a.Type != html.ElementNode || b.Type != html.ElementNode || a.Data != b.Data {
		return false
	}
	va, _ := attr(a, "class")
	vb, _ := attr(b, "class")
	first := ""
	for c := range strings.FieldsSeq(va) {
		first = c
		break
	}
	if first == "" {
		return strings.TrimFunc(vb, unicode.IsSpace) == ""
	}
	for c := range strings.FieldsSeq(vb) {
		if c == first {
			return true
		}
	}
	return false
}

// labelValues reads the values that follow the first label of fr found in
// the scope: one piece for a single value, one per item for a list.
func (fr *fieldRule) labelValues(sc *scratch, scope []*html.Node) []piece {
	t, rest, key := sc.findLabel(scope, fr.labels, fr.labelIn)
	if t == nil {
		return nil
	}
	l := t
	if rest == "" {
		l = sc.labelElement(t, key, scope)
	}
	colon := bytes.HasSuffix(bytes.TrimSpace(sc.textBytes(l)), []byte(":"))

	// Shape stops apply unless the values themselves look like the label
	// (<div>Country</div><div>Mexico</div>): then only known labels stop.
	shapeStop := l.Type == html.ElementNode
	if first := nextContent(l); first != nil && shapeStop && sameShape(l, first) {
		shapeStop = false
	}
	isStop := func(s *html.Node) bool {
		if shapeStop && sameShape(l, s) {
			return true
		}
		txt := sc.textBytes(s)
		if len(txt) == 0 {
			return false
		}
		n, suffix := len(txt), txt[len(txt)-1] == ':'
		if n < 80 && fr.labelIn.keys[string(sc.tn.key())] {
			return true
		}
		if s.Type == html.ElementNode && !shapeStop && colon && suffix && n < 60 && s.Data == l.Data {
			return true
		}
		return false
	}

	cur := piece{lead: rest}
	var blocks []*html.Node
	for s := l.NextSibling; s != nil; s = s.NextSibling {
		if s.Type == html.ElementNode && s.DataAtom == atom.Br {
			if !cur.empty() || len(blocks) > 0 {
				break
			}
			continue
		}
		if !hasContent(s) {
			continue
		}
		if isStop(s) {
			break
		}
		if isBlock(s) {
			if !cur.empty() {
				break
			}
			blocks = append(blocks, s)
			if !fr.isList {
				break
			}
			continue
		}
		if len(blocks) > 0 {
			break
		}
		cur.nodes = append(cur.nodes, s)
	}
	switch {
	case len(blocks) > 0:
		if !fr.isList {
			return []piece{{nodes: blocks[:1]}}
		}
		var out []piece
		for _, b := range blocks {
			out = append(out, splitItems(b)...)
		}
		return out
	case !cur.empty():
		if fr.isList && cur.lead == "" {
			if ps := splitInline(cur.nodes); len(ps) > 1 {
				return ps
			}
		}
		return []piece{cur}
	}
	return nil
}

// listWrappers may wrap the items of a list value.
func isListWrapper(n *html.Node) bool {
	return n.DataAtom == atom.Ul || n.DataAtom == atom.Ol || n.DataAtom == atom.Dl
}

// splitItems divides a value element into its items: the <li>s of a list,
// or the same-tag block children of a wrapper (Drupal's field__items
// around field__item). Lines broken by <br> stay one value, as their text
// reads ("Judge of<br>the Court"); a seed splits such text with split:.
func splitItems(n *html.Node) []piece {
	if n.Type != html.ElementNode {
		return []piece{{nodes: []*html.Node{n}}}
	}
	var elems []*html.Node
	text, br := false, false
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch {
		case c.Type == html.ElementNode && c.DataAtom == atom.Br:
			br = true
		case !hasContent(c):
		case c.Type == html.TextNode:
			text = true
		case c.Type == html.ElementNode:
			elems = append(elems, c)
		}
	}
	if !text && len(elems) == 1 && (isBlock(elems[0]) || isListWrapper(elems[0])) {
		return splitItems(elems[0])
	}
	if !text && len(elems) >= 2 && !br {
		same := true
		for _, e := range elems[1:] {
			if e.Data != elems[0].Data {
				same = false
				break
			}
		}
		if same && (isBlock(elems[0]) || isListWrapper(n)) {
			out := make([]piece, 0, len(elems))
			for _, e := range elems {
				out = append(out, piece{nodes: []*html.Node{e}})
			}
			return out
		}
	}
	return []piece{{nodes: []*html.Node{n}}}
}

// splitInline divides an inline run like `<a>A</a>, <a>B</a>` into one
// piece per element when only separators stand between the elements.
func splitInline(ns []*html.Node) []piece {
	var elems []*html.Node
	for _, n := range ns {
		switch n.Type {
		case html.ElementNode:
			if len(elems) > 0 && elems[0].Data != n.Data {
				return nil
			}
			elems = append(elems, n)
		case html.TextNode:
			switch strings.ToLower(strings.Trim(record.Text(n.Data), ",;/|&·• ")) {
			case "", "and", "y", "et", "und", "e":
			default:
				return nil
			}
		}
	}
	if len(elems) < 2 {
		return nil
	}
	out := make([]piece, len(elems))
	for i, e := range elems {
		out[i] = piece{nodes: []*html.Node{e}}
	}
	return out
}
