package parser

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/harvest-dev/harvest/record"
)

// parseWith parses page with an inline seed at https://example.org/list.
func parseWith(t *testing.T, seed, page string) *Result {
	t.Helper()
	res, err := Parse(mustSeed(t, seed), "https://example.org/list", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func titles(rs []record.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Title)
	}
	return out
}

// A TablePress-style table: header cells name the fields; the header row
// is not an item; colspan shifts later columns; a rule still gives
// select/attr/type/regex for its column; a column-only field is read as
// text.
func TestColumnsFromThead(t *testing.T) {
	const seed = `
id: cols
start_urls: ["https://example.org/list"]
items: "table.tablepress tr"
columns:
  "Title": [title, url]
  "Year:": year
  "Authors": authors
  "Published": date
  "Pages": pages
fields:
  url:     {select: "a", attr: href, type: url}
  authors: {split: ";", list: true}
  date:    {type: date}
  pages:   {regex: '(\d+) pp'}
`
	page := `<table class="tablepress" id="tablepress-3">
<thead><tr class="row-1"><th class="column-1">Title</th><th class="column-2" colspan="2">Authors</th><th>YEAR</th><th>Published</th><th>Pages</th></tr></thead>
<tbody class="row-hover">
<tr class="row-2"><td class="column-1"><a href="/r/one.pdf">Remittances and <em>rural</em> credit</a></td><td>Ana Ruiz; Li Wei</td><td>extra</td><td>2021</td><td>12 March 2021</td><td>34 pp.</td></tr>
<tr class="row-3"><td class="column-1"><a href="/r/two">Border data</a></td><td colspan="2">Sam Okafor</td><td>2019</td><td>2019-07-01</td><td>-</td></tr>
<tr class="row-4"><td>Short row</td></tr>
</tbody></table>`
	res := parseWith(t, seed, page)
	if res.Facts.Items != 3 || len(res.Records) != 3 {
		t.Fatalf("items %d, records %d; want the 3 body rows (header row is not an item)", res.Facts.Items, len(res.Records))
	}
	r := res.Records[0]
	if r.Title != "Remittances and rural credit" || r.URL != "https://example.org/r/one.pdf" {
		t.Errorf("row 1 title %q url %q", r.Title, r.URL)
	}
	if !slices.Equal(r.Authors, []string{"Ana Ruiz", "Li Wei"}) || r.Year != 2021 {
		t.Errorf("row 1 authors %q year %d (colspan=2 header must shift YEAR to the 4th cell)", r.Authors, r.Year)
	}
	if r.Extra["date"] != "2021-03-12" || r.Extra["pages"] != "34" {
		t.Errorf("row 1 extra %v", r.Extra)
	}
	r = res.Records[1]
	if r.Year != 2019 || !slices.Equal(r.Authors, []string{"Sam Okafor"}) || r.Extra["pages"] != "" {
		t.Errorf("row 2 (colspan cell) year %d authors %q extra %v", r.Year, r.Authors, r.Extra)
	}
	if r := res.Records[2]; r.Title != "Short row" || r.Year != 0 {
		t.Errorf("short row: title %q year %d", r.Title, r.Year)
	}
}

// Without <thead>, the header is the first row of <th> cells (or the
// first row); a column the table does not have gives no value.
func TestColumnsFromFirstRow(t *testing.T) {
	const seed = `
id: cols
start_urls: ["https://example.org/list"]
items: "table tr"
columns: {"Caption": title, "Date": date, "Missing column": docket}
fields:
  date: {type: date}
`
	page := `<table border="1"><tr><td colspan="3">Slip opinions 2014</td></tr>
<tr><th>Number</th><th>Caption</th><th>Date</th></tr>
<tr><td>14-90</td><td>JBF Rak LLC v. United States</td><td>07/30/2014</td></tr></table>
<table><tr><td>Caption</td><td>Date</td></tr><tr><td>Second table</td><td>1 May 2020</td></tr></table>`
	res := parseWith(t, seed, page)
	got := titles(res.Records)
	// The first table's title row spans every column, so its one cell is
	// also the Caption cell (a seed skips such rows with items: "tr:has(td
	// + td)").
	want := []string{"Slip opinions 2014", "JBF Rak LLC v. United States", "Second table"}
	if !slices.Equal(got, want) {
		t.Fatalf("titles %q, want %q", got, want)
	}
	if d := res.Records[1].Extra["date"]; d != "2014-07-30" {
		t.Errorf("date %q", d)
	}
	if d := res.Records[2].Extra["date"]; d != "2020-05-01" {
		t.Errorf("second table (header in its first <td> row) date %q", d)
	}
	if _, ok := res.Records[1].Extra["docket"]; ok {
		t.Errorf("a column missing from the table gave a value: %v", res.Records[1].Extra)
	}
}

// split: br cuts at <br> and block boundaries, never at newlines of the
// source; a single-valued rule keeps the first line.
func TestSplitLines(t *testing.T) {
	const seed = `
id: br
start_urls: ["https://example.org/list"]
items: "div.item"
fields:
  title:    {select: "td", split: br}
  authors:  {select: "div.by", split: "<br>", list: true}
  district: {select: "td", split: br, list: true, regex: 'Court of (.+)'}
`
	page := `<div class="item"><table><tr><td>Bonni Berkowitz v. Invaleon
	Technologies Corporation<br><span>Bankruptcy Court of MA -
	Boston</span></td></tr></table>
<div class="by">Ana Ruiz<br/>Li Wei<br><br><div>Sam Okafor</div></div></div>`
	res := parseWith(t, seed, page)
	if len(res.Records) != 1 {
		t.Fatalf("%d records", len(res.Records))
	}
	r := res.Records[0]
	if r.Title != "Bonni Berkowitz v. Invaleon Technologies Corporation" {
		t.Errorf("title %q: want the whole first line, source newlines are spaces", r.Title)
	}
	if !slices.Equal(r.Authors, []string{"Ana Ruiz", "Li Wei", "Sam Okafor"}) {
		t.Errorf("authors %q", r.Authors)
	}
	if r.Extra["district"] != "MA - Boston" {
		t.Errorf("district %q", r.Extra["district"])
	}
}

// split: br also cuts labelled values.
func TestSplitLinesAfterLabel(t *testing.T) {
	const seed = `
id: br
start_urls: ["https://example.org/list"]
items: "div.item"
fields:
  title:   {select: "h3"}
  authors: {label: "Authors", list: true, split: br}
`
	page := `<div class="item"><h3>Report</h3><dl><dt>Authors</dt><dd>Ana Ruiz<br>Li Wei</dd></dl></div>`
	res := parseWith(t, seed, page)
	if got := res.Records[0].Authors; !slices.Equal(got, []string{"Ana Ruiz", "Li Wei"}) {
		t.Errorf("authors %q", got)
	}
}

// replace rewrites the normalised text, in order, before regex and type.
func TestReplace(t *testing.T) {
	const seed = `
id: rp
start_urls: ["https://example.org/list"]
items: "li"
fields:
  title:
    select: "a"
    replace:
      - {pattern: '\s+et al\.,?', with: ''}
      - {pattern: ',?\s+vs?\.\s+', with: ' v. '}
      - {pattern: '\s*\((?:PDF|pdf)[^)]*\)$', with: ''}
  year: {select: "span", replace: {pattern: '(\d{2})/(\d{4})', with: '$2'}, type: year}
  url:  {select: "a", attr: href, type: url, replace: {pattern: '^http:', with: 'https:'}}
`
	page := `<ul><li><a href="http://example.org/a.pdf">Roth, et al., vs. Meyer  (PDF, 2 MB)</a><span>03/1999</span></li></ul>`
	r := parseWith(t, seed, page).Records[0]
	if r.Title != "Roth v. Meyer" || r.Year != 1999 || r.URL != "https://example.org/a.pdf" {
		t.Errorf("title %q year %d url %q", r.Title, r.Year, r.URL)
	}
}

// detail.link gives Result.DetailURLs, parallel to Records.
func TestDetailURLs(t *testing.T) {
	const seed = `
id: dl
start_urls: ["https://example.org/list"]
items: "div.row"
fields:
  title: {select: "h3", required: true}
  url:   {select: "a.pdf", attr: href, type: url}
detail:
  link: ".more"
  fields: {publisher: {label: "Publisher"}}
`
	page := `<div class="row"><h3>A</h3><a class="pdf" href="/a.pdf">PDF</a><a class="more" href="/items/a">More</a></div>
<div class="row"><a class="more" href="/items/dropped">More</a></div>
<div class="row"><h3>B</h3><a class="pdf" href="/b.pdf">PDF</a></div>
<div class="row"><h3>C</h3><span class="more"><a href="../items/c">More</a></span></div>`
	res := parseWith(t, seed, page)
	want := []string{"https://example.org/items/a", "", "https://example.org/items/c"}
	if len(res.Records) != 3 || !slices.Equal(res.DetailURLs, want) {
		t.Fatalf("records %d, DetailURLs %q, want %q", len(res.Records), res.DetailURLs, want)
	}
	res = parseWith(t, strings.Replace(seed, `link: ".more"`, `link: ""`, 1), page)
	if res.DetailURLs != nil {
		t.Errorf("without detail.link DetailURLs = %q, want nil", res.DetailURLs)
	}
}

// A real page that writes its list with scripts (the Court of Federal
// Claims' special masters' decisions: a JavaScript array written with
// innerHTML into an empty <div>) is reported as such, and a page that
// merely has scripts and no results is not.
func TestScriptWrittenList(t *testing.T) {
	const seed = `
id: js
start_urls: ["https://example.org/list"]
items: "[id='#data'] > a"
fields:
  title: {}
`
	page, err := os.ReadFile("../testdata/juriscraper/uscfc_vaccine.html")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Parse(mustSeed(t, seed), "https://ecf.cofc.uscourts.gov/cgi-bin/CFC_RecentDecisionsOfTheSpecialMasters.pl", page)
	if err != nil {
		t.Fatal(err)
	}
	if res.Facts.Items != 0 || !res.Facts.ScriptList {
		t.Fatalf("items %d ScriptList %v, want 0 and true", res.Facts.Items, res.Facts.ScriptList)
	}
	if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[len(res.Warnings)-1].Msg, "build its list with scripts") {
		t.Errorf("warnings %v", res.Warnings)
	}
	cases := []struct {
		name, page string
		want       bool
	}{
		{"vue-style mount filled by a script", `<ul id="pubs"></ul><script>const data=[{"t":"A"}];
			const el=document.querySelector("#pubs"); data.forEach(d => el.appendChild(row(d)));</script>`, true},
		{"jquery template", `<table><tbody id="results-body"></tbody></table><script>$(function(){ $('#results-body').html(tpl(window.items)); });</script>`, true},
		{"script writes elsewhere, list empty on the server", `<div id="clock"></div><p>No results.</p><script>document.getElementById('other').innerHTML = 'x'</script>`, false},
		{"empty element nobody writes", `<div id="results"></div><script>console.log("results")</script>`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := parseWith(t, seed, c.page)
			if res.Facts.ScriptList != c.want {
				t.Errorf("ScriptList = %v, want %v", res.Facts.ScriptList, c.want)
			}
		})
	}
}
