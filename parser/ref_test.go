package parser

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
)

// The first, straightforward forms of what the parser now does through
// its scratch buffers and per-item indexes, kept as references: tests
// check that both give the same answers on every page they know.

func (p piece) text() string {
	if len(p.nodes) == 0 {
		return record.Text(p.lead)
	}
	return record.Text(p.lead + " " + nodesText(p.nodes))
}

// findLabel returns the first node inside the scope whose text is one of
// labels, in document order, and for a "Label: value" text node the rest
// of its text. A text that is the label alone wins over a "Label: value"
// line anywhere before it, so a summary beginning "Country: ..." does not
// pass for the facet. The node is nil when no label is found.
func findLabel(scope []*html.Node, labels []string) (*html.Node, string) {
	var line labelLine
	for _, root := range scope {
		if n := findLabelIn(root, labels, &line); n != nil {
			return n, ""
		}
	}
	return line.node, line.rest
}

func findLabelIn(n *html.Node, labels []string, line *labelLine) *html.Node {
	if n.Type == html.TextNode {
		if !mayStartWith(n.Data, labels) {
			return nil
		}
		t := record.Text(n.Data)
		if line.matchText(n, t, labelKey(t), labels) {
			return n
		}
		return nil
	}
	if n.Type != html.ElementNode && n.Type != html.DocumentNode || invisible(n) {
		return nil
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := findLabelIn(c, labels, line); f != nil {
			return f
		}
	}
	return nil
}

// nodesText is the visible text of a run of sibling nodes.
func nodesText(ns []*html.Node) string {
	var b strings.Builder
	for _, n := range ns {
		writeText(&b, n)
	}
	return record.Text(b.String())
}

// nextLinks finds the links to further listing pages, in page order: the
// pagination.next selector's matches, <a>s whose text is one of
// pagination.next_text, and rel=next links. Links that work only through
// scripts are dropped; scriptPager reports that such a link was the only
// pager found.
func (r *Rules) nextLinksRef(doc *html.Node, base *url.URL, self string) (links []string, scriptPager bool) {
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

// docTotal reads the page's own count of results: only short lines
// (block-separated) that hold a digit are read, so a number in a long
// summary never passes for the count. Lines are cut as writeText cuts
// them, without building the page's whole text.
func docTotalRef(doc *html.Node) int {
	var line strings.Builder
	total := 0
	long := false
	flush := func() {
		if total == 0 && !long && line.Len() > 0 {
			if l := line.String(); strings.ContainsAny(l, "0123456789") {
				total = pageTotalRef(record.Text(l))
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
func pageTotalRef(text string) int {
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

// refPages is every page the repository holds, with every seed that
// reads pages: the cross product exercises label and pager shapes that
// no single seed meets on its own page.
func refPages(t testing.TB) (pages map[string][]byte, rules []*Rules) {
	t.Helper()
	pages = map[string][]byte{"bench": benchPage(t)}
	for _, g := range []string{"testdata/*.html", "../testdata/*.html", "../testdata/juriscraper/*.html"} {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			pages[p] = b
		}
	}
	var files []string
	for _, g := range []string{"testdata/*.seed.yaml", "../seeds/examples/*.yaml"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	for _, f := range files {
		s, err := seeds.LoadFile(f)
		if err != nil {
			t.Fatalf("seed %s: %v", f, err)
		}
		r, err := Compile(s)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	if len(pages) < 10 || len(rules) < 10 {
		t.Fatalf("only %d pages and %d seeds found", len(pages), len(rules))
	}
	return pages, rules
}

// The label index finds, for every element of every page, the label the
// walk of findLabel finds, and the scratch buffer reads each value's
// text as piece.text does.
func TestLabelIndexMatchesWalk(t *testing.T) {
	pages, rules := refPages(t)
	for name, b := range pages {
		doc, err := html.Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var elems []*html.Node
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				elems = append(elems, n)
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		for _, r := range rules {
			sc := new(scratch)
			for _, fr := range slices.Concat(r.fields, r.page, r.detail) {
				if len(fr.labels) == 0 {
					continue
				}
				for _, e := range elems {
					scope := []*html.Node{e}
					wn, wrest := findLabel(scope, fr.labels)
					in, irest, ikey := sc.findLabel(scope, fr.labels, fr.labelIn)
					if wn != in || wrest != irest || in != nil && irest == "" && ikey != labelKey(in.Data) {
						t.Fatalf("%s, seed %s, field %s, in <%s>: index found %v %q %q, walk %v %q", name, r.seed.ID, fr.name, e.Data, in, irest, ikey, wn, wrest)
					}
					for _, pc := range fr.labelValues(sc, scope) {
						if got, want := sc.pieceText(pc), pc.text(); got != want || pc.empty() != (want == "") {
							t.Fatalf("%s, seed %s, field %s: piece text %q, want %q (empty %v)", name, r.seed.ID, fr.name, got, want, pc.empty())
						}
					}
				}
			}
		}
	}
}

// One walk gives the items, the <base>, the next links and the page
// total that the separate walks give, on every page with every seed.
func TestPageFactsMatchesWalks(t *testing.T) {
	pages, rules := refPages(t)
	base, _ := url.Parse("https://example.org/list/?page=1")
	for name, b := range pages {
		doc, err := html.Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		totals := 0
		for _, r := range rules {
			scan := r.scanPage(doc, r.items != nil)
			links, scripted := scan.nextLinks(base, "https://example.org/list/?page=1")
			total := scan.total
			if r.items != nil && !slices.Equal(scan.items, cascadia.QueryAll(doc, r.items)) || scan.base != cascadia.Query(doc, baseSel) {
				t.Fatalf("%s, seed %s: items or <base> differ from cascadia's", name, r.seed.ID)
			}
			wlinks, wscripted := r.nextLinksRef(doc, base, "https://example.org/list/?page=1")
			if wtotal := docTotalRef(doc); total != wtotal || scripted != wscripted || !slices.Equal(links, wlinks) {
				t.Fatalf("%s, seed %s: pageFacts %v %v %d, walks %v %v %d", name, r.seed.ID, links, scripted, total, wlinks, wscripted, wtotal)
			}
			if total > 0 {
				totals++
			}
		}
		t.Logf("%s: total found with %d seeds", name, totals)
	}
}

// FuzzTextNorm: what the scratch buffer builds from parts and separators
// is record.Text of their concatenation.
func FuzzTextNorm(f *testing.F) {
	f.Add("  Año\u00a0de\n", "cafe\u0301 ", "\u200b–x\x07y ")
	f.Add("Judge of", "", "the Court")
	f.Add("×÷ À\u00a0ÿ\u0085é", "\xc3", "\xc3(\xa9 Ü")
	f.Add("\xff\xfe", "a\x00b", "\u2028 \ufeffz")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var tn textNorm
		for _, parts := range [][]string{{a}, {a, b, c}} {
			tn.reset()
			want := ""
			for i, p := range parts {
				if i > 0 {
					tn.sep()
					want += " "
				}
				tn.write(p)
				want += strings.ToValidUTF8(p, "\uFFFD")
			}
			want = record.Text(want)
			if got := tn.String(); got != want {
				t.Fatalf("textNorm of %q = %q, record.Text = %q", parts, got, want)
			}
			if got := string(tn.key()); got != labelKey(want) {
				t.Fatalf("key of %q = %q, labelKey = %q", parts, got, labelKey(want))
			}
		}
	})
}

// FuzzPageTotal: the quick look before the regular expressions never
// skips a count they would find.
func FuzzPageTotal(f *testing.F) {
	for _, s := range []string{"Showing 1 - 20 of 345", "1.234 résultats", "345 RESULTS per page", "Mostrando 21 a 40 de 1\u00a0234 resultados", "12 hits", "Page 2 of 9", "2019"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		s = record.Text(s)
		if got, want := pageTotal(s), pageTotalRef(s); got != want {
			t.Fatalf("pageTotal(%q) = %d, regular expressions alone %d", s, got, want)
		}
	})
}
