package site

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// categories are the listing categories the site knows: ?category=KEY.
var categories = map[string]string{"trafficking": "Trafficking"}

var funcs = template.FuncMap{
	"add": func(a, b int) int { return a + b },
}

// Handler serves the site:
//
//	/                                    front page
//	/resources?category=trafficking&page=N  listing, 10 a page, N from 0
//	/en/publications/SLUG               detail page
//	/sites/default/files/SLUG.pdf       the publication's PDF
//	/robots.txt, /themes/...            robots rules, stylesheet
//
// Listing pages past the last one are empty (200, no items, no pager).
// Unknown paths, unknown categories and publications not on the current
// night's site get a 404 page.
func (s *Site) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.front)
	mux.HandleFunc("GET /resources", s.listing)
	mux.HandleFunc("GET /en/publications/{slug}", s.detail)
	mux.HandleFunc("GET /sites/default/files/{file}", s.pdf)
	mux.HandleFunc("GET /robots.txt", s.static("static/robots.txt", "text/plain; charset=utf-8"))
	mux.HandleFunc("GET /themes/custom/library/css/library.css", s.static("static/library.css", "text/css; charset=utf-8"))
	mux.HandleFunc("/", s.notFound)
	return mux
}

// page is what the layout template renders.
type page struct {
	Title      string // <title>, before " | Migration Resource Library"
	Lang       string
	BodyClass  string
	Path       string // current path, for the active menu item
	Settings   map[string]any
	Breadcrumb []crumb
	Content    any
}

type crumb struct {
	Text string
	Href string // "" for the current page
}

type fieldView struct {
	Name  string // machine name after field_, like "country"
	Type  string // Drupal field type, for the class
	Label string
	Items []string
	Multi bool // several values possible: items wrapped in field__items
}

type rowView struct {
	Pub    Publication
	Fields []fieldView
}

type pagerLink struct {
	Text    string
	Href    string
	Current bool
}

type pagerView struct {
	First, Prev, Next, Last string // hrefs; "" when not shown
	Pages                   []pagerLink
	EllipsisBefore          bool
	EllipsisAfter           bool
}

type facetItem struct {
	ID     string
	Value  string
	Count  int
	Href   string
	Active bool
}

type facetView struct {
	ID    string
	Title string
	Items []facetItem
}

type listingView struct {
	Heading string
	Header  string // "Showing 1 - 10 of 50"
	Rows    []rowView
	Pager   *pagerView
	Facets  []facetView
	Active  []facetItem // active filters, with links removing them
	DOMID   string
}

type detailView struct {
	Pub    Publication
	Fields []fieldView
	PDF    string
	Size   string
}

// filter is one active facet filter: ?f[0]=country:Mexico.
type filter struct{ facet, value string }

var facetNames = []struct{ id, title string }{{"country", "Country"}, {"region", "Region"}, {"year", "Year"}}

func facetValues(p Publication, facet string) []string {
	switch facet {
	case "country":
		return p.Countries
	case "region":
		return p.Regions
	case "year":
		return []string{strconv.Itoa(p.Year)}
	}
	return nil
}

func (s *Site) listing(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cat := q.Get("category")
	heading := "Resources"
	if cat != "" {
		var ok bool
		if heading, ok = categories[cat]; !ok {
			s.notFound(w, r)
			return
		}
	}
	var filters []filter
	for k, vs := range q {
		if !strings.HasPrefix(k, "f[") {
			continue
		}
		for _, v := range vs {
			if facet, value, ok := strings.Cut(v, ":"); ok {
				filters = append(filters, filter{facet, value})
			}
		}
	}
	slices.SortFunc(filters, func(a, b filter) int { return strings.Compare(a.facet+":"+a.value, b.facet+":"+b.value) })
	filters = slices.Compact(filters)
	pageNo, err := strconv.Atoi(q.Get("page"))
	if err != nil || pageNo < 0 {
		pageNo = 0 // as Drupal: anything that is not a page number is the first page
	}

	night := s.Night()
	var items []Publication
	for _, p := range s.data(night) {
		if matches(p, filters) {
			items = append(items, p)
		}
	}
	size := s.opts.PageSize
	pages := (len(items) + size - 1) / size
	lv := listingView{Heading: heading, Facets: s.facets(cat, filters, items), DOMID: domID(r.URL.Path, cat, night)}
	for _, f := range filters {
		lv.Active = append(lv.Active, facetItem{Value: f.value, Href: listingHref(cat, toggle(filters, f), -1), Active: true})
	}
	if pageNo < pages {
		lo, hi := pageNo*size, min((pageNo+1)*size, len(items))
		lv.Header = fmt.Sprintf("Showing %d - %d of %d", lo+1, hi, len(items))
		for _, p := range items[lo:hi] {
			lv.Rows = append(lv.Rows, rowView{Pub: p, Fields: teaserFields(p)})
		}
		if pages > 1 {
			lv.Pager = pager(cat, filters, pageNo, pages)
		}
	}
	query := map[string]any{}
	for k := range q {
		query[k] = q.Get(k)
	}
	pg := page{
		Title:     heading,
		Lang:      "en",
		BodyClass: "path-resources",
		Path:      "/resources",
		Settings: settings("resources", query, map[string]any{
			"views_dom_id:" + lv.DOMID: map[string]any{
				"view_name": "resources", "view_display_id": "page_1", "view_args": "",
				"view_path": "/resources", "view_base_path": "resources",
				"view_dom_id": lv.DOMID, "pager_element": 0,
			},
		}),
		Breadcrumb: []crumb{{"Home", "/"}, {"Resources", "/resources"}, {heading, ""}},
		Content:    lv,
	}
	if cat == "" {
		pg.Breadcrumb = pg.Breadcrumb[:2]
		pg.Breadcrumb[1].Href = ""
	}
	s.render(w, r, "listing", pg, s.modified(night >= 2))
}

func matches(p Publication, fs []filter) bool {
	for _, f := range fs {
		if !slices.Contains(facetValues(p, f.facet), f.value) {
			return false
		}
	}
	return true
}

// toggle returns fs with f removed if present, added if not.
func toggle(fs []filter, f filter) []filter {
	if i := slices.Index(fs, f); i >= 0 {
		return slices.Delete(slices.Clone(fs), i, i+1)
	}
	return append(slices.Clone(fs), f)
}

// listingHref builds a listing link the way Drupal does: the current query
// (category, then facet filters), then the page when page >= 0.
func listingHref(cat string, fs []filter, page int) string {
	var parts []string
	if cat != "" {
		parts = append(parts, "category="+queryEscape(cat))
	}
	for i, f := range fs {
		parts = append(parts, queryEscape(fmt.Sprintf("f[%d]", i))+"="+queryEscape(f.facet+":"+f.value))
	}
	if page >= 0 {
		parts = append(parts, "page="+strconv.Itoa(page))
	}
	if len(parts) == 0 {
		return "/resources"
	}
	return "?" + strings.Join(parts, "&")
}

// queryEscape escapes a query key or value as Drupal's links do (%20 for
// a space rather than +).
func queryEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// pager is Drupal's full pager: first and previous links (not on the first
// page), up to nine page numbers around the current one, next and last
// links (not on the last page).
func pager(cat string, fs []filter, cur, pages int) *pagerView {
	pv := &pagerView{}
	if cur > 0 {
		pv.First = listingHref(cat, fs, 0)
		pv.Prev = listingHref(cat, fs, cur-1)
	}
	if cur < pages-1 {
		pv.Next = listingHref(cat, fs, cur+1)
		pv.Last = listingHref(cat, fs, pages-1)
	}
	const quantity = 9
	lo := max(0, cur-quantity/2)
	hi := min(pages-1, lo+quantity-1)
	lo = max(0, hi-quantity+1)
	for i := lo; i <= hi; i++ {
		pv.Pages = append(pv.Pages, pagerLink{Text: strconv.Itoa(i + 1), Href: listingHref(cat, fs, i), Current: i == cur})
	}
	pv.EllipsisBefore = lo > 0
	pv.EllipsisAfter = hi < pages-1
	return pv
}

// facets counts the values of each facet over the filtered items.
func (s *Site) facets(cat string, active []filter, items []Publication) []facetView {
	var out []facetView
	for _, fn := range facetNames {
		counts := map[string]int{}
		for _, p := range items {
			for _, v := range facetValues(p, fn.id) {
				counts[v]++
			}
		}
		fv := facetView{ID: fn.id, Title: fn.title}
		for v, n := range counts {
			f := filter{fn.id, v}
			fv.Items = append(fv.Items, facetItem{
				ID: fn.id + "-" + idPart(v), Value: v, Count: n,
				Href: listingHref(cat, toggle(active, f), -1), Active: slices.Contains(active, f),
			})
		}
		slices.SortFunc(fv.Items, func(a, b facetItem) int {
			if fn.id == "year" {
				return strings.Compare(b.Value, a.Value)
			}
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return strings.Compare(a.Value, b.Value)
		})
		out = append(out, fv)
	}
	return out
}

var nonID = regexp.MustCompile(`[^a-z0-9]+`)

func idPart(v string) string {
	return strings.Trim(nonID.ReplaceAllString(strings.ToLower(v), "-"), "-")
}

// teaserFields are the labelled facets of a listing row. Category is always
// present (with no items when empty), Authors only when there are some.
func teaserFields(p Publication) []fieldView {
	fs := []fieldView{
		{Name: "country", Type: "entity-reference", Label: "Country", Items: p.Countries, Multi: true},
		{Name: "region", Type: "entity-reference", Label: "Region", Items: p.Regions, Multi: true},
	}
	if len(p.Authors) > 0 {
		fs = append(fs, fieldView{Name: "authors", Type: "string", Label: "Authors", Items: p.Authors, Multi: true})
	}
	fs = append(fs,
		fieldView{Name: "year", Type: "integer", Label: "Year", Items: []string{strconv.Itoa(p.Year)}},
		fieldView{Name: "category", Type: "entity-reference", Label: "Category", Items: p.Categories, Multi: true},
	)
	return fs
}

var languageNames = map[string]string{"en": "English", "es": "Español"}

func (s *Site) detail(w http.ResponseWriter, r *http.Request) {
	p, ok := s.find(r.PathValue("slug"))
	if !ok {
		s.notFound(w, r)
		return
	}
	fs := teaserFields(p)
	fs = append(fs,
		fieldView{Name: "publisher", Type: "string", Label: "Publisher", Items: []string{p.Publisher}},
		fieldView{Name: "language", Type: "language", Label: "Language", Items: []string{languageNames[p.Language]}},
	)
	body := pdfFor(p)
	pg := page{
		Title:      p.Title,
		Lang:       "en",
		BodyClass:  "path-node page-node-type-publication",
		Path:       p.Path(),
		Settings:   settings(strings.TrimPrefix(p.Path(), "/"), map[string]any{}, nil),
		Breadcrumb: []crumb{{"Home", "/"}, {"Resources", "/resources"}, {"Trafficking", "/resources?category=trafficking"}, {p.Title, ""}},
		Content:    detailView{Pub: p, Fields: fs, PDF: p.PDFPath(), Size: humanSize(len(body))},
	}
	s.render(w, r, "detail", pg, s.modified(s.Night() >= 2 && s.touched[p.Slug]))
}

func (s *Site) pdf(w http.ResponseWriter, r *http.Request) {
	slug, ok := strings.CutSuffix(r.PathValue("file"), ".pdf")
	p, found := s.find(slug)
	if !ok || !found {
		s.notFound(w, r)
		return
	}
	s.serve(w, r, pdfFor(p), "application/pdf", s.modified(s.Night() >= 2 && s.touched[p.Slug]))
}

// find returns the publication with the slug on the current night.
func (s *Site) find(slug string) (Publication, bool) {
	for _, p := range s.data(s.Night()) {
		if p.Slug == slug {
			return p, true
		}
	}
	return Publication{}, false
}

func (s *Site) front(w http.ResponseWriter, r *http.Request) {
	night := s.Night()
	latest := s.data(night)[:3]
	s.render(w, r, "front", page{
		Title: "Welcome", Lang: "en", BodyClass: "path-frontpage", Path: "/",
		Settings: settings("node", map[string]any{}, nil),
		Content:  latest,
	}, s.modified(night >= 2))
}

func (s *Site) static(name, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := staticFS.ReadFile(name)
		if err != nil {
			http.Error(w, "static file missing: "+name, http.StatusInternalServerError)
			return
		}
		s.serve(w, r, body, ctype, s.opts.Modified)
	}
}

func (s *Site) notFound(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	err := s.pages["notfound"].ExecuteTemplate(&buf, "layout.html", page{
		Title: "Page not found", Lang: "en", BodyClass: "path-system", Path: r.URL.Path,
		Settings:   settings("system/404", map[string]any{}, nil),
		Breadcrumb: []crumb{{"Home", "/"}},
	})
	if err != nil {
		http.Error(w, "render 404 page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusNotFound)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
}

func (s *Site) render(w http.ResponseWriter, r *http.Request, name string, pg page, modified time.Time) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout.html", pg); err != nil {
		http.Error(w, fmt.Sprintf("render %s page: %v", name, err), http.StatusInternalServerError)
		return
	}
	s.serve(w, r, buf.Bytes(), "text/html; charset=utf-8", modified)
}

// serve writes body with a strong ETag (a hash of the bytes) and
// Last-Modified, answering If-None-Match / If-Modified-Since with 304 and
// HEAD without a body (http.ServeContent).
func (s *Site) serve(w http.ResponseWriter, r *http.Request, body []byte, ctype string, modified time.Time) {
	sum := sha256.Sum256(body)
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	h.Set("Cache-Control", "max-age=0, public")
	h.Set("X-Generator", "Drupal 10 (https://www.drupal.org)")
	h.Set("Content-Language", "en")
	http.ServeContent(w, r, "", modified, bytes.NewReader(body))
}

// settings is the page's drupalSettings JSON (rendered by html/template
// into <script type="application/json">).
func settings(currentPath string, query map[string]any, ajaxViews map[string]any) map[string]any {
	st := map[string]any{
		"path": map[string]any{
			"baseUrl": "/", "pathPrefix": "en/", "currentPath": currentPath,
			"currentPathIsAdmin": false, "isFront": currentPath == "node",
			"currentLanguage": "en", "currentQuery": query,
		},
		"pluralDelimiter":           "\u0003",
		"suppressDeprecationErrors": true,
		"ajaxPageState": map[string]any{
			"libraries": "core/drupal,core/once,facets/drupal.facets.checkbox-widget,library/global-styling,system/base,views/views.module",
			"theme":     "library", "theme_token": nil,
		},
		"ajaxTrustedUrl": map[string]any{},
		"user":           map[string]any{"uid": 0, "permissionsHash": "5c1e3b9d2f0a7e4c8b6d1a3f9e2c7b5d4a8f0e6c1b3d9a7f2e5c8b4d0a6f1e3c"},
	}
	if ajaxViews != nil {
		st["views"] = map[string]any{"ajax_path": "/views/ajax", "ajaxViews": ajaxViews}
	}
	return st
}

// domID is the views DOM id; Drupal makes a random one per request, the
// demo a stable one so that unchanged pages keep their ETag.
func domID(parts ...any) string {
	sum := sha256.Sum256(fmt.Appendln(nil, parts...))
	return hex.EncodeToString(sum[:32])
}

func humanSize(n int) string {
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.2f KB", float64(n)/1024)
}
