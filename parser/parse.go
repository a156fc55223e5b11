package parser

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
)

// Parse applies the seed's rules to one UTF-8 listing page fetched from
// pageURL (the final URL, after redirects). It is a pure function: no
// network, no clock, no globals. It returns an error only when the rules
// themselves cannot run (a bad selector or regex in a seed that skipped
// validation); a page without items is a Result with Facts.Items == 0.
//
// Parse compiles the rules on every call; a caller parsing many pages of
// one source should Compile once and call Rules.Parse.
func Parse(s *seeds.Seed, pageURL string, page []byte) (*Result, error) {
	r, err := Compile(s)
	if err != nil {
		return nil, err
	}
	return r.Parse(pageURL, page)
}

// ParseDetail applies the seed's detail.fields to a whole detail page (the
// document is the item) and returns field name -> value, list values
// joined with record.ListSep; fields without a value are absent. A
// required detail field that is missing gives a warning. A seed without
// detail rules gives an empty map.
func ParseDetail(s *seeds.Seed, pageURL string, page []byte) (map[string]string, []Warning, error) {
	r, err := Compile(s)
	if err != nil {
		return nil, nil, err
	}
	return r.ParseDetail(pageURL, page)
}

// page is the state of one Parse call: the parsed document and what is
// derived from it once.
type page struct {
	rules    *Rules
	doc      *html.Node
	url      string   // the page URL, valid UTF-8
	base     *url.URL // page URL, or <base href> resolved against it
	warnings []Warning

	order    map[*html.Node]int          // document order, built on demand
	headings map[*fieldRule][]*html.Node // matches of each heading rule
	tables   map[*html.Node]*tableHead   // headers of tables read by columns
	sc       scratch
	canon    map[string]string // record.CanonicalURL(base, ref) by ref
}

// canonical is record.CanonicalURL(p.base, ref), computed once per ref
// and page (an item's url field and its detail link share one href).
func (p *page) canonical(ref string) string {
	if u, ok := p.canon[ref]; ok {
		return u
	}
	u := record.CanonicalURL(p.base, ref)
	if p.canon == nil {
		p.canon = map[string]string{}
	}
	p.canon[ref] = u
	return u
}

// newPage parses the page. With findBase it also reads <base href>;
// without, the caller passes the <base> element to setBase (Parse finds
// it in its one walk of the page).
func newPage(r *Rules, pageURL string, body []byte, findBase bool) (*page, error) {
	if !utf8.Valid(body) {
		body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
	}
	pageURL = strings.ToValidUTF8(pageURL, "\uFFFD")
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("seed %s: parse HTML of %s: %w", r.seed.ID, pageURL, err)
	}
	p := &page{rules: r, doc: doc, url: pageURL}
	if u, err := url.Parse(strings.TrimSpace(pageURL)); err == nil && u.IsAbs() {
		p.base = u
	}
	if findBase {
		p.setBase(cascadia.Query(doc, baseSel))
	}
	return p, nil
}

// setBase resolves the href of the page's first <base href> element (nil
// when there is none) against the page URL.
func (p *page) setBase(base *html.Node) {
	if href, ok := attr(base, "href"); ok {
		if b := record.CanonicalURL(p.base, href); b != "" {
			if u, err := url.Parse(b); err == nil {
				p.base = u
			}
		}
	}
}

var baseSel = cascadia.MustCompile("base[href]")

// Parse applies the compiled rules to one UTF-8 listing page; see the
// package-level Parse.
func (r *Rules) Parse(pageURL string, body []byte) (*Result, error) {
	// With an items selector, one walk of the page finds the items, the
	// <base>, the next links and the page's count. In flat mode items are
	// wrapped first (that changes the tree), and the walk comes after.
	oneWalk := r.items != nil
	p, err := newPage(r, pageURL, body, !oneWalk)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	var scan *pageScan
	var items []*html.Node
	if oneWalk {
		scan = r.scanPage(p.doc, true)
		p.setBase(scan.base)
		items = scan.items
	} else {
		items = r.findItems(p.doc)
	}
	if r.columns {
		kept := items[:0]
		for _, it := range items {
			if !p.isHeaderRow(it) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	res.Facts.Items = len(items)

	pageVals := p.readFields(r.page, p.doc, 0)
	res.Records = make([]record.Record, 0, len(items))
	vals := make(map[string][]string, len(r.fields)+len(r.page))
	for i, it := range items {
		pos := i + 1
		p.sc.forget()
		p.readFieldsInto(vals, r.fields, it, pos)
		for _, fr := range r.page {
			if len(vals[fr.name]) == 0 && len(pageVals[fr.name]) > 0 {
				vals[fr.name] = pageVals[fr.name]
			}
		}
		if missing := r.missingRequired(vals); missing != "" {
			res.Dropped++
			p.warn(pos, missing, "item dropped: required field has no value")
			continue
		}
		res.Records = append(res.Records, r.record(p, vals))
		if r.detailLink != nil {
			res.DetailURLs = append(res.DetailURLs, p.detailURL(it))
		}
	}

	if len(res.Records) == 0 {
		res.Records = nil // as without records: no items, or all dropped
	}
	self := record.CanonicalURL(nil, p.url)
	if scan == nil {
		scan = r.scanPage(p.doc, false)
	}
	res.Next, res.Facts.ScriptPager = scan.nextLinks(p.base, self)
	res.Facts.Total = scan.total
	if res.Facts.ScriptPager {
		p.warn(0, "", "the pager works only through scripts or form posts; this run covers one page")
	}
	if len(items) == 0 {
		res.Facts.ScriptList = scriptBuilt(p.doc)
		if res.Facts.ScriptList {
			p.warn(0, "", "no items, and the page appears to build its list with scripts")
		}
	}
	res.Warnings = p.warnings
	return res, nil
}

// ParseDetail applies the compiled detail rules to a detail page; see the
// package-level ParseDetail.
func (r *Rules) ParseDetail(pageURL string, body []byte) (map[string]string, []Warning, error) {
	p, err := newPage(r, pageURL, body, true)
	if err != nil {
		return nil, nil, err
	}
	vals := p.readFields(r.detail, p.doc, 0)
	out := make(map[string]string, len(vals))
	for _, fr := range r.detail {
		if v := strings.Join(vals[fr.name], record.ListSep); v != "" {
			out[fr.name] = v
		} else if fr.rule.Required {
			p.warn(0, fr.name, "required detail field has no value")
		}
	}
	return out, p.warnings, nil
}

// detailURL is the absolute URL of the item's detail.link match (its
// href, or that of its first link), "" when there is none.
func (p *page) detailURL(item *html.Node) string {
	n := cascadia.Query(item, p.rules.detailLink)
	if n == nil {
		return ""
	}
	href, _ := linkOf(n)
	if href == "" {
		return ""
	}
	return p.canonical(href)
}

func (p *page) warn(item int, field, msg string) {
	p.warnings = append(p.warnings, Warning{Page: p.url, Item: item, Field: field, Msg: msg})
}

// missingRequired names the first required field without a value.
func (r *Rules) missingRequired(vals map[string][]string) string {
	for _, fr := range r.fields {
		if fr.rule.Required && len(vals[fr.name]) == 0 {
			return fr.name
		}
	}
	return ""
}

// findItems returns one element per item: the items selector's matches,
// or in flat mode a wrapper built around each run of nodes.
func (r *Rules) findItems(doc *html.Node) []*html.Node {
	switch {
	case r.items != nil:
		return cascadia.QueryAll(doc, r.items)
	case r.itemStart != nil:
		return r.flatItems(doc)
	}
	return nil
}

// flatItems builds the items of a page with no wrapper per item: an item
// starts at each items.start match and runs over its following siblings
// up to the next one that is (or holds) a start match or a group heading
// of some field rule. The run is moved into a new <div> in place, so the
// document order is unchanged and each item is one subtree. The document
// belongs to this Parse call; no caller sees the change.
func (r *Rules) flatItems(doc *html.Node) []*html.Node {
	var stops []cascadia.Selector
	stops = append(stops, r.itemStart)
	for _, fr := range r.fields {
		if fr.heading != nil {
			stops = append(stops, fr.heading)
		}
	}
	isStop := func(n *html.Node) bool {
		if n.Type != html.ElementNode {
			return false
		}
		for _, s := range stops {
			if s.Match(n) || cascadia.Query(n, s) != nil {
				return true
			}
		}
		return false
	}
	wrappers := map[*html.Node]bool{}
	inWrapper := func(n *html.Node) bool {
		for a := n.Parent; a != nil; a = a.Parent {
			if wrappers[a] {
				return true
			}
		}
		return false
	}
	var items []*html.Node
	for _, st := range cascadia.QueryAll(doc, r.itemStart) {
		if st.Parent == nil || inWrapper(st) {
			continue
		}
		run := []*html.Node{st}
		for s := st.NextSibling; s != nil && !isStop(s); s = s.NextSibling {
			run = append(run, s)
		}
		w := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
		st.Parent.InsertBefore(w, st)
		for _, n := range run {
			n.Parent.RemoveChild(n)
			w.AppendChild(n)
		}
		wrappers[w] = true
		items = append(items, w)
	}
	return items
}

// readFields reads every rule of frs from the item (or page) element:
// first the rules that read the page, then value templates over them, in
// seed order. pos is the 1-based item position for warnings (0: page).
func (p *page) readFields(frs []*fieldRule, item *html.Node, pos int) map[string][]string {
	return p.readFieldsInto(make(map[string][]string, len(frs)), frs, item, pos)
}

// readFieldsInto is readFields into vals, emptied first (Parse reuses one
// map for every item).
func (p *page) readFieldsInto(vals map[string][]string, frs []*fieldRule, item *html.Node, pos int) map[string][]string {
	clear(vals)
	for _, fr := range frs {
		if fr.tmpl != nil && !fr.isConst {
			continue
		}
		vals[fr.name] = p.fieldValues(fr, item, pos)
	}
	for _, fr := range frs {
		if fr.tmpl == nil || fr.isConst {
			continue
		}
		var b strings.Builder
		ok := true
		for _, part := range fr.tmpl {
			if part.ref == "" {
				b.WriteString(part.lit)
				continue
			}
			v := strings.Join(vals[part.ref], record.ListSep)
			if v == "" {
				ok = false
				break
			}
			b.WriteString(v)
		}
		var vs []string
		if ok {
			vs = p.finish(fr, []raw{{text: b.String()}}, pos)
		}
		vals[fr.name] = p.withDefault(fr, vs)
	}
	return vals
}

// raw is one value as found on the page, before regex and type: the text
// (or attribute) and the nodes it came from.
type raw struct {
	text  string
	nodes []*html.Node
	lines []string // for split: br, the text's lines (nil: split text on \n)
	norm  bool     // text is already as record.Text leaves it
}

// fieldValues reads one rule from an item: the values, already through
// split, regex and type, with the default applied.
func (p *page) fieldValues(fr *fieldRule, item *html.Node, pos int) []string {
	var raws []raw
	switch {
	case fr.isConst:
		raws = []raw{{text: fr.rule.Value}}
	case fr.heading != nil:
		if h := p.headingFor(fr, item); h != nil {
			raws = []raw{fr.readNode(&p.sc, h)}
		}
	default:
		if fr.col != "" {
			if item = p.columnCell(item, fr.col); item == nil {
				break
			}
		}
		targets := []*html.Node{item}
		if fr.sel != nil {
			targets = p.sc.query(item, fr)
		}
		if len(fr.labels) > 0 {
			if len(targets) > 0 {
				raws = p.labelRaws(fr, targets)
			}
		} else {
			for _, t := range targets {
				raws = append(raws, fr.readNode(&p.sc, t))
			}
		}
	}
	return p.withDefault(fr, p.finish(fr, raws, pos))
}

// labelRaws reads a label rule from its scope. A rule reading the item
// itself shares the values with every rule of equal labels (year and a
// date from the same "Year" label): they are found once per item.
func (p *page) labelRaws(fr *fieldRule, scope []*html.Node) []raw {
	cache := fr.sel == nil && len(scope) == 1
	k := labelScope{root: scope[0], lex: fr.labelIn, group: fr.lgroup}
	if cache {
		if rs, ok := p.sc.lvalues[k]; ok {
			return rs
		}
	}
	var raws []raw
	for _, pc := range fr.labelValues(&p.sc, scope) {
		rv := raw{text: p.sc.pieceText(pc), nodes: pc.nodes, norm: true}
		if fr.lines {
			rv.lines = textLines(pc.lead, pc.nodes)
		}
		raws = append(raws, rv)
	}
	if cache {
		if p.sc.lvalues == nil {
			p.sc.lvalues = map[labelScope][]raw{}
		}
		p.sc.lvalues[k] = raws
	}
	return raws
}

func (p *page) withDefault(fr *fieldRule, vs []string) []string {
	if len(vs) == 0 && fr.rule.Default != "" {
		if d := record.Text(fr.rule.Default); d != "" {
			return []string{d}
		}
	}
	return vs
}

// readNode reads an element's attribute (trimmed; on the element or, when
// it has none, its first descendant that has it) or its visible text.
func (fr *fieldRule) readNode(sc *scratch, n *html.Node) raw {
	if a := fr.rule.Attr; a != "" {
		if v, ok := attr(n, a); ok {
			return raw{text: v, nodes: []*html.Node{n}}
		}
		var found *html.Node
		var walk func(*html.Node)
		walk = func(c *html.Node) {
			for ; c != nil && found == nil; c = c.NextSibling {
				if _, ok := attr(c, a); ok {
					found = c
					return
				}
				walk(c.FirstChild)
			}
		}
		walk(n.FirstChild)
		if found == nil {
			return raw{}
		}
		v, _ := attr(found, a)
		return raw{text: v, nodes: []*html.Node{found}}
	}
	if fr.lines {
		return raw{text: sc.text(n), nodes: []*html.Node{n}, lines: textLines("", []*html.Node{n}), norm: true}
	}
	return raw{text: sc.text(n), nodes: []*html.Node{n}, norm: true}
}

// textLines is the visible text of lead and nodes cut at line breaks
// (<br> and block boundaries), not yet normalised.
func textLines(lead string, nodes []*html.Node) []string {
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(lead, "\n", " "))
	for _, n := range nodes {
		writeLines(&b, n)
	}
	return strings.Split(b.String(), "\n")
}

// finish turns raw values into field values: split, regex, type, empties
// dropped; a single-valued rule keeps the first.
func (p *page) finish(fr *fieldRule, raws []raw, pos int) []string {
	var out []string
	for _, rv := range raws {
		texts := []string{rv.text}
		norm := rv.norm // texts hold rv.text alone
		switch {
		case fr.lines && rv.lines != nil:
			texts, norm = rv.lines, false
		case fr.lines:
			texts, norm = strings.Split(rv.text, "\n"), false
		case fr.rule.Split != "":
			texts, norm = strings.Split(rv.text, fr.rule.Split), false
		}
		for _, t := range texts {
			if v := p.convert(fr, t, norm, rv.nodes, pos); v != "" {
				out = append(out, v)
			}
		}
		if !fr.isList && len(out) > 0 {
			return out[:1]
		}
	}
	return record.List(out)
}

// convert applies the rule's regex and type to one text.
// norm says that text is already as record.Text leaves it.
func (p *page) convert(fr *fieldRule, text string, norm bool, nodes []*html.Node, pos int) string {
	if !norm && (fr.rule.Attr == "" || fr.typ != "url") {
		text = record.Text(text)
	}
	for _, rp := range fr.replace {
		text = rp.re.ReplaceAllString(text, rp.with)
	}
	if len(fr.replace) > 0 && !(fr.rule.Attr != "" && fr.typ == "url") {
		text = record.Text(text)
	}
	if text == "" {
		return ""
	}
	if fr.re != nil {
		m := fr.re.FindStringSubmatch(text)
		if m == nil {
			return ""
		}
		text = strings.TrimSpace(m[fr.group])
		if text == "" {
			return ""
		}
	}
	switch fr.typ {
	case "url":
		u := p.canonical(text)
		if u == "" && !ignorableLink(text) {
			p.warn(pos, fr.name, fmt.Sprintf("%q is not a usable http(s) URL", text))
		}
		return u
	case "year":
		if y, ok := FirstYear(text); ok {
			return strconv.Itoa(y)
		}
		return ""
	case "int":
		if n, ok := FirstInt(text); ok {
			return strconv.Itoa(n)
		}
		return ""
	case "date":
		if fr.re == nil && fr.rule.Attr == "" {
			if dt := timeAttr(nodes); dt != "" {
				if d, ok := ParseDate(dt, p.rules.dmy); ok {
					return d
				}
			}
		}
		d, _ := ParseDate(text, p.rules.dmy)
		return d
	}
	return text
}

// ignorableLink reports links that are deliberately not pages (mail,
// phone, script, in-page anchors): no warning for those.
func ignorableLink(s string) bool {
	l := strings.ToLower(strings.TrimSpace(s))
	for _, pre := range []string{"mailto:", "tel:", "javascript:", "#", "data:"} {
		if strings.HasPrefix(l, pre) {
			return true
		}
	}
	return false
}

// timeAttr returns the datetime attribute of the first <time> among nodes
// or their descendants.
func timeAttr(nodes []*html.Node) string {
	for _, n := range nodes {
		if n.Type != html.ElementNode {
			continue
		}
		if n.DataAtom == atom.Time {
			if v, ok := attr(n, "datetime"); ok && v != "" {
				return v
			}
		}
		for _, t := range cascadia.QueryAll(n, timeSel) {
			if v, ok := attr(t, "datetime"); ok && v != "" {
				return v
			}
		}
	}
	return ""
}

var timeSel = cascadia.MustCompile("time[datetime]")

// headingFor returns the nearest element before item, in document order,
// that matches fr's heading selector and is neither inside item nor one
// of its ancestors.
func (p *page) headingFor(fr *fieldRule, item *html.Node) *html.Node {
	if p.order == nil {
		p.order = map[*html.Node]int{}
		i := 0
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			p.order[n] = i
			i++
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(p.doc)
		p.headings = map[*fieldRule][]*html.Node{}
	}
	hs, ok := p.headings[fr]
	if !ok {
		hs = cascadia.QueryAll(p.doc, fr.heading)
		p.headings[fr] = hs
	}
	at := p.order[item]
	i := sort.Search(len(hs), func(i int) bool { return p.order[hs[i]] >= at })
	for i--; i >= 0; i-- {
		if !isAncestor(hs[i], item) {
			return hs[i]
		}
	}
	return nil
}

func isAncestor(a, n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p == a {
			return true
		}
	}
	return false
}

// record builds the record of one item from its field values.
func (r *Rules) record(p *page, vals map[string][]string) record.Record {
	rec := record.Record{Source: r.seed.ID}
	set := func(fr *fieldRule) {
		vs := vals[fr.name]
		if len(vs) == 0 {
			return
		}
		switch fr.name {
		case "url":
			rec.URL = record.CanonicalURL(p.base, vs[0])
		case "title":
			rec.Title = strings.Join(vs, " ")
		case "summary":
			rec.Summary = strings.Join(vs, " ")
		case "language":
			rec.Language = strings.Join(vs, " ")
		case "countries":
			rec.Countries = vs
		case "regions":
			rec.Regions = vs
		case "authors":
			rec.Authors = vs
		case "categories":
			rec.Categories = vs
		case "year":
			if y, ok := FirstYear(vs[0]); ok {
				rec.Year = y
			}
		default:
			if rec.Extra == nil {
				rec.Extra = map[string]string{}
			}
			rec.Extra[fr.name] = strings.Join(vs, record.ListSep)
		}
	}
	for _, fr := range r.fields {
		set(fr)
	}
	for _, fr := range r.page {
		if !slices.ContainsFunc(r.fields, func(f *fieldRule) bool { return f.name == fr.name }) {
			set(fr)
		}
	}
	rec.Normalize()
	switch r.seed.Key {
	case "", "url":
		rec.Key = rec.URL
	default:
		rec.Key = rec.Get(r.seed.Key)
		if rec.Key == "" {
			rec.Key = strings.Join(vals[r.seed.Key], record.ListSep)
		}
	}
	rec.Key = record.Text(rec.Key)
	if rec.Key == "" {
		rec.Key = record.FallbackKey(rec.Title, rec.Year)
	}
	return rec
}
