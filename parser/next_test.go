package parser

import (
	"slices"
	"testing"
)

func TestNextLinks(t *testing.T) {
	const head = `
id: nx
start_urls: ["https://example.org/list"]
items: "li"
fields:
  title: {select: "a"}
`
	cases := []struct {
		name, pagination, page string
		want                   []string
		scriptPager            bool
	}{
		{"selector", "pagination: {next: \"li.next a\"}",
			`<ul class="pager"><li class="next"><a href="?page=2">›</a></li></ul>`,
			[]string{"https://example.org/list?page=2"}, false},
		{"selector on a wrapper uses its link", "pagination: {next: \"li.next\"}",
			`<ul class="pager"><li class="next"><a href="/list/2#top">›</a></li></ul>`,
			[]string{"https://example.org/list/2"}, false},
		{"next text, case-insensitive", "pagination: {next_text: [\"Next\", \"Siguiente\"]}",
			`<a href="/p/0">Previous</a><a href="/p/2"> SIGUIENTE </a>`,
			[]string{"https://example.org/p/2"}, false},
		{"next text with arrows around it", "pagination: {next_text: [\"Next\", \"»\"]}",
			`<a href="/p/1">« Previous</a> <a href="/p/9">Next steps for migrants</a> <a href="/p/2">Next ›</a> <a href="/p/3">»</a>`,
			[]string{"https://example.org/p/2", "https://example.org/p/3"}, false},
		{"rel next without pagination rules", "",
			`<head><link rel="next" href="/list?p=2"></head><a rel="nofollow next" href="/list?p=2">more</a>`,
			[]string{"https://example.org/list?p=2"}, false},
		{"rel next ignored for param pagination", "pagination: {param: page}",
			`<a rel="next" href="/list?p=2">more</a>`,
			nil, false},
		{"self link dropped", "pagination: {next: \"a.next\"}",
			`<a class="next" href="#">Next</a>`,
			nil, false},
		{"postback pager", "pagination: {next_text: [Next]}",
			`<a href="javascript:__doPostBack('Pager','Page$2')">Next</a>`,
			nil, true},
		{"onclick pager", "pagination: {next: \"a.next\"}",
			`<a class="next" href="#" onclick="load(2); return false">Next</a>`,
			nil, true},
		{"script link beside a real one is not a script pager", "pagination: {next_text: [Next]}",
			`<a href="javascript:void(0)">Next</a><a href="/list?page=2">Next</a>`,
			[]string{"https://example.org/list?page=2"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustSeed(t, head+c.pagination+"\n")
			res, err := Parse(s, "https://example.org/list", []byte(c.page))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Next, c.want) {
				t.Errorf("Next = %q, want %q", res.Next, c.want)
			}
			if res.Facts.ScriptPager != c.scriptPager {
				t.Errorf("ScriptPager = %v, want %v", res.Facts.ScriptPager, c.scriptPager)
			}
			if c.scriptPager && (len(res.Warnings) != 1 || res.Warnings[0].Page != "https://example.org/list") {
				t.Errorf("a script pager needs a warning naming the page: %v", res.Warnings)
			}
		})
	}
}

func TestPageTotal(t *testing.T) {
	cases := []struct {
		text string
		want int
	}{
		{"Showing 1-20 of 345", 345},
		{"showing 21 – 40 of 1,345 items", 1345},
		{"1 - 20 of 345 results", 345},
		{"Displaying 1 - 10 of 47", 47},
		{"Showing 1 to 10 of 57 entries", 57},
		{"Mostrando 1 - 20 de 345", 345},
		{"Mostrando 1 a 20 de 345 resultados", 345},
		{"Affichage de 1 à 20 sur 345 résultats", 345},
		{"345 results", 345},
		{"Your search returned 1.204 resultados", 1204},
		{"Page 1 of 18", 0},
		{"20 results per page", 0},
		{"Copyright 2010-2024 of the authors", 0},
		{"IOM produced 345 publications in 2020", 0},
		{"Showing 30-20 of 10", 0},
		{"", 0},
	}
	for _, c := range cases {
		if got := pageTotal(c.text); got != c.want {
			t.Errorf("pageTotal(%q) = %d, want %d", c.text, got, c.want)
		}
	}
}

func TestScriptList(t *testing.T) {
	const seed = `
id: sl
start_urls: ["https://example.org/"]
items: "div.views-row"
fields:
  title: {select: "h3"}
`
	cases := []struct {
		name, page string
		want       bool
	}{
		{"fetching script", `<div id="results"></div><script>fetch("/api/items").then(r => r.json()).then(render)</script>`, true},
		{"noscript asks for JavaScript", `<noscript>Please enable JavaScript to view this page.</noscript><div class="list"></div>`, true},
		{"empty app root", `<div id="root"></div><script src="/app.js"></script>`, true},
		{"plain empty page", `<p>No publications match your filters.</p><script>var a = 1;</script>`, false},
		{"items present", `<div class="views-row"><h3>A</h3></div><script>fetch("/x")</script>`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Parse(mustSeed(t, seed), "https://example.org/", []byte(c.page))
			if err != nil {
				t.Fatal(err)
			}
			if res.Facts.ScriptList != c.want {
				t.Errorf("ScriptList = %v, want %v", res.Facts.ScriptList, c.want)
			}
		})
	}
}
