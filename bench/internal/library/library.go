// Package library generates the benchmark's fixture: a Drupal Views
// publication library of N listing pages x 20 items, deterministic from a
// seed, served with strong ETags (304 on If-None-Match) and optional gzip.
//
// Every page is rendered on demand from (seed, page number), so the
// server holds nothing but its configuration; Expected gives the records
// every contestant must extract, for checking them.
package library

import (
	"fmt"
	"html"
	"math/rand/v2"
	"strconv"
	"strings"
)

// PerPage is the number of items on a listing page.
const PerPage = 20

// Heading is the listing's page title; items without a Category of their
// own take it as their category (the seed's page-level field).
const Heading = "Trafficking in persons"

// ListPath is the path of the listing; page k is ListPath?page=k and page
// 0 is also ListPath itself.
const ListPath = "/resources"

// Config says which library to build.
type Config struct {
	Seed  uint64 // everything random is derived from it
	Pages int    // listing pages; pages >= Pages are empty
}

// Library is one deterministic fixture library.
type Library struct {
	cfg Config
}

// New returns the library of cfg. Pages below 1 count as 1.
func New(cfg Config) *Library {
	if cfg.Pages < 1 {
		cfg.Pages = 1
	}
	return &Library{cfg: cfg}
}

// Pages is the number of listing pages holding items.
func (l *Library) Pages() int { return l.cfg.Pages }

// Items is the number of items of the whole library.
func (l *Library) Items() int { return l.cfg.Pages * PerPage }

// Record is an item as every contestant must extract it: the eight
// benchmark fields, URL absolute, text as printed (before entity
// escaping), lists in page order.
type Record struct {
	URL        string   `json:"url"`
	Title      string   `json:"title"`
	Summary    string   `json:"summary"`
	Countries  []string `json:"countries"`
	Regions    []string `json:"regions"`
	Authors    []string `json:"authors"`
	Year       int      `json:"year"`
	Categories []string `json:"categories"`
}

// item is one generated publication.
type item struct {
	id         int
	lang       string // en | es
	path       string
	title      string
	summary    string
	countries  []string
	regions    []string
	authors    []string
	year       int
	categories []string // empty: the page heading applies
	doc        string   // document type shown as an extra facet
}

// Expected returns every record of the library, in page order, with URLs
// resolved against origin ("http://127.0.0.1:PORT").
func (l *Library) Expected(origin string) []Record {
	out := make([]Record, 0, l.Items())
	for i := 0; i < l.Items(); i++ {
		it := l.item(i)
		cats := it.categories
		if len(cats) == 0 {
			cats = []string{Heading}
		}
		out = append(out, Record{
			URL: strings.TrimRight(origin, "/") + it.path, Title: it.title, Summary: it.summary,
			Countries: it.countries, Regions: it.regions, Authors: it.authors,
			Year: it.year, Categories: cats,
		})
	}
	return out
}

var (
	countries = []string{"Mexico", "Guatemala", "Honduras", "El Salvador", "Costa Rica", "Panamá", "Colombia",
		"Perú", "Ecuador", "Bolivia", "Chile", "Argentina", "Brazil", "Paraguay", "Uruguay", "Venezuela",
		"Haiti", "República Dominicana", "Côte d'Ivoire", "Sénégal", "Nigeria", "Ethiopia", "Türkiye",
		"Viet Nam", "Myanmar", "Bangladesh", "Nepal", "Philippines", "Indonesia", "Ukraine"}
	regions = []string{"Central America", "South America", "Caribbean", "North America", "West Africa",
		"East Africa", "Horn of Africa", "Middle East & North Africa", "South-East Asia", "South Asia",
		"Europe", "Global", "Mesoamérica", "Andean Region"}
	firstNames = []string{"Jesús", "María José", "Ana", "Zoë", "José Luis", "Chloé", "Nuño", "Inés", "Søren",
		"Aylin", "Thandiwe", "Nguyễn", "Björn", "Émilie", "Raúl", "Sofía", "Kwame", "Priya", "Ángela", "Hugo"}
	lastNames = []string{"Peña Muñoz", "García Márquez", "O'Connor", "Brûlé", "Ibáñez", "Núñez", "Okafor",
		"Ramírez", "Dvořák", "Çelik", "Nakamura", "Fernández", "Lefèvre", "Mbeki", "Sánchez-Vidal", "Smith"}
	categoriesEN = []string{"Trafficking", "Labour migration", "Migration governance", "Border management",
		"Migrant smuggling", "Protection & assistance", "Research", "Data & statistics"}
	categoriesES = []string{"Trata de personas", "Migración laboral", "Gobernanza migratoria",
		"Protección y asistencia", "Investigación"}
	docTypes = []string{"Report", "Policy brief", "Guidance", "Toolkit", "Working paper", "Infographic"}

	topicsEN = []string{"Human trafficking", "Labour exploitation", "Forced marriage", "Child trafficking",
		"Smuggling of migrants", "Return & reintegration", "Victim protection", "Recruitment fees"}
	aspectsEN = []string{"trends and responses", "a baseline assessment", "lessons from the field",
		"survivors' voices", "an operational guide", "data from 2015–2023", "policy options"}
	topicsES = []string{"Trata de personas", "Explotación laboral", "Matrimonio forzado", "Tráfico ilícito de migrantes",
		"Protección de víctimas", "Reclutamiento ético", "Niñez migrante"}
	aspectsES = []string{"tendencias y respuestas", "diagnóstico de línea de base", "lecciones aprendidas",
		"guía operativa para la atención", "análisis de datos 2015–2023", "opciones de política pública"}

	sentencesEN = []string{
		"This report examines how recruitment agencies & informal brokers shape the journeys of migrant workers.",
		"It draws on interviews with survivors, labour inspectors and prosecutors conducted over eighteen months.",
		"Findings show that debt bondage remains the most common means of control, often disguised as \"advances\".",
		"The authors recommend joint inspections, safe reporting channels and access to remedy regardless of status.",
		"Case studies from coastal fisheries, domestic work and construction illustrate the risks at each stage.",
		"A statistical annex presents 1,284 identified cases disaggregated by sex, age & form of exploitation.",
		"The publication is intended for policymakers, civil-society organisations and front-line responders.",
		"Particular attention is paid to children on the move and to people displaced by climate-related disasters.",
	}
	sentencesES = []string{
		"Este informe analiza cómo las agencias de reclutamiento & los intermediarios informales inciden en la migración laboral.",
		"Se basa en entrevistas con sobrevivientes, inspectores de trabajo y fiscales realizadas durante dieciocho meses.",
		"Los hallazgos muestran que la servidumbre por deudas sigue siendo el medio de control más común.",
		"Las autoras recomiendan inspecciones conjuntas, canales de denuncia seguros y acceso a la reparación.",
		"Estudios de caso en la pesca, el trabajo doméstico y la construcción ilustran los riesgos en cada etapa.",
		"Un anexo estadístico presenta 1.284 casos identificados, desagregados por sexo, edad y forma de explotación.",
		"La publicación está dirigida a responsables políticos, organizaciones de la sociedad civil y equipos de atención.",
		"Se presta especial atención a la niñez migrante no acompañada y a las personas desplazadas por desastres.",
	}
)

// pick returns n distinct values of from, in random order.
func pick(r *rand.Rand, from []string, n int) []string {
	idx := r.Perm(len(from))[:n]
	out := make([]string, n)
	for i, j := range idx {
		out[i] = from[j]
	}
	return out
}

// item generates item i of the library: the same i always gives the same
// item, whichever page is asked first.
func (l *Library) item(i int) item {
	r := rand.New(rand.NewPCG(l.cfg.Seed, uint64(i)))
	it := item{id: 10000 + i, year: 2005 + r.IntN(21)}
	if r.IntN(10) < 3 {
		it.lang = "es"
		topic := topicsES[r.IntN(len(topicsES))]
		it.title = fmt.Sprintf("%s en %s: %s (%d)", topic, countries[r.IntN(len(countries))], aspectsES[r.IntN(len(aspectsES))], it.year)
		it.path = fmt.Sprintf("/es/publicaciones/%s-%d", slug(topic), it.id)
		it.summary = summary(r, sentencesES)
	} else {
		it.lang = "en"
		topic := topicsEN[r.IntN(len(topicsEN))]
		it.title = fmt.Sprintf("%s in %s: %s", topic, countries[r.IntN(len(countries))], aspectsEN[r.IntN(len(aspectsEN))])
		it.path = fmt.Sprintf("/en/publications/%s-%d", slug(topic), it.id)
		it.summary = summary(r, sentencesEN)
	}
	it.countries = pick(r, countries, 1+r.IntN(2))
	it.regions = pick(r, regions, 1+r.IntN(3))
	if r.IntN(100) < 85 {
		n := 1 + r.IntN(3)
		for k := 0; k < n; k++ {
			a := firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
			if !contains(it.authors, a) {
				it.authors = append(it.authors, a)
			}
		}
	}
	if r.IntN(100) < 90 {
		cats := categoriesEN
		if it.lang == "es" {
			cats = categoriesES
		}
		it.categories = pick(r, cats, 1+r.IntN(2))
	}
	if r.IntN(2) == 0 {
		it.doc = docTypes[r.IntN(len(docTypes))]
	}
	return it
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// summary strings distinct sentences together up to about 600 characters.
func summary(r *rand.Rand, from []string) string {
	var b strings.Builder
	for _, k := range r.Perm(len(from)) {
		if b.Len() >= 520 {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(from[k])
	}
	return b.String()
}

// slug is Drupal's path alias of a title: ASCII, lower case, hyphens.
func slug(s string) string {
	repl := strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ñ", "n", "&", "and")
	s = repl.Replace(strings.ToLower(s))
	var b strings.Builder
	dash := false
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

var esc = html.EscapeString

// Page renders listing page p (0-based) as HTML. Pages at or past
// Pages() are Drupal's empty view: 200, no items, no pager.
func (l *Library) Page(p int) []byte {
	var b strings.Builder
	b.Grow(80 << 10)
	l.head(&b, p)
	l.sidebar(&b)
	b.WriteString(`  <div class="layout-content">
    <div class="region region-content">
      <div id="block-library-page-title" class="block block-core block-page-title-block">
        <h1 class="page-title">` + esc(Heading) + `</h1>
      </div>
      <div id="block-library-content" class="block block-system block-system-main-block">
        <div class="views-element-container">
          <div class="view view-resources view-id-resources view-display-id-page_1 js-view-dom-id-` + strconv.FormatUint(l.cfg.Seed*7919+uint64(p), 16) + `">
`)
	if p < 0 || p >= l.cfg.Pages {
		b.WriteString(`            <div class="view-empty">
              <p>No publications match your search.</p>
            </div>
`)
	} else {
		total := l.Items()
		fmt.Fprintf(&b, "            <div class=\"view-header\">Displaying %d - %d of %d</div>\n            <div class=\"view-content\">\n",
			p*PerPage+1, p*PerPage+PerPage, total)
		for k := 0; k < PerPage; k++ {
			writeItem(&b, l.item(p*PerPage+k))
		}
		b.WriteString("            </div>\n")
		l.pager(&b, p)
	}
	b.WriteString(`          </div>
        </div>
      </div>
    </div>
  </div>
</div>
`)
	footer(&b)
	return []byte(b.String())
}

func writeField(b *strings.Builder, name, typ, label string, values []string, multi bool) {
	fmt.Fprintf(b, `    <div class="field field--name-field-%s field--type-%s field--label-inline">
      <div class="field__label">%s</div>
`, name, typ, esc(label))
	if multi {
		b.WriteString("      <div class=\"field__items\">\n")
	}
	for _, v := range values {
		if typ == "entity-reference" {
			fmt.Fprintf(b, "        <div class=\"field__item\"><a href=\"/taxonomy/term/%d\" hreflang=\"en\">%s</a></div>\n", len(v)*31+int(v[0]), esc(v))
		} else {
			fmt.Fprintf(b, "        <div class=\"field__item\">%s</div>\n", esc(v))
		}
	}
	if multi {
		b.WriteString("      </div>\n")
	}
	b.WriteString("    </div>\n")
}

func writeItem(b *strings.Builder, it item) {
	lang := ""
	if it.lang != "en" {
		lang = ` lang="` + it.lang + `"`
	}
	fmt.Fprintf(b, `<div class="views-row">
  <article%s role="article" class="node node--type-publication node--view-mode-teaser">
  <h3 class="views-field-title"><a href="%s" hreflang="%s">%s</a></h3>
  <div class="views-field views-field-body"><div class="field-content">%s</div></div>
  <div class="views-field-facets">
`, lang, it.path, it.lang, esc(it.title), esc(it.summary))
	writeField(b, "country", "entity-reference", "Country", it.countries, true)
	writeField(b, "region", "entity-reference", "Region", it.regions, true)
	if len(it.authors) > 0 {
		writeField(b, "authors", "string", "Authors", it.authors, true)
	}
	writeField(b, "year", "integer", "Year", []string{strconv.Itoa(it.year)}, false)
	if len(it.categories) > 0 {
		writeField(b, "category", "string", "Category", it.categories, true)
	}
	if it.doc != "" {
		writeField(b, "document-type", "string", "Document type", []string{it.doc}, false)
	}
	b.WriteString(`  </div>
  </article>
</div>
`)
}

// pager writes Drupal's full pager: first, previous, up to nine page
// links with ellipses, next (rel="next") and last.
func (l *Library) pager(b *strings.Builder, p int) {
	last := l.cfg.Pages - 1
	b.WriteString(`            <nav class="pager" role="navigation" aria-labelledby="pagination-heading">
              <h4 id="pagination-heading" class="visually-hidden">Pagination</h4>
              <ul class="pager__items js-pager__items">
`)
	if p > 0 {
		b.WriteString(`                <li class="pager__item pager__item--first">
                  <a href="?page=0" title="Go to first page"><span class="visually-hidden">First page</span><span aria-hidden="true">« First</span></a>
                </li>
`)
		fmt.Fprintf(b, `                <li class="pager__item pager__item--previous">
                  <a href="?page=%d" title="Go to previous page" rel="prev"><span class="visually-hidden">Previous page</span><span aria-hidden="true">‹ Previous</span></a>
                </li>
`, p-1)
	}
	lo := max(0, p-4)
	hi := min(last, lo+8)
	lo = max(0, hi-8)
	if lo > 0 {
		b.WriteString("                <li class=\"pager__item pager__item--ellipsis\" role=\"presentation\">&hellip;</li>\n")
	}
	for k := lo; k <= hi; k++ {
		if k == p {
			fmt.Fprintf(b, `                <li class="pager__item is-active">
                  <a href="?page=%d" title="Current page" aria-current="page"><span class="visually-hidden">Current page</span>%d</a>
                </li>
`, k, k+1)
		} else {
			fmt.Fprintf(b, `                <li class="pager__item">
                  <a href="?page=%d" title="Go to page %d"><span class="visually-hidden">Page</span>%d</a>
                </li>
`, k, k+1, k+1)
		}
	}
	if hi < last {
		b.WriteString("                <li class=\"pager__item pager__item--ellipsis\" role=\"presentation\">&hellip;</li>\n")
	}
	if p < last {
		fmt.Fprintf(b, `                <li class="pager__item pager__item--next">
                  <a href="?page=%d" title="Go to next page" rel="next"><span class="visually-hidden">Next page</span><span aria-hidden="true">Next ›</span></a>
                </li>
                <li class="pager__item pager__item--last">
                  <a href="?page=%d" title="Go to last page"><span class="visually-hidden">Last page</span><span aria-hidden="true">Last »</span></a>
                </li>
`, p+1, last)
	}
	b.WriteString("              </ul>\n            </nav>\n")
}
