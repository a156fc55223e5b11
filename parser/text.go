package parser

import (
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// blockTags are elements whose boundaries separate words, as a browser
// lays them out on their own line or cell.
var blockTags = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true, atom.Blockquote: true,
	atom.Caption: true, atom.Dd: true, atom.Details: true, atom.Dialog: true,
	atom.Div: true, atom.Dl: true, atom.Dt: true, atom.Fieldset: true,
	atom.Figcaption: true, atom.Figure: true, atom.Footer: true, atom.Form: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Header: true, atom.Hgroup: true, atom.Hr: true, atom.Legend: true, atom.Li: true,
	atom.Main: true, atom.Nav: true, atom.Ol: true, atom.Option: true, atom.P: true,
	atom.Pre: true, atom.Section: true, atom.Summary: true, atom.Table: true,
	atom.Tbody: true, atom.Td: true, atom.Tfoot: true, atom.Th: true, atom.Thead: true,
	atom.Tr: true, atom.Ul: true, atom.Body: true, atom.Html: true,
}

// isBlock reports whether n is an element laid out as a block (or cell).
func isBlock(n *html.Node) bool {
	return n.Type == html.ElementNode && blockTags[n.DataAtom]
}

// isBreak reports whether n ends a text line: <br> or a block element.
func isBreak(n *html.Node) bool {
	return n.Type == html.ElementNode && (n.DataAtom == atom.Br || blockTags[n.DataAtom])
}

// invisible reports whether n's content is never shown as text: scripts,
// styles, <noscript> fallbacks, templates, and elements marked hidden.
func invisible(n *html.Node) bool {
	if n.Type == html.CommentNode || n.Type == html.DoctypeNode {
		return true
	}
	if n.Type != html.ElementNode {
		return false
	}
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Head, atom.Title:
		return true
	}
	for _, a := range n.Attr {
		switch a.Key {
		case "hidden":
			return true
		case "style":
			s := strings.ReplaceAll(strings.ToLower(a.Val), " ", "")
			if strings.Contains(s, "display:none") {
				return true
			}
		}
	}
	return false
}

// writeText appends the visible text of n to b, with a newline for each
// <br> and around each block element, so that adjacent blocks never glue
// their words together.
func writeText(b *strings.Builder, n *html.Node) { writeTextMode(b, n, false) }

// writeLines is writeText for split: br: newlines inside text nodes are
// source formatting and become spaces, so that a '\n' in b is a <br> or
// a block boundary only.
func writeLines(b *strings.Builder, n *html.Node) { writeTextMode(b, n, true) }

// lineEnds turns the line ends inside a text node into spaces: only <br>
// and block boundaries end a line. Built once; a Replacer is safe for
// concurrent use and never changes.
var lineEnds = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

func writeTextMode(b *strings.Builder, n *html.Node, lines bool) {
	switch n.Type {
	case html.TextNode:
		if lines {
			b.WriteString(lineEnds.Replace(n.Data))
			return
		}
		b.WriteString(n.Data)
		return
	case html.ElementNode, html.DocumentNode:
	default:
		return
	}
	if invisible(n) {
		return
	}
	if n.DataAtom == atom.Br {
		b.WriteByte('\n')
		return
	}
	block := isBlock(n)
	if block {
		b.WriteByte('\n')
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		writeTextMode(b, c, lines)
	}
	if block {
		b.WriteByte('\n')
	}
}

// nodeText is the visible text of n, whitespace-collapsed and NFC: the
// same walk as the parser's reusable textNorm, with a buffer of its own.
func nodeText(n *html.Node) string {
	if n == nil {
		return ""
	}
	var w textNorm
	w.reset()
	w.writeNode(n)
	return w.String()
}

// attr returns the trimmed value of n's attribute key, and whether n has it.
func attr(n *html.Node, key string) (string, bool) {
	if n == nil || n.Type != html.ElementNode {
		return "", false
	}
	for _, a := range n.Attr {
		if strings.EqualFold(a.Key, key) {
			return strings.TrimSpace(a.Val), true
		}
	}
	return "", false
}

// hasContent reports whether n shows any text, stopping at the first
// visible non-space character.
func hasContent(n *html.Node) bool {
	switch n.Type {
	case html.TextNode:
		return !isBlank(n.Data)
	case html.ElementNode:
		if invisible(n) {
			return false
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if hasContent(c) {
				return true
			}
		}
	}
	return false
}

// isBlank reports whether s holds only white space (as record.Text sees
// it: Unicode spaces, zero-width spaces, controls).
func isBlank(s string) bool {
	for _, c := range s {
		if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
			continue
		}
		if !unicode.IsSpace(c) && c != '\u200b' && c != '\ufeff' && !unicode.IsControl(c) {
			return false
		}
	}
	return true
}
