package parser

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestLabelShapes(t *testing.T) {
	cases := []struct {
		name   string
		labels []string
		list   bool
		html   string
		want   []string
	}{
		{"drupal label and items", []string{"Country"}, true,
			`<div class="field"><div class="field__label">Country</div><div class="field__item"><a>Mexico</a></div><div class="field__item">Chile</div></div>`,
			[]string{"Mexico", "Chile"}},
		{"drupal field__items wrapper", []string{"Region"}, true,
			`<div class="field__label">Region</div><div class="field__items"><div class="field__item">Central</div><div class="field__item">North America</div></div>`,
			[]string{"Central", "North America"}},
		{"drupal stops at next field__label", []string{"Country"}, true,
			`<div class="field__label">Country</div><div class="field__item">Mexico</div><div class="field__label">Region</div><div class="field__item">Central</div>`,
			[]string{"Mexico"}},
		{"empty drupal field takes nothing from the next field", []string{"Category"}, true,
			`<div class="f"><div class="field"><div class="field__label">Category</div></div></div><div class="f"><a href="x.pdf">Download</a></div>`,
			nil},
		{"views-label span and field-content", []string{"Country"}, false,
			`<div class="views-field"><span class="views-label views-label-field-country">Country: </span><div class="field-content">Mexico</div></div>`,
			[]string{"Mexico"}},
		{"dt and dds", []string{"Authors"}, true,
			`<dl><dt>Authors</dt><dd>A</dd><dd>B</dd><dt>Year</dt><dd>2019</dd></dl>`,
			[]string{"A", "B"}},
		{"dd holding a ul", []string{"Subjects"}, true,
			`<dl><dt>Subjects:</dt><dd><ul><li>x</li><li>y</li></ul></dd></dl>`,
			[]string{"x", "y"}},
		{"single value of a ul is the whole", []string{"Subjects"}, false,
			`<dl><dt>Subjects</dt><dd><ul><li>x</li><li>y</li></ul></dd></dl>`,
			[]string{"x y"}},
		{"th and td", []string{"Year"}, false,
			`<table><tr><th>Year</th><td>2019</td></tr><tr><th>Pages</th><td>12</td></tr></table>`,
			[]string{"2019"}},
		{"strong inside th", []string{"Authoring Judge"}, false,
			`<table><tr><th><strong>Authoring Judge:</strong></th><td>Sharon Lee</td></tr></table>`,
			[]string{"Sharon Lee"}},
		{"strong then rest of line", []string{"Authors"}, false,
			`<p><strong>Authors:</strong> A, B<br><strong>Year:</strong> 2019</p>`,
			[]string{"A, B"}},
		{"plain text line", []string{"Authoring Judge"}, false,
			`<p>Docket: 12<br>Authoring Judge: Sharon Lee<br>Decided: 2020</p>`,
			[]string{"Sharon Lee"}},
		{"plain text label, case and colon", []string{"year"}, false,
			`<p>YEAR : 2019</p>`,
			[]string{"2019"}},
		{"inline links as list", []string{"Countries"}, true,
			`<p><b>Countries:</b> <a>Kenya</a>, <a>Uganda</a> and <a>Chad</a><br>next</p>`,
			[]string{"Kenya", "Uganda", "Chad"}},
		{"label div then value divs", []string{"Country"}, true,
			`<div class="row"><div>Country</div><div>Mexico</div><div>Peru</div><div>Year</div><div>2019</div></div>`,
			[]string{"Mexico", "Peru"}},
		{"synonyms", []string{"Country", "País", "Pays"}, false,
			`<dl><dt>País</dt><dd>México</dd></dl>`,
			[]string{"México"}},
		{"label with nothing after", []string{"Category"}, true,
			`<p><strong>Category:</strong></p>`,
			nil},
		{"label text must be whole", []string{"Year"}, false,
			`<p>Yearly report</p><p>Years: 3</p>`,
			nil},
		{"no label", []string{"Publisher"}, false,
			`<p>Nothing here</p>`,
			nil},
		{"a label alone beats an earlier Label: line", []string{"Country"}, false,
			`<p>Country: a word at the start of a summary</p><dl><dt>Country</dt><dd>Mexico</dd></dl>`,
			[]string{"Mexico"}},
		{"label in hidden text ignored", []string{"Year"}, false,
			`<div hidden><dt>Year</dt><dd>1999</dd></div><dl><dt>Year</dt><dd>2019</dd></dl>`,
			[]string{"2019"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fr := &fieldRule{isList: c.list, labelIn: &labelLexicon{keys: map[string]bool{}}}
			for _, l := range c.labels {
				fr.labels = append(fr.labels, labelKey(l))
			}
			for _, l := range []string{"Country", "Region", "Year", "Authors", "Pages", "Category"} {
				fr.labelIn.keys[labelKey(l)] = true
			}
			// The label index looks for every label of the lexicon;
			// Compile puts the rule's own labels in it.
			fr.labelIn.list = append(slices.Sorted(maps.Keys(fr.labelIn.keys)), fr.labels...)
			for _, l := range fr.labelIn.list {
				fr.labelIn.longest = max(fr.labelIn.longest, len(l))
			}
			body := parseBody(t, c.html)
			var got []string
			for _, p := range fr.labelValues(new(scratch), nodesOf(body)) {
				got = append(got, p.text())
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}
