package parser

import (
	"bytes"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/harvest-dev/harvest/record"
)

// pageScan is what one walk of the document finds: with items, the
// matches of the items selector (as cascadia.QueryAll finds them), the
// first <base href> (as cascadia.Query finds it), the next-page link
// candidates and the page's own count of results (see totalCounter).
type pageScan struct {
	items    []*html.Node
	base     *html.Node
	hrefs    []string // hrefs of next-page links, in page order
	scripted bool     // a next-page link works only through scripts
	total    int
}

// scanPage walks the document once for the items (when items is set)
// and what the page says about itself: the links to further listing
// pages (the pagination.next selector's matches, <a>s whose text is one
// of pagination.next_text, and rel=next links; links that work only
// through scripts are dropped) and the page's count of results.
func (r *Rules) scanPage(doc *html.Node, items bool) *pageScan {
	ps := &pageScan{}
	var c totalCounter
	var walk func(n *html.Node, hidden bool)
	walk = func(n *html.Node, hidden bool) {
		switch n.Type {
		case html.TextNode:
			if !hidden && c.total == 0 {
				c.text(n.Data)
			}
			return
		case html.ElementNode, html.DocumentNode:
		default:
			return
		}
		if n.Type == html.ElementNode {
			if items && r.items.Match(n) {
				ps.items = append(ps.items, n)
			}
			if ps.base == nil && n.Data == "base" && baseSel.Match(n) {
				ps.base = n
			}
			if r.isNextLink(n) {
				href, a := linkOf(n)
				switch {
				case isScriptLink(href, a):
					ps.scripted = true
				case href != "":
					ps.hrefs = append(ps.hrefs, href)
				}
			}
		}
		hidden = hidden || invisible(n)
		counting := !hidden && c.total == 0
		block := counting && isBreak(n)
		if block {
			c.flush()
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch, hidden)
		}
		if block && n.DataAtom != atom.Br {
			c.flush()
		}
	}
	walk(doc, false)
	c.flush()
	ps.total = c.total
	return ps
}

// nextLinks resolves the next-page links found against base: absolute,
// canonical, each once, never the page itself (self). scriptPager is set
// when a script-only link was the only pager found.
func (ps *pageScan) nextLinks(base *url.URL, self string) (links []string, scriptPager bool) {
	seen := map[string]bool{self: true}
	for _, href := range ps.hrefs {
		if u := record.CanonicalURL(base, href); u != "" && !seen[u] {
			seen[u] = true
			links = append(links, u)
		}
	}
	return links, ps.scripted && len(links) == 0
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

// lazyRegexp compiles expr on first use, not at program start: a run
// whose pages were all not modified parses none.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// Counts a page gives of its own results. Conservative on purpose: a
// range "A-B of N" (in a few languages), or "N results" not followed by
// "per page".
var (
	rangeTotalRE = lazyRegexp(`(?i)(?:^|[^\d])(\d[\d,.\x{a0}]*)\s*(?:-|–|—|to|a|à|al|bis)\s*(\d[\d,.\x{a0}]*)\s+(?:of|de|sur|von|van|di|out of)\s+(?:about\s+|approximately\s+|un total de\s+)?(\d[\d,.\x{a0}]*)(?:$|[^\d])`)
	showTotalRE  = lazyRegexp(`(?i)(?:^|[^\pL\d])(?:showing|displaying|viewing|mostrando|affichage|résultats|results|items|records|entries|anzeige)\b`)
	countTotalRE = lazyRegexp(`(?i)(?:^|[^\d,.])(\d[\d,.\x{a0}]*)\s+(results?|resultados?|résultats?|hits|treffer|ergebnisse)(?:$|[^\pL])`)
	perPageRE    = lazyRegexp(`(?i)^\s*(?:per\s+page|por\s+página|par\s+page|pro\s+seite)`)
)

// totalCounter reads the page's count of results line by line, in one
// reused buffer: the first short line (300 bytes at most) holding a
// count gives the total.
type totalCounter struct {
	line  []byte
	long  bool
	total int
}

// text adds a text node; a newline of the source ends a line too.
func (c *totalCounter) text(data string) {
	for {
		seg, rest, nl := strings.Cut(data, "\n")
		if !c.long {
			if len(c.line)+len(seg) > 300 {
				c.long = true
			} else {
				c.line = append(c.line, seg...)
			}
		}
		if !nl {
			return
		}
		c.flush()
		data = rest
	}
}

// flush ends the current line.
func (c *totalCounter) flush() {
	if c.total == 0 && !c.long && len(c.line) > 0 && bytes.ContainsAny(c.line, "0123456789") {
		c.total = pageTotal(record.Text(string(c.line)))
	}
	c.line = c.line[:0]
	c.long = false
}

// pageTotal reads a count of results from one line of text, 0 when it
// states none clearly.
func pageTotal(text string) int {
	runs, counted := totalShape(text)
	return pageTotalRE(text, runs >= 3, counted)
}

// pageTotalRE is pageTotal by the regular expressions alone; ranged and
// counted say which of the two kinds of count the line may hold.
func pageTotalRE(text string, ranged, counted bool) int {
	if !ranged {
		goto count
	}
	for _, m := range rangeTotalRE().FindAllStringSubmatchIndex(text, -1) {
		a, _ := FirstInt(text[m[2]:m[3]])
		b, _ := FirstInt(text[m[4]:m[5]])
		n, _ := FirstInt(text[m[6]:m[7]])
		if a < 0 || a > b || b > n || n == 0 {
			continue
		}
		// The range must read as a results count: a word such as
		// "showing" or "results" shortly before or after.
		lo, hi := max(0, m[0]-40), min(len(text), m[1]+40)
		if showTotalRE().MatchString(text[lo:hi]) {
			return n
		}
	}
count:
	if !counted {
		return 0
	}
	for _, m := range countTotalRE().FindAllStringSubmatchIndex(text, -1) {
		if perPageRE().MatchString(text[m[5]:]) {
			continue
		}
		if n, ok := FirstInt(text[m[2]:m[3]]); ok && n > 0 {
			return n
		}
	}
	return 0
}

// totalShape is a quick look at a line before the regular expressions:
// how many runs of digits it holds (a range "A-B of N" needs three), and
// whether some digit run is followed by spaces and a letter that can
// begin a word of countTotalRE (r, h, t, e in either case; none of them
// has other case folds), which "N results" needs.
func totalShape(text string) (runs int, counted bool) {
	for i := 0; i < len(text); {
		if text[i] < '0' || text[i] > '9' {
			i++
			continue
		}
		runs++
		j := i
		for j < len(text) && (text[j] >= '0' && text[j] <= '9') {
			j++
		}
		i = j
		for j < len(text) && (text[j] >= '0' && text[j] <= '9' || text[j] == ',' || text[j] == '.' || strings.HasPrefix(text[j:], "\u00a0")) {
			if text[j] == 0xc2 {
				j++
			}
			j++
		}
		k := j
		for k < len(text) && (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' || text[k] == '\f' || text[k] == '\r') {
			k++
		}
		if k > j && k < len(text) && strings.IndexByte("rRhHtTeE", text[k]) >= 0 {
			counted = true
		}
	}
	return runs, counted
}

var (
	scriptFetchRE   = lazyRegexp(`(?i)\bfetch\s*\(|XMLHttpRequest|\.ajax\s*\(|axios|graphql|__NEXT_DATA__|window\.__INITIAL_STATE__`)
	enableScriptsRE = lazyRegexp(`(?i)(enable|activate|turn on|habilit|activ|aktivier)\w*\s+(?:\w+\s+){0,3}javascript|javascript\s+(?:is\s+)?(?:required|disabled|must be enabled|est désactivé|está desactivado)`)
)

// scriptWritesRE matches script code that writes markup into the page.
var scriptWritesRE = lazyRegexp(`\.innerHTML\s*\+?=|insertAdjacentHTML|document\.write|\.appendChild\s*\(|\.append\s*\(|\.html\s*\(|createElement\s*\(|render\s*\(`)

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
					if scriptFetchRE().MatchString(n.FirstChild.Data) {
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
				if enableScriptsRE().MatchString(b.String()) {
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
	if len(emptyIDs) == 0 || !scriptWritesRE().MatchString(js) {
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
