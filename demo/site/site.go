// Package site is the library site that "harvest demo" serves on loopback:
// a Drupal-style resource library ("Trafficking" publications, 10 a page,
// Views markup, labelled Drupal fields, a full pager) built into the binary.
//
// The site changes between simulated nights the way a real library changes
// overnight. Night 1 serves the base data. From night 2 on, two new
// publications appear at the top of the listing (shifting every page), one
// summary and one country list are edited, and one publication is taken
// down (gone from the listing, its detail page 404). Changes reports exactly
// what night 2 changed, so a harvest can be checked against it.
//
// Every page carries a strong ETag (a hash of its bytes) and a
// Last-Modified date, and conditional requests are answered with 304.
package site

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"slices"
	"sync/atomic"
	"time"
)

//go:embed data/publications.json
var dataFS embed.FS

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Publication is one item of the library, as the site shows it.
type Publication struct {
	Slug       string   `json:"slug"` // stable; the detail page is /en/publications/SLUG
	Title      string   `json:"title"`
	Summary    string   `json:"summary"`
	Countries  []string `json:"countries"`
	Regions    []string `json:"regions"`
	Authors    []string `json:"authors"`
	Year       int      `json:"year"`
	Categories []string `json:"categories"` // the "Category" facet; often empty
	Language   string   `json:"language"`   // "en" or "es"
	Publisher  string   `json:"publisher"`  // shown on the detail page only
}

// Path is the site-relative path of the publication's detail page.
func (p Publication) Path() string { return "/en/publications/" + p.Slug }

// PDFPath is the site-relative path of the publication's PDF.
func (p Publication) PDFPath() string { return "/sites/default/files/" + p.Slug + ".pdf" }

// dataFile is the layout of data/publications.json.
type dataFile struct {
	Publications []Publication `json:"publications"` // night 1, listing order
	Overnight    struct {
		Added []Publication `json:"added"` // shown first from night 2, in this order
		Edits []struct {
			Slug      string   `json:"slug"`
			Summary   *string  `json:"summary"`
			Countries []string `json:"countries"`
		} `json:"edits"`
		Removed []string `json:"removed"` // slugs
	} `json:"overnight"`
}

// Change names one publication that night 2 added, edited or took down.
type Change struct {
	Slug  string
	Title string
	// Path is the detail page path (/en/publications/SLUG); the harvested
	// record's url is the site's base URL plus Path.
	Path string
	// Fields lists the record fields that changed (like "summary",
	// "countries"), for updated publications only.
	Fields []string
}

// NightChanges is what the site changed between night 1 and night 2
// (nights after 2 serve the same data as night 2).
type NightChanges struct {
	Added   []Change // in listing order (newest first)
	Updated []Change
	Removed []Change
}

// Options configure a Site. The zero value is the demo's configuration.
type Options struct {
	// PageSize is the number of publications per listing page (default 10).
	PageSize int
	// Modified is the Last-Modified time of night 1's pages (default
	// 2025-03-03 02:00 UTC); pages changed on night 2 are one day later.
	Modified time.Time
}

// Site is the demo library. It is safe for concurrent use: SetNight may be
// called while the handler serves requests.
type Site struct {
	opts    Options
	nights  [2][]Publication // [0] night 1, [1] night 2 and later
	changes NightChanges
	touched map[string]bool // slugs added or edited on night 2
	night   atomic.Int64
	pages   map[string]*template.Template
}

// New loads the embedded data and templates. The site starts on night 1.
func New(opts Options) (*Site, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = 10
	}
	if opts.Modified.IsZero() {
		opts.Modified = time.Date(2025, 3, 3, 2, 0, 0, 0, time.UTC)
	}
	raw, err := dataFS.ReadFile("data/publications.json")
	if err != nil {
		return nil, fmt.Errorf("site: read data/publications.json: %w", err)
	}
	var d dataFile
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("site: parse data/publications.json: %w", err)
	}
	s := &Site{opts: opts, touched: map[string]bool{}}
	if err := s.build(&d); err != nil {
		return nil, fmt.Errorf("site: data/publications.json: %w", err)
	}
	if s.pages, err = parseTemplates(templateFS); err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	s.night.Store(1)
	return s, nil
}

// build derives both nights and the change list from the data file.
func (s *Site) build(d *dataFile) error {
	seen := map[string]bool{}
	for _, p := range append(slices.Clone(d.Publications), d.Overnight.Added...) {
		if p.Slug == "" || p.Title == "" {
			return fmt.Errorf("a publication without slug or title (%q)", p.Title)
		}
		if seen[p.Slug] {
			return fmt.Errorf("slug %q is used twice", p.Slug)
		}
		seen[p.Slug] = true
	}
	base := d.Publications
	s.nights[0] = base

	removed := map[string]bool{}
	for _, slug := range d.Overnight.Removed {
		removed[slug] = true
	}
	edited := map[string]Publication{}
	for _, e := range d.Overnight.Edits {
		i := slices.IndexFunc(base, func(p Publication) bool { return p.Slug == e.Slug })
		if i < 0 {
			return fmt.Errorf("edit of unknown slug %q", e.Slug)
		}
		p := clonePub(base[i])
		if e.Summary != nil {
			p.Summary = *e.Summary
		}
		if e.Countries != nil {
			p.Countries = e.Countries
		}
		edited[e.Slug] = p
	}
	var next []Publication
	for _, p := range d.Overnight.Added {
		next = append(next, p)
		s.changes.Added = append(s.changes.Added, Change{Slug: p.Slug, Title: p.Title, Path: p.Path()})
		s.touched[p.Slug] = true
	}
	for _, p := range base {
		if removed[p.Slug] {
			s.changes.Removed = append(s.changes.Removed, Change{Slug: p.Slug, Title: p.Title, Path: p.Path()})
			delete(removed, p.Slug)
			continue
		}
		if np, ok := edited[p.Slug]; ok {
			fields := changedFields(p, np)
			if len(fields) > 0 {
				s.changes.Updated = append(s.changes.Updated, Change{Slug: p.Slug, Title: np.Title, Path: p.Path(), Fields: fields})
				s.touched[p.Slug] = true
			}
			p = np
		}
		next = append(next, p)
	}
	for slug := range removed {
		return fmt.Errorf("removal of unknown slug %q", slug)
	}
	s.nights[1] = next
	return nil
}

func clonePub(p Publication) Publication {
	p.Countries = slices.Clone(p.Countries)
	p.Regions = slices.Clone(p.Regions)
	p.Authors = slices.Clone(p.Authors)
	p.Categories = slices.Clone(p.Categories)
	return p
}

// changedFields names, with record field names, what differs between a and b.
func changedFields(a, b Publication) []string {
	var out []string
	if a.Title != b.Title {
		out = append(out, "title")
	}
	if a.Summary != b.Summary {
		out = append(out, "summary")
	}
	if !slices.Equal(a.Countries, b.Countries) {
		out = append(out, "countries")
	}
	if !slices.Equal(a.Regions, b.Regions) {
		out = append(out, "regions")
	}
	if !slices.Equal(a.Authors, b.Authors) {
		out = append(out, "authors")
	}
	if a.Year != b.Year {
		out = append(out, "year")
	}
	if !slices.Equal(a.Categories, b.Categories) {
		out = append(out, "categories")
	}
	return out
}

// SetNight switches the site to night n (1 is the base data; 2 and later
// are the changed data). Values below 1 count as 1. Safe to call while
// serving.
func (s *Site) SetNight(n int) {
	if n < 1 {
		n = 1
	}
	s.night.Store(int64(n))
}

// Night returns the night being served.
func (s *Site) Night() int { return int(s.night.Load()) }

// Changes describes exactly what night 2 changed compared with night 1.
func (s *Site) Changes() NightChanges {
	c := NightChanges{
		Added:   slices.Clone(s.changes.Added),
		Updated: slices.Clone(s.changes.Updated),
		Removed: slices.Clone(s.changes.Removed),
	}
	for i := range c.Updated {
		c.Updated[i].Fields = slices.Clone(c.Updated[i].Fields)
	}
	return c
}

// Publications returns the publications listed on night n, in listing
// order (a copy).
func (s *Site) Publications(night int) []Publication {
	src := s.data(night)
	out := make([]Publication, len(src))
	for i, p := range src {
		out[i] = clonePub(p)
	}
	return out
}

func (s *Site) data(night int) []Publication {
	if night >= 2 {
		return s.nights[1]
	}
	return s.nights[0]
}

// modified is the Last-Modified time of a page: night 1's date, or a day
// later when the page shows what night 2 changed.
func (s *Site) modified(changed bool) time.Time {
	if changed {
		return s.opts.Modified.Add(24 * time.Hour)
	}
	return s.opts.Modified
}

// parseTemplates builds one template set per page, each with the layout.
func parseTemplates(fsys fs.FS) (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, "templates/layout.html", "templates/field.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout templates: %w", err)
	}
	out := map[string]*template.Template{}
	for _, name := range []string{"front", "listing", "detail", "notfound"} {
		t, err := template.Must(layout.Clone()).ParseFS(fsys, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}
