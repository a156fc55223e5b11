package site_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/temoto/robotstxt"

	"github.com/harvest-dev/harvest/demo/site"
	"github.com/harvest-dev/harvest/seeds"
)

// item is one listing row as a reader of the page sees it.
type item struct {
	Slug, Title, Summary, Year              string
	Countries, Regions, Authors, Categories []string
	HasCategoryLabel                        bool
}

func newSite(t *testing.T) (*site.Site, *httptest.Server) {
	t.Helper()
	s, err := site.New(site.Options{})
	if err != nil {
		t.Fatalf("site.New: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv
}

func get(t *testing.T, srv *httptest.Server, rawURL string, header ...string) (*http.Response, []byte) {
	t.Helper()
	if strings.HasPrefix(rawURL, "/") {
		rawURL = srv.URL + rawURL
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read %s: %v", rawURL, err)
	}
	return res, body
}

func doc(t *testing.T, body []byte) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func texts(s *goquery.Selection) []string {
	return s.Map(func(_ int, s *goquery.Selection) string { return strings.TrimSpace(s.Text()) })
}

func rows(t *testing.T, d *goquery.Document) []item {
	t.Helper()
	var out []item
	d.Find("div.view-content div.views-row").Each(func(_ int, r *goquery.Selection) {
		a := r.Find("h3 a")
		href, _ := a.Attr("href")
		slug, ok := strings.CutPrefix(href, "/en/publications/")
		if !ok {
			t.Errorf("row link %q is not a publication", href)
		}
		out = append(out, item{
			Slug:             slug,
			Title:            a.Text(),
			Summary:          strings.TrimSpace(r.Find(".views-field-body").Text()),
			Year:             strings.TrimSpace(r.Find(".field--name-field-year .field__item").Text()),
			Countries:        texts(r.Find(".field--name-field-country .field__item")),
			Regions:          texts(r.Find(".field--name-field-region .field__item")),
			Authors:          texts(r.Find(".field--name-field-authors .field__item")),
			Categories:       texts(r.Find(".field--name-field-category .field__item")),
			HasCategoryLabel: strings.TrimSpace(r.Find(".field--name-field-category .field__label").Text()) == "Category",
		})
	})
	return out
}

// walk follows the next links from the start URL and returns every row
// seen, in order, and the number of pages visited.
func walk(t *testing.T, srv *httptest.Server) ([]item, int) {
	t.Helper()
	next := srv.URL + site.ListingPath
	var all []item
	pages := 0
	for next != "" {
		pages++
		if pages > 20 {
			t.Fatal("pagination does not end")
		}
		res, body := get(t, srv, next)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", next, res.Status)
		}
		d := doc(t, body)
		all = append(all, rows(t, d)...)
		href, ok := d.Find("li.pager__item--next a").Attr("href")
		if !ok {
			break
		}
		base, _ := url.Parse(next)
		ref, err := url.Parse(href)
		if err != nil {
			t.Fatalf("next link %q: %v", href, err)
		}
		next = base.ResolveReference(ref).String()
	}
	return all, pages
}

func TestFirstPageLooksLikeTheSeedPage(t *testing.T) {
	_, srv := newSite(t)
	res, body := get(t, srv, site.ListingPath)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("status %s, content type %q", res.Status, res.Header.Get("Content-Type"))
	}
	d := doc(t, body)
	if h := d.Find("h1.page-title").Text(); h != "Trafficking" {
		t.Errorf("heading %q, want Trafficking", h)
	}
	if got := strings.TrimSpace(d.Find(".view-header").Text()); got != "Showing 1 - 10 of 50" {
		t.Errorf("view header %q", got)
	}
	if d.Find("a.skip-link").Text() != "Skip to main content" || d.Find(`script[data-drupal-selector="drupal-settings-json"]`).Length() != 1 {
		t.Error("no skip link or drupalSettings script")
	}
	if n := d.Find("div.views-row").Length(); n != 10 {
		t.Fatalf("%d div.views-row on page 0, want 10", n)
	}
	if href, _ := d.Find("li.pager__item--next a").Attr("href"); href != "?category=trafficking&page=1" {
		t.Errorf("next link %q", href)
	}
	if rel, _ := d.Find("li.pager__item--next a").Attr("rel"); rel != "next" {
		t.Errorf("next link rel %q", rel)
	}
	if d.Find("li.pager__item--first, li.pager__item--previous").Length() != 0 {
		t.Error("the first page has first/previous links")
	}
	if href, _ := d.Find("li.pager__item--last a").Attr("href"); href != "?category=trafficking&page=4" {
		t.Errorf("last link %q", href)
	}

	// The ten rows are the seed page's ten publications, verbatim.
	want := seedPage(t)
	got := rows(t, d)
	for i, w := range want {
		g := got[i]
		if g.Title != w.Title || g.Summary != w.Summary || g.Year != w.Year ||
			!slices.Equal(g.Countries, w.Countries) || !slices.Equal(g.Regions, w.Regions) ||
			!slices.Equal(g.Authors, w.Authors) || len(g.Categories) != 0 || !g.HasCategoryLabel {
			t.Errorf("row %d:\n got %+v\nwant %+v", i+1, g, w)
		}
	}
	// Authors appear only when there are some.
	if n := d.Find(".field--name-field-authors").Length(); n != 2 {
		t.Errorf("%d Authors fields on page 0, want 2 (the seed page has two items with authors)", n)
	}
}

// seedPage reads testdata/seed-page.txt, the text of the real listing page
// the demo imitates (a copy of the project's seed page).
func seedPage(t *testing.T) []item {
	t.Helper()
	raw, err := os.ReadFile("testdata/seed-page.txt")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")[3:]
	var out []item
	labels := map[string]bool{"Country": true, "Region": true, "Authors": true, "Year": true, "Category": true}
	for i := 0; i < len(lines); {
		if lines[i] == "" {
			i++
			continue
		}
		it := item{Title: lines[i], Summary: lines[i+2]}
		i += 3
		label := ""
		for ; i < len(lines) && lines[i] != ""; i++ {
			l := lines[i]
			switch {
			case labels[l]:
				label = l
			case label == "Country":
				it.Countries = append(it.Countries, l)
			case label == "Region":
				it.Regions = append(it.Regions, l)
			case label == "Authors":
				it.Authors = append(it.Authors, l)
			case label == "Year":
				it.Year = l
			default:
				t.Fatalf("seed page: unexpected line %q", l)
			}
		}
		out = append(out, it)
	}
	if len(out) != 10 {
		t.Fatalf("seed page has %d items, want 10", len(out))
	}
	return out
}

func TestNextLinksVisitEveryPublicationOnce(t *testing.T) {
	s, srv := newSite(t)
	for _, tc := range []struct{ night, pages, items int }{{1, 5, 50}, {2, 6, 51}, {3, 6, 51}} {
		s.SetNight(tc.night)
		got, pages := walk(t, srv)
		if pages != tc.pages || len(got) != tc.items {
			t.Errorf("night %d: %d pages, %d items; want %d, %d", tc.night, pages, len(got), tc.pages, tc.items)
		}
		var slugs []string
		for _, it := range got {
			slugs = append(slugs, it.Slug)
		}
		var want []string
		for _, p := range s.Publications(tc.night) {
			want = append(want, p.Slug)
		}
		if !slices.Equal(slugs, want) {
			t.Errorf("night %d: walked\n%v\nwant\n%v", tc.night, slugs, want)
		}
		seen := map[string]bool{}
		for _, sl := range slugs {
			if seen[sl] {
				t.Errorf("night %d: %s seen twice", tc.night, sl)
			}
			seen[sl] = true
		}
	}
}

func TestSpanishItemHasThreeAuthors(t *testing.T) {
	_, srv := newSite(t)
	_, body := get(t, srv, site.ListingPath)
	d := doc(t, body)
	row := d.Find("div.views-row:has(h3 a:contains('Migrantes en México'))")
	if row.Length() != 1 {
		t.Fatalf("%d rows titled Migrantes en México", row.Length())
	}
	authors := texts(row.Find(".field--name-field-authors .field__label + .field__items > .field__item"))
	want := []string{"María Dolores París Pombo", "Melissa Ley Cervantes", "Jesús Peña Muñoz"}
	if !slices.Equal(authors, want) {
		t.Errorf("authors %q, want %q", authors, want)
	}
	if lang, _ := row.Find("h3 a").Attr("hreflang"); lang != "es" {
		t.Errorf("the Spanish item's link has hreflang %q", lang)
	}
	if lang, _ := row.Find("article").Attr("lang"); lang != "es" {
		t.Errorf("the Spanish item's lang is %q", lang)
	}
	if regions := texts(row.Find(".field--name-field-region .field__item")); !slices.Equal(regions, []string{"Central", "North America", "Caribbean"}) {
		t.Errorf("regions %q", regions)
	}
}

func TestNight2ChangesExactlyWhatChangesSays(t *testing.T) {
	s, srv := newSite(t)
	byslug := func(night int) (map[string]item, []item) {
		s.SetNight(night)
		all, _ := walk(t, srv)
		m := map[string]item{}
		for _, it := range all {
			m[it.Slug] = it
		}
		return m, all
	}
	n1, _ := byslug(1)
	n2, list2 := byslug(2)

	var got site.NightChanges
	for _, it := range list2 {
		if _, ok := n1[it.Slug]; !ok {
			got.Added = append(got.Added, site.Change{Slug: it.Slug, Title: it.Title, Path: "/en/publications/" + it.Slug})
		}
	}
	for slug, old := range n1 {
		nw, ok := n2[slug]
		if !ok {
			got.Removed = append(got.Removed, site.Change{Slug: slug, Title: old.Title, Path: "/en/publications/" + slug})
			continue
		}
		var fields []string
		for _, f := range []struct {
			name     string
			old, new any
		}{
			{"title", old.Title, nw.Title}, {"summary", old.Summary, nw.Summary},
			{"countries", old.Countries, nw.Countries}, {"regions", old.Regions, nw.Regions},
			{"authors", old.Authors, nw.Authors}, {"year", old.Year, nw.Year},
			{"categories", old.Categories, nw.Categories},
		} {
			if fmt.Sprint(f.old) != fmt.Sprint(f.new) {
				fields = append(fields, f.name)
			}
		}
		if fields != nil {
			got.Updated = append(got.Updated, site.Change{Slug: slug, Title: nw.Title, Path: "/en/publications/" + slug, Fields: fields})
		}
	}
	want := s.Changes()
	if len(want.Added) != 2 || len(want.Updated) != 2 || len(want.Removed) != 1 {
		t.Fatalf("Changes() = %+v; want 2 added, 2 updated, 1 removed", want)
	}
	sortChanges := func(cs []site.Change) {
		slices.SortFunc(cs, func(a, b site.Change) int { return strings.Compare(a.Slug, b.Slug) })
	}
	sortChanges(got.Updated)
	sortChanges(want.Updated)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pages changed\n%+v\nChanges() says\n%+v", got, want)
	}
	// The added publications are the first rows of page 0, in Changes order.
	for i, a := range s.Changes().Added {
		if list2[i].Slug != a.Slug {
			t.Errorf("row %d of night 2 is %s, want the added %s", i+1, list2[i].Slug, a.Slug)
		}
	}
	fields := map[string]bool{}
	for _, u := range want.Updated {
		for _, f := range u.Fields {
			fields[f] = true
		}
	}
	if !fields["summary"] || !fields["countries"] {
		t.Errorf("updated fields %v; want a summary and a countries edit", fields)
	}
}

func TestTakenDownPublicationIsGoneOnNight2(t *testing.T) {
	s, srv := newSite(t)
	ch := s.Changes()
	removed, added := ch.Removed[0], ch.Added[0]

	if res, _ := get(t, srv, removed.Path); res.StatusCode != 200 {
		t.Fatalf("night 1: %s is %s", removed.Path, res.Status)
	}
	if res, _ := get(t, srv, added.Path); res.StatusCode != 404 {
		t.Errorf("night 1: the not yet added %s is %s", added.Path, res.Status)
	}
	s.SetNight(2)
	res, body := get(t, srv, removed.Path)
	if res.StatusCode != 404 {
		t.Errorf("night 2: removed %s is %s, want 404", removed.Path, res.Status)
	}
	if h := doc(t, body).Find("h1.page-title").Text(); h != "Page not found" {
		t.Errorf("404 page heading %q", h)
	}
	if res, _ := get(t, srv, "/sites/default/files/"+removed.Slug+".pdf"); res.StatusCode != 404 {
		t.Errorf("night 2: removed PDF is %s", res.Status)
	}

	// The added publication's detail page has the full record, the
	// publisher and a working PDF link.
	res, body = get(t, srv, added.Path)
	if res.StatusCode != 200 {
		t.Fatalf("night 2: added %s is %s", added.Path, res.Status)
	}
	d := doc(t, body)
	if got := d.Find("h1.page-title").Text(); got != added.Title {
		t.Errorf("detail heading %q, want %q", got, added.Title)
	}
	if got := strings.TrimSpace(d.Find(".field--name-field-publisher .field__item").Text()); got == "" {
		t.Error("detail page has no Publisher")
	}
	pdf, _ := d.Find("a[href$='.pdf']").Attr("href")
	if pdf != "/sites/default/files/"+added.Slug+".pdf" {
		t.Fatalf("PDF link %q", pdf)
	}
	res, body = get(t, srv, pdf)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(body, []byte("%PDF-1.4")) || !bytes.HasSuffix(body, []byte("%%EOF\n")) {
		t.Errorf("PDF: %s %q %.20q", res.Status, res.Header.Get("Content-Type"), body)
	}
}

func TestConditionalRequests(t *testing.T) {
	s, srv := newSite(t)
	page1 := site.ListingPath + "&page=1"
	res, body := get(t, srv, page1)
	etag := res.Header.Get("ETag")
	if res.StatusCode != 200 || !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, `W/`) || res.Header.Get("Last-Modified") == "" {
		t.Fatalf("status %s, ETag %q, Last-Modified %q", res.Status, etag, res.Header.Get("Last-Modified"))
	}
	res, again := get(t, srv, page1, "If-None-Match", etag)
	if res.StatusCode != http.StatusNotModified || len(again) != 0 {
		t.Errorf("matching If-None-Match: %s with %d bytes, want 304 and no body", res.Status, len(again))
	}
	res, _ = get(t, srv, page1, "If-None-Match", `"something-else"`)
	if res.StatusCode != 200 {
		t.Errorf("other If-None-Match: %s", res.Status)
	}
	res, _ = get(t, srv, page1, "If-Modified-Since", res.Header.Get("Last-Modified"))
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("If-Modified-Since the page's date: %s", res.Status)
	}

	// Overnight every listing page shifts; a detail page nobody touched
	// keeps its ETag.
	untouched := s.Publications(1)[2].Path()
	dres, _ := get(t, srv, untouched)
	s.SetNight(2)
	res, body2 := get(t, srv, page1, "If-None-Match", etag)
	if res.StatusCode != 200 || res.Header.Get("ETag") == etag || bytes.Equal(body, body2) {
		t.Errorf("night 2 page 1: %s, ETag %q (night 1 %q)", res.Status, res.Header.Get("ETag"), etag)
	}
	if res, _ := get(t, srv, untouched, "If-None-Match", dres.Header.Get("ETag")); res.StatusCode != http.StatusNotModified {
		t.Errorf("night 2, unchanged detail page: %s, want 304", res.Status)
	}
}

func TestTitlesAndSummariesAreEscaped(t *testing.T) {
	s, srv := newSite(t)
	var p site.Publication
	for i, q := range s.Publications(1) {
		if strings.Contains(q.Title, "&") && strings.Contains(q.Title, `"`) {
			p = q
			t.Logf("%q is on page %d", q.Title, i/10)
			break
		}
	}
	if p.Slug == "" {
		t.Fatal("no title with & and double quotes in the data")
	}
	var found bool
	for page := 0; page < 5 && !found; page++ {
		_, body := get(t, srv, fmt.Sprintf("%s&page=%d", site.ListingPath, page))
		for _, r := range rows(t, doc(t, body)) {
			if r.Slug != p.Slug {
				continue
			}
			found = true
			if r.Title != p.Title {
				t.Errorf("title reads %q, want %q", r.Title, p.Title)
			}
			if !bytes.Contains(body, []byte(`Children on the Move: &#34;Invisible&#34; Victims of Exploitation &amp; Abuse`)) {
				t.Error("the title is not HTML-escaped in the page source")
			}
		}
		if bytes.Contains(body, []byte("(<18 years)")) {
			t.Errorf("page %d has a raw < from a summary", page)
		}
	}
	if !found {
		t.Errorf("%s not found in the listing", p.Slug)
	}
	_, body := get(t, srv, p.Path())
	if got := doc(t, body).Find("h1.page-title").Text(); got != p.Title {
		t.Errorf("detail heading %q", got)
	}
}

func TestSeedYAMLParsesAndMatchesThePages(t *testing.T) {
	_, srv := newSite(t)
	start := srv.URL + site.ListingPath
	sd, err := seeds.Parse("demo-trafficking.yaml", site.SeedYAML(start))
	if err != nil {
		t.Fatalf("seeds.Parse: %v", err)
	}
	if sd.ID != "demo-trafficking" || !slices.Equal(sd.StartURLs, []string{start}) || !sd.AllowPrivateNetworks ||
		sd.Politeness.Delay != 0 || sd.Key != "url" || sd.Pagination.Mode() != "next" {
		t.Errorf("seed: %+v", sd)
	}
	if u, _ := url.Parse(srv.URL); !slices.Equal(sd.AllowedHosts, []string{u.Hostname()}) {
		t.Errorf("allowed hosts %v", sd.AllowedHosts)
	}
	for _, f := range []string{"title", "url", "summary", "countries", "regions", "authors", "year", "categories", "language"} {
		if _, ok := sd.Fields.Get(f); !ok {
			t.Errorf("seed has no %s field", f)
		}
	}
	// A bare base URL gets the listing path.
	if sd2, err := seeds.Parse("x.yaml", site.SeedYAML(srv.URL)); err != nil || sd2.StartURLs[0] != start {
		t.Errorf("SeedYAML(base URL): %v, %v", sd2, err)
	}

	// The seed's selectors find what they should on a real page.
	_, body := get(t, srv, start)
	d := doc(t, body)
	if n := d.Find(sd.Items.Selector).Length(); n != 10 {
		t.Errorf("items selector %q matches %d, want 10", sd.Items.Selector, n)
	}
	title, _ := sd.Fields.Get("title")
	if n := d.Find(sd.Items.Selector).Find(title.Select).Length(); n != 10 {
		t.Errorf("title selector matches %d in the items", n)
	}
	cat, _ := sd.Page.Get("categories")
	if got := d.Find(cat.Select).Text(); got != "Trafficking" {
		t.Errorf("page categories selector reads %q", got)
	}
	if n := d.Find(sd.Pagination.Next).Length(); n != 1 {
		t.Errorf("next selector matches %d on page 0", n)
	}
	_, last := get(t, srv, site.ListingPath+"&page=4")
	if n := doc(t, last).Find(sd.Pagination.Next).Length(); n != 0 {
		t.Errorf("next selector matches %d on the last page", n)
	}
}

func TestRobotsAllowsTheListing(t *testing.T) {
	_, srv := newSite(t)
	res, body := get(t, srv, "/robots.txt")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("robots.txt: %s %q", res.Status, res.Header.Get("Content-Type"))
	}
	rb, err := robotstxt.FromBytes(body)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		site.ListingPath + "&page=3": true, "/en/publications/x": true, "/sites/default/files/x.pdf": true,
		"/admin/content": false,
	} {
		if got := rb.TestAgent(path, "harvest"); got != want {
			t.Errorf("robots allows %s: %v, want %v", path, got, want)
		}
	}
}

func TestListingEdges(t *testing.T) {
	_, srv := newSite(t)
	// Past the last page: an empty view, no pager, not an error.
	res, body := get(t, srv, site.ListingPath+"&page=99")
	d := doc(t, body)
	if res.StatusCode != 200 || d.Find("div.views-row").Length() != 0 || d.Find(".view-empty").Length() != 1 || d.Find("nav.pager").Length() != 0 {
		t.Errorf("page 99: %s, %d rows", res.Status, d.Find("div.views-row").Length())
	}
	// Not a page number: the first page, as Drupal does.
	_, body = get(t, srv, site.ListingPath+"&page=abc")
	if got := strings.TrimSpace(doc(t, body).Find(".view-header").Text()); got != "Showing 1 - 10 of 50" {
		t.Errorf("page=abc: %q", got)
	}
	// The front page and the stylesheet the pages link to exist.
	res, body = get(t, srv, "/")
	if res.StatusCode != 200 || doc(t, body).Find(`a[href="/resources?category=trafficking"]`).Length() == 0 {
		t.Errorf("front page: %s, or no link to the listing", res.Status)
	}
	css, _ := doc(t, body).Find(`link[rel="stylesheet"]`).Attr("href")
	if res, _ := get(t, srv, css); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet %s: %s %q", css, res.Status, res.Header.Get("Content-Type"))
	}
	// Unknown category and unknown paths: 404.
	for _, p := range []string{"/resources?category=nope", "/en/publications/nope", "/nope", "/sites/default/files/nope.txt"} {
		if res, _ := get(t, srv, p); res.StatusCode != 404 {
			t.Errorf("%s: %s, want 404", p, res.Status)
		}
	}
	// The last page has first/previous links and no next/last.
	_, body = get(t, srv, site.ListingPath+"&page=4")
	d = doc(t, body)
	if d.Find("li.pager__item--next, li.pager__item--last").Length() != 0 {
		t.Error("the last page has next/last links")
	}
	if href, _ := d.Find("li.pager__item--previous a").Attr("href"); href != "?category=trafficking&page=3" {
		t.Errorf("previous link %q", href)
	}
	if got := strings.TrimSpace(d.Find(".view-header").Text()); got != "Showing 41 - 50 of 50" {
		t.Errorf("last page header %q", got)
	}
}

func TestFacetLinksFilter(t *testing.T) {
	_, srv := newSite(t)
	_, body := get(t, srv, site.ListingPath)
	a := doc(t, body).Find(`#block-country a[data-drupal-facet-item-value="Mexico"]`)
	href, ok := a.Attr("href")
	if !ok {
		t.Fatal("no Mexico facet link")
	}
	count, _ := a.Attr("data-drupal-facet-item-count")
	base, _ := url.Parse(srv.URL + site.ListingPath)
	ref, _ := url.Parse(href)
	_, body = get(t, srv, base.ResolveReference(ref).String())
	got := rows(t, doc(t, body))
	if fmt.Sprint(len(got)) != count || len(got) == 0 {
		t.Fatalf("Mexico filter: %d rows, facet count %s", len(got), count)
	}
	for _, r := range got {
		if !slices.Contains(r.Countries, "Mexico") {
			t.Errorf("%s is not in Mexico: %v", r.Slug, r.Countries)
		}
	}
}

func TestNightSwitchWhileServing(t *testing.T) {
	s, srv := newSite(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				res, err := srv.Client().Get(srv.URL + fmt.Sprintf("%s&page=%d", site.ListingPath, (i+j)%6))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Errorf("status %s", res.Status)
				}
			}
		}()
	}
	for n := range 20 {
		s.SetNight(1 + n%3)
	}
	wg.Wait()
	if s.Night() != 2 { // the last SetNight was 1 + 19%3
		t.Errorf("night %d", s.Night())
	}
}
