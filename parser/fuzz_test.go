package parser

import (
	"maps"
	"net/url"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzParse runs the testdata seeds over arbitrary pages: Parse never
// panics, every string it returns is valid UTF-8, and its counts add up.
// Each input picks one seed (which), so one execution stays cheap and the
// fuzzer can minimise the large page inputs (for long runs, add
// -fuzzminimizetime 1x: minimising a 30 KB page otherwise stalls the run).
func FuzzParse(f *testing.F) {
	names := goldenCases(f)
	var rules []*Rules
	for i, name := range names {
		s, pageURL, page := loadCase(f, name)
		r, err := Compile(s)
		if err != nil {
			f.Fatal(err)
		}
		rules = append(rules, r)
		f.Add(page, pageURL, uint8(i))
	}
	for i := range rules {
		f.Add([]byte("<div class=views-row><h3><a href='\xff\xfe'>\xc3(</a></h3><div class=field__label>Country</div>\xe2\x82</div>"), "https://example.org/\xff", uint8(i))
		f.Add([]byte("<article class=record><h2><a href=x>T</a></h2><dl><dt>Identifier<dd>hdl:1/2<dt>Authors:</dt></dl><strong>Authors:</strong>"), "", uint8(i))
		f.Add([]byte("<h3>a</h3><h2>1999</h2><h3>b</h3><dl><dt>Year<dd>2019</dl><table class=opinion><tr><th>Docket No.<td>2020-1"), "::bad url", uint8(i))
	}
	f.Fuzz(func(t *testing.T, page []byte, pageURL string, which uint8) {
		for _, r := range []*Rules{rules[int(which)%len(rules)]} {
			res, err := r.Parse(pageURL, page)
			if err != nil {
				t.Fatalf("seed %s: %v", r.seed.ID, err)
			}
			checkResult(t, res)
			vals, warns, err := r.ParseDetail(pageURL, page)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range vals {
				valid(t, "detail "+k, v)
			}
			for _, w := range warns {
				valid(t, "detail warning", w.String())
			}
		}
	})
}

func checkResult(t *testing.T, res *Result) {
	t.Helper()
	if res.Facts.Items != len(res.Records)+res.Dropped {
		t.Errorf("items %d != records %d + dropped %d", res.Facts.Items, len(res.Records), res.Dropped)
	}
	for _, r := range res.Records {
		for _, s := range []string{r.Source, r.Key, r.URL, r.Title, r.Summary, r.Language} {
			valid(t, "record", s)
		}
		for _, l := range [][]string{r.Countries, r.Regions, r.Authors, r.Categories} {
			for _, s := range l {
				valid(t, "record list", s)
			}
		}
		for k, v := range r.Extra {
			valid(t, "extra key", k)
			valid(t, "extra "+k, v)
		}
		if r.Key == "" {
			t.Errorf("record without a key: %+v", r)
		}
		if n := r; true {
			n.Extra = maps.Clone(r.Extra)
			n.Normalize()
			if !reflect.DeepEqual(n, r) {
				t.Errorf("record is not as record.Normalize leaves it:\n got %#v\nwant %#v", r, n)
			}
		}
		if r.URL != "" {
			if u, err := url.Parse(r.URL); err != nil || !u.IsAbs() {
				t.Errorf("record URL %q is not absolute", r.URL)
			}
		}
	}
	for _, n := range res.Next {
		valid(t, "next", n)
		if u, err := url.Parse(n); err != nil || !u.IsAbs() {
			t.Errorf("next link %q is not absolute", n)
		}
	}
	for _, w := range res.Warnings {
		valid(t, "warning", w.String())
	}
}

func valid(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("%s: invalid UTF-8 %q", what, s)
	}
}
