package parser

import (
	"slices"
	"strings"
	"testing"

	"github.com/harvest-dev/harvest/seeds"
)

// mustSeed parses a seed written inline in a test.
func mustSeed(t testing.TB, yaml string) *seeds.Seed {
	t.Helper()
	s, err := seeds.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return s
}

// TestDrupalViewsByHand checks, independently of the golden file, what a
// user of the first customer's page would look at.
func TestDrupalViewsByHand(t *testing.T) {
	s, pageURL, page := loadCase(t, "drupal-views")
	res, err := Parse(s, pageURL, page)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 10 || res.Facts.Items != 10 || res.Dropped != 0 {
		t.Fatalf("got %d records of %d items (%d dropped), want all 10", len(res.Records), res.Facts.Items, res.Dropped)
	}
	if res.Facts.Total != 47 {
		t.Errorf("Total = %d, want 47 from \"Displaying 1 - 10 of 47\"", res.Facts.Total)
	}
	if want := []string{"https://example.int/resources?category=trafficking&page=1"}; !slices.Equal(res.Next, want) {
		t.Errorf("Next = %q, want %q (pager link and rel=next, once)", res.Next, want)
	}
	byTitle := map[string]int{}
	for i, r := range res.Records {
		byTitle[r.Title] = i
		if r.Source != "iom-trafficking" || r.Key != r.URL || !strings.HasPrefix(r.URL, "https://example.int/resources/") {
			t.Errorf("record %d: source %q key %q url %q", i, r.Source, r.Key, r.URL)
		}
		for _, c := range r.Categories {
			if c == "" || strings.Contains(c, "Download") || strings.Contains(c, "Descargar") {
				t.Errorf("record %d: category %q borrowed from another field", i, c)
			}
		}
	}
	es := res.Records[4]
	if !strings.HasPrefix(es.Title, "Migrantes en México Vulnerabilidad") {
		t.Fatalf("record 5 is %q", es.Title)
	}
	if want := []string{"María Dolores París Pombo", "Melissa Ley Cervantes", "Jesús Peña Muñoz"}; !slices.Equal(es.Authors, want) {
		t.Errorf("Spanish item authors = %q, want %q", es.Authors, want)
	}
	if want := []string{"Central", "North America", "Caribbean"}; !slices.Equal(es.Regions, want) {
		t.Errorf("Spanish item regions = %q, want %q", es.Regions, want)
	}
	if es.Year != 2016 || es.Language != "es" || !slices.Equal(es.Countries, []string{"Mexico"}) {
		t.Errorf("Spanish item: year %d language %q countries %q", es.Year, es.Language, es.Countries)
	}
	if es.Extra["pdf"] != "https://example.int/system/files/pdf/migrantes-en-mexico.pdf" {
		t.Errorf("backslashed PDF link not repaired: %q", es.Extra["pdf"])
	}
	// The "Category" facet is empty on the page: the page heading fills
	// it, except for the one item with a category of its own.
	for i, r := range res.Records {
		want := []string{"Trafficking"}
		if i == 9 {
			want = []string{"Climate and Environment"}
		}
		if !slices.Equal(r.Categories, want) {
			t.Errorf("record %d %q categories = %q, want %q", i+1, r.Title, r.Categories, want)
		}
	}
	anti := res.Records[2]
	if want := []string{"Czech Republic", "Poland", "Portugal", "Slovak Republic"}; !slices.Equal(anti.Countries, want) {
		t.Errorf("countries = %q, want %q", anti.Countries, want)
	}
	if res.Records[9].Authors[0] != "Sabira Coelho" || len(res.Records[0].Authors) != 0 {
		t.Errorf("authors: %q / %q", res.Records[9].Authors, res.Records[0].Authors)
	}
	if !strings.Contains(res.Records[0].Summary, "In this snapshot: What is human trafficking? Human trafficking, modern slavery") {
		t.Errorf("list items of the summary run together or lost: %q", res.Records[0].Summary)
	}
	if got := res.Records[8].Summary; !strings.Contains(got, "(V1 attached) 2-Considerations") {
		t.Errorf("<br> not turned into a space: %q", got)
	}
	if res.Records[0].Extra["published"] != "2020-01-01" {
		t.Errorf("published from <time datetime> = %q", res.Records[0].Extra["published"])
	}
}

func TestRequiredDropWarnsWithPageAndPosition(t *testing.T) {
	s := mustSeed(t, `
id: req
start_urls: ["https://example.org/list"]
items: "li"
fields:
  title: {select: "a", required: true}
  url:   {select: "a", attr: href, type: url}
`)
	page := `<ul><li><a href="/a">A</a></li><li><span>no link</span></li><li><a href="/c">C</a></li></ul>`
	res, err := Parse(s, "https://example.org/list?page=3", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	if res.Facts.Items != 3 || len(res.Records) != 2 || res.Dropped != 1 {
		t.Fatalf("items %d records %d dropped %d", res.Facts.Items, len(res.Records), res.Dropped)
	}
	if len(res.Warnings) != 1 {
		t.Fatalf("warnings: %v", res.Warnings)
	}
	w := res.Warnings[0]
	if w.Page != "https://example.org/list?page=3" || w.Item != 2 || w.Field != "title" {
		t.Errorf("warning = %+v", w)
	}
	if s := w.String(); !strings.Contains(s, "list?page=3 item 2 field title") {
		t.Errorf("warning text %q does not name page, position and field", s)
	}
	if res.Records[1].Title != "C" || res.Records[1].URL != "https://example.org/c" {
		t.Errorf("the rest of the page must stand: %+v", res.Records[1])
	}
}

func TestFieldRules(t *testing.T) {
	const base = `
id: rules
start_urls: ["https://example.org/list"]
items: "div.item"
fields:
  title: {select: "h3"}
`
	cases := []struct {
		name, rule, item, want string
	}{
		{"regex first group", `{select: ".ref", regex: 'No\. (\d+)-(\d+)'}`, `<p class="ref">Case No. 2024-17</p>`, "2024"},
		{"regex named group v", `{select: ".ref", regex: '(\d+)-(?P<v>\d+)'}`, `<p class="ref">Case No. 2024-17</p>`, "17"},
		{"regex whole match", `{select: ".ref", regex: '\d+-\d+'}`, `<p class="ref">Case No. 2024-17</p>`, "2024-17"},
		{"regex no match is no value", `{select: ".ref", regex: 'X(\d+)'}`, `<p class="ref">Case No. 2024-17</p>`, ""},
		{"regex no match then default", `{select: ".ref", regex: 'X(\d+)', default: "n/a"}`, `<p class="ref">Case</p>`, "n/a"},
		{"template", `{value: "Opinion {docket}"}`, `<p class="d">2024-17</p>`, "Opinion 2024-17"},
		{"template with missing field", `{value: "Opinion {nothing}"}`, `<p class="d">2024-17</p>`, ""},
		{"constant", `{value: "Supreme Court"}`, ``, "Supreme Court"},
		{"constant url", `{value: "/about", type: url}`, ``, "https://example.org/about"},
		{"attr trimmed", `{select: "a.x", attr: title}`, `<a class="x" title="  spaced
		 out ">x</a>`, "spaced out"},
		{"attr on a descendant", `{select: "h3", attr: href}`, ``, "/t"},
		{"url repaired", `{select: "a.x", attr: href, type: url}`, `<a class="x" href=" docs\report 1.pdf ">x</a>`, "https://example.org/docs/report%201.pdf"},
		{"url from text", `{select: "code", type: url}`, `<code>https://Example.ORG:443/x#frag</code>`, "https://example.org/x"},
		{"int with thousands", `{select: ".n", type: int}`, `<span class="n">Downloads: 12,345 so far</span>`, "12345"},
		{"year in text", `{select: ".n", type: year}`, `<span class="n">No. 12345, printed 1998/99</span>`, "1998"},
		{"date in text", `{select: ".n", type: date}`, `<span class="n">Posted Sept. 12, 2023 by staff</span>`, "2023-09-12"},
		{"split single keeps first", `{select: ".n", split: ";"}`, `<span class="n"> a ; b</span>`, "a"},
		{"split list", `{select: ".n", split: ";", list: true}`, `<span class="n"> a ; b;;a</span>`, "a; b"},
		{"list of every match", `{select: "li", list: true}`, `<ul><li>x</li><li>y</li></ul>`, "x; y"},
		{"single takes first match", `{select: "li"}`, `<ul><li>x</li><li>y</li></ul>`, "x"},
		{"inline elements add no space", `{regex: 'ID:(\w+)'}`, `<span>ID:</span><span>abc</span>`, "abc"},
		{"item text", `{regex: 'ID: (\w+)'}`, `<p>ID:</p><p>abc</p>`, "abc"},
		{"label with select scope", `{select: ".b", label: Year}`, `<div class="a"><dt>Year</dt><dd>1</dd></div><div class="b"><dt>Year</dt><dd>2</dd></div>`, "2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustSeed(t, base+"  docket: {select: \".d\"}\n  f: "+c.rule+"\n")
			page := `<div class="item"><h3><a href="/t">T</a></h3>` + c.item + `</div>`
			res, err := Parse(s, "https://example.org/list", []byte(page))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Records) != 1 {
				t.Fatalf("records: %d", len(res.Records))
			}
			if got := res.Records[0].Extra["f"]; got != c.want {
				t.Errorf("f = %q, want %q", got, c.want)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	page := []byte(`<div class="item"><h3>Report</h3><span class="y">2019</span><span class="id"> A-1 </span></div>
<div class="item"><h3><a href="/r2">Other</a></h3></div>`)
	for _, c := range []struct{ key, want0 string }{
		{"url", "h:"},
		{"id", "A-1"},
		{"title", "Report"},
	} {
		s := mustSeed(t, `
id: keys
start_urls: ["https://example.org/"]
items: "div.item"
key: `+c.key+`
fields:
  title: {select: "h3"}
  url:   {select: "a", attr: href, type: url}
  year:  {select: ".y"}
  id:    {select: ".id"}
`)
		res, err := Parse(s, "https://example.org/", page)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Records[0].Key; !strings.HasPrefix(got, c.want0) {
			t.Errorf("key %s: first record key %q, want %q...", c.key, got, c.want0)
		}
		if c.key == "url" && res.Records[1].Key != "https://example.org/r2" {
			t.Errorf("key url: %q", res.Records[1].Key)
		}
		if c.key == "id" && !strings.HasPrefix(res.Records[1].Key, "h:") {
			t.Errorf("key id without a value falls back to title+year hash, got %q", res.Records[1].Key)
		}
	}
}

func TestCompileErrorsNameSeedAndField(t *testing.T) {
	s := &seeds.Seed{ID: "bad", Items: seeds.Items{Selector: "div"}, Fields: seeds.Fields{
		{Name: "title", Rule: seeds.Rule{Select: "h3"}},
		{Name: "year", Rule: seeds.Rule{Select: "p[", Type: "year"}},
	}}
	_, err := Compile(s)
	if err == nil || !strings.Contains(err.Error(), "seed bad") || !strings.Contains(err.Error(), "fields.year.select") {
		t.Errorf("err = %v", err)
	}
	s.Fields[1].Rule = seeds.Rule{Regex: "(", Select: "p"}
	if _, err := Parse(s, "https://x.org/", nil); err == nil || !strings.Contains(err.Error(), "fields.year.regex") {
		t.Errorf("err = %v", err)
	}
}

func TestPageFieldsFillOnlyMissing(t *testing.T) {
	s := mustSeed(t, `
id: pagefields
start_urls: ["https://example.org/"]
items: "li"
page:
  categories: {select: "h1"}
  language: {value: "en"}
  publisher: {select: "footer .org"}
fields:
  title: {select: "b"}
  categories: {select: "i", list: true}
  language: {select: "[lang]", attr: lang}
`)
	page := `<h1>Reports</h1><ul><li><b>One</b><i>Own</i></li><li lang="fr"><b>Two</b><span lang="fr">Deux</span></li></ul><footer><span class="org">ACME</span></footer>`
	res, err := Parse(s, "https://example.org/", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	a, b := res.Records[0], res.Records[1]
	if !slices.Equal(a.Categories, []string{"Own"}) || !slices.Equal(b.Categories, []string{"Reports"}) {
		t.Errorf("categories %q / %q", a.Categories, b.Categories)
	}
	if a.Language != "en" || b.Language != "fr" {
		t.Errorf("language %q / %q", a.Language, b.Language)
	}
	if a.Extra["publisher"] != "ACME" || b.Extra["publisher"] != "ACME" {
		t.Errorf("page-only extra: %v / %v", a.Extra, b.Extra)
	}
}

func TestParseDetail(t *testing.T) {
	s := mustSeed(t, `
id: detail
start_urls: ["https://example.org/"]
items: "li"
fields:
  title: {select: "a"}
detail:
  fields:
    publisher: {label: "Publisher"}
    pdf:       {select: "a.pdf", attr: href, type: url}
    subjects:  {label: "Subjects", list: true}
    isbn:      {label: "ISBN", required: true}
    published: {select: "time", type: date}
`)
	page := `<html><body><h1>Report</h1><dl><dt>Publisher</dt><dd>IOM</dd><dt>Subjects</dt><dd>A</dd><dd>B</dd></dl>
<a class="pdf" href="files/r.pdf">PDF</a><p>Released <time datetime="2021-06-30">June 30</time></p></body></html>`
	got, warns, err := ParseDetail(s, "https://example.org/pubs/r1", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"publisher": "IOM", "pdf": "https://example.org/pubs/files/r.pdf", "subjects": "A; B", "published": "2021-06-30"}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(warns) != 1 || warns[0].Field != "isbn" || warns[0].Page != "https://example.org/pubs/r1" {
		t.Errorf("warnings: %v", warns)
	}
}

// A <base href> anywhere in the page (here in the body, after the items
// and the pager) is what relative item, detail and next links resolve
// against, in item-selector mode and in flat mode alike.
func TestBaseHrefResolvesLinks(t *testing.T) {
	page := []byte(`<html><body>
<div class="row"><h3><a href="doc/1">One</a></h3></div>
<div class="row"><h3><a href="doc/2">Two</a></h3></div>
<a rel="next" href="?page=2">Next</a>
<base href="https://mirror.example.org/lib/">
<base href="https://wrong.example.org/">
</body></html>`)
	for _, items := range []string{`items: "div.row"`, `items: {start: "div.row"}`} {
		s := mustSeed(t, `id: base-test
start_urls: ["https://example.org/list"]
`+items+`
fields:
  title: {select: "h3 a"}
  url: {select: "h3 a", attr: href, type: url}
detail:
  link: "h3 a"
  fields: {title: {select: "h1"}}
`)
		res, err := Parse(s, "https://example.org/list", page)
		if err != nil {
			t.Fatal(err)
		}
		var urls []string
		for _, r := range res.Records {
			urls = append(urls, r.URL)
		}
		want := []string{"https://mirror.example.org/lib/doc/1", "https://mirror.example.org/lib/doc/2"}
		if !slices.Equal(urls, want) || !slices.Equal(res.DetailURLs, want) {
			t.Errorf("%s: urls %q, detail %q, want %q", items, urls, res.DetailURLs, want)
		}
		if want := []string{"https://mirror.example.org/lib/?page=2"}; !slices.Equal(res.Next, want) {
			t.Errorf("%s: next %q, want %q", items, res.Next, want)
		}
	}
}
