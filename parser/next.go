package parser

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/harvest-dev/harvest/record"
)

// nextLinks finds the links to further listing pages, in page order: the
// pagination.next selector's matches, <a>s whose text is one of
// pagination.next_text, and rel=next links. Links that work only through
// scripts are dropped; scriptPager reports that such a link was the only
// pager found.
func (r *Rules) nextLinks(doc *html.Node, base *url.URL, self string) (links []string, scriptPager bool) {
	seen := map[string]bool{self: true}
	scripted := false
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && r.isNextLink(n) {
			href, a := linkOf(n)
			switch {
			case isScriptLink(href, a):
				scripted = true
			case href != "":
				if u := record.CanonicalURL(base, href); u != "" && !seen[u] {
					seen[u] = true
					links = append(links, u)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return links, scripted && len(links) == 0
}

// isNextLink reports whether n is a next-page link by any configured way.
func (r *Rules) isNextLink(n *html.Node) bool {
	if r.next != nil && r.next.Match(n) {
		return true
	}
	if n.DataAtom == atom.A && len(r.nextText) > 0 {
		t := strings.ToLower(nodeText(n))
		// "Next ›", "» Next", "Next »»": arrows around the word do not
		// count, unless the seed's text is itself only symbols ("»").
		core := strings.TrimFunc(t, func(c rune) bool { return !unicode.IsLetter(c) && !unicode.IsDigit(c) })
		for _, want := range r.nextText {
			if t == want || (core != "" && core == want) {
				return true
			}
		}
	}
	if r.relNext && (n.DataAtom == atom.A || n.DataAtom == atom.Link) {
		if rel, ok := attr(n, "rel"); ok {
			for _, tok := range strings.Fields(strings.ToLower(rel)) {
				if tok == "next" {
					return true
				}
			}
		}
	}
	return false
}

// linkOf returns the href of n, or of its first descendant link, and the
// element carrying it.
func linkOf(n *html.Node) (string, *html.Node) {
	if v, ok := attr(n, "href"); ok {
		return v, n
	}
	var found *html.Node
	var walk func(*html.Node)
	walk = func(c *html.Node) {
		for ; c != nil && found == nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.DataAtom == atom.A {
				found = c
				return
			}
			walk(c.FirstChild)
		}
	}
	walk(n.FirstChild)
	if found == nil {
		if _, ok := attr(n, "onclick"); ok {
			return "", n
		}
		return "", nil
	}
	v, _ := attr(found, "href")
	return v, found
}

// isScriptLink reports whether a pager link works only through scripts or
// form posts: javascript: URLs, __doPostBack, or an onclick handler on a
// link going nowhere ("#" or no href).
func isScriptLink(href string, a *html.Node) bool {
	if a == nil {
		return false
	}
	h := strings.ToLower(strings.TrimSpace(href))
	if strings.HasPrefix(h, "javascript:") || strings.Contains(h, "__dopostback") {
		return true
	}
	if _, ok := attr(a, "onclick"); ok && (h == "" || strings.HasPrefix(h, "#")) {
		return true
	}
	return false
}

// Counts a page gives of its own results. Conservative on purpose: a
// range "A-B of N" (in a few languages), or "N results" not followed by
// "per page".
var (
	rangeTotalRE = regexp.MustCompile(`(?i)(?:^|[^\d])(\d[\d,.\x{a0}]*)\s*(?:-|–|—|to|a|à|al|bis)\s*(\d[\d,.\x{a0}]*)\s+(?:of|de|sur|von|van|di|out of)\s+(?:about\s+|approximately\s+|un total de\s+)?(\d[\d,.\x{a0}]*)(?:$|[^\d])`)
	showTotalRE  = regexp.MustCompile(`(?i)(?:^|[^\pL\d])(?:showing|displaying|viewing|mostrando|affichage|résultats|results|items|records|entries|anzeige)\b`)
	countTotalRE = regexp.MustCompile(`(?i)(?:^|[^\d,.])(\d[\d,.\x{a0}]*)\s+(results?|resultados?|résultats?|hits|treffer|ergebnisse)(?:$|[^\pL])`)
	perPageRE    = regexp.MustCompile(`(?i)^\s*(?:per\s+page|por\s+página|par\s+page|pro\s+seite)`)
)

// docTotal reads the page's own count of results: only short lines
// (block-separated) that hold a digit are read, so a number in a long
// summary never passes for the count. Lines are cut as writeText cuts
// them, without building the page's whole text.
func docTotal(doc *html.Node) int {
	var line strings.Builder
	total := 0
	long := false
	flush := func() {
		if total == 0 && !long && line.Len() > 0 {
			if l := line.String(); strings.ContainsAny(l, "0123456789") {
				total = pageTotal(record.Text(l))
			}
		}
		line.Reset()
		long = false
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if total > 0 {
			return
		}
		switch n.Type {
		case html.TextNode:
			// A newline of the source ends a line too, as before.
			data := n.Data
			for {
				seg, rest, nl := strings.Cut(data, "\n")
				if !long {
					if line.Len()+len(seg) > 300 {
						long = true
					} else {
						line.WriteString(seg)
					}
				}
				if !nl {
					return
				}
				flush()
				data = rest
			}
		case html.ElementNode, html.DocumentNode:
		default:
			return
		}
		if invisible(n) {
			return
		}
		if n.DataAtom == atom.Br {
			flush()
			return
		}
		block := isBlock(n)
		if block {
			flush()
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if block {
			flush()
		}
	}
	walk(doc)
	flush()
	return total
}

// pageTotal reads a count of results from one line of text, 0 when it
// states none clearly.
func pageTotal(text string) int {
	for _, m := range rangeTotalRE.FindAllStringSubmatchIndex(text, -1) {
		a, _ := FirstInt(text[m[2]:m[3]])
		b, _ := FirstInt(text[m[4]:m[5]])
		n, _ := FirstInt(text[m[6]:m[7]])
		if a < 0 || a > b || b > n || n == 0 {
			continue
		}
		// The range must read as a results count: a word such as
		// "showing" or "results" shortly before or after.
		lo, hi := max(0, m[0]-40), min(len(text), m[1]+40)
		if showTotalRE.MatchString(text[lo:hi]) {
			return n
		}
	}
	for _, m := range countTotalRE.FindAllStringSubmatchIndex(text, -1) {
		if perPageRE.MatchString(text[m[5]:]) {
			continue
		}
		if n, ok := FirstInt(text[m[2]:m[3]]); ok && n > 0 {
			return n
		}
	}
	return 0
}

var (
	scriptFetchRE   = regexp.MustCompile(`(?i)\bfetch\s*\(|XMLHttpRequest|\.ajax\s*\(|axios|graphql|__NEXT_DATA__|window\.__INITIAL_STATE__`)
	enableScriptsRE = regexp.MustCompile(`(?i)(enable|activate|turn on|habilit|activ|aktivier)\w*\s+(?:\w+\s+){0,3}javascript|javascript\s+(?:is\s+)?(?:required|disabled|must be enabled|est désactivé|está desactivado)`)
)

// scriptWritesRE matches script code that writes markup into the page.
var scriptWritesRE = regexp.MustCompile(`\.innerHTML\s*\+?=|insertAdjacentHTML|document\.write|\.appendChild\s*\(|\.append\s*\(|\.html\s*\(|createElement\s*\(|render\s*\(`)

// scriptBuilt reports whether a page appears to build its list with
// scripts: an inline script that fetches data, a <noscript> asking for
// JavaScript, an empty application root, or an empty element that an
// inline script looks up by id and writes markup into
// (getElementById('list').innerHTML = ...).
func scriptBuilt(doc *html.Node) bool {
	found := false
	var scripts strings.Builder
	var emptyIDs []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if found {
			return
		}
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Script:
				if _, src := attr(n, "src"); !src && n.FirstChild != nil {
					if scriptFetchRE.MatchString(n.FirstChild.Data) {
						found = true
						return
					}
					scripts.WriteString(n.FirstChild.Data)
					scripts.WriteByte('\n')
				}
			case atom.Noscript:
				var b strings.Builder
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.TextNode {
						b.WriteString(c.Data)
					} else {
						writeText(&b, c)
					}
				}
				if enableScriptsRE.MatchString(b.String()) {
					found = true
					return
				}
			case atom.Div, atom.Main, atom.Section, atom.Ul, atom.Ol, atom.Tbody, atom.Table, atom.Span, atom.Article:
				id, _ := attr(n, "id")
				if id != "" && !hasContent(n) {
					if id == "root" || id == "app" || id == "__next" || id == "__nuxt" {
						found = true
						return
					}
					emptyIDs = append(emptyIDs, id)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if found {
		return true
	}
	js := scripts.String()
	if len(emptyIDs) == 0 || !scriptWritesRE.MatchString(js) {
		return false
	}
	for _, id := range emptyIDs {
		for _, q := range []string{"'", "\"", "`"} {
			if strings.Contains(js, q+id+q) || strings.Contains(js, q+"#"+id+q) {
				return true
			}
		}
	}
	return false
}
