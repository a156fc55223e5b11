package record

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"  a \n\t b  ", "a b"},
		{"Judge of\u00a0the\u2003Court", "Judge of the Court"},
		{"zero\u200bwidth", "zero width"},
		{"Cafe\u0301", "Café"}, // NFD -> NFC
		{"bad \xff byte", "bad \ufffd byte"},
		{"ctl\x01char", "ctlchar"},
		{"", ""},
	} {
		got := Text(c.in)
		if got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
		if !utf8.ValidString(got) || Text(got) != got {
			t.Errorf("Text(%q) = %q is not valid or not idempotent", c.in, got)
		}
	}
}

func TestListKeepsOrderDropsEmptiesAndDuplicates(t *testing.T) {
	got := List([]string{" Mexico", "", "Peru ", "Mexico", "México", "Me\u0301xico", "  "})
	if strings.Join(got, "|") != "Mexico|Peru|México" {
		t.Errorf("List = %q, want Mexico, Peru, México (NFC duplicates dropped)", got)
	}
	if List(nil) != nil || List([]string{"", " "}) != nil {
		t.Error("List of nothing must be nil")
	}
}

func TestCanonicalURL(t *testing.T) {
	base, _ := url.Parse("https://Example.ORG:443/resources/list?page=2")
	for _, c := range []struct{ ref, want string }{
		{"/en/pub/a#top", "https://example.org/en/pub/a"},
		{"../docs/My Report.pdf", "https://example.org/docs/My%20Report.pdf"},
		{"\\files\\a.pdf", "https://example.org/files/a.pdf"},
		{"?page=3&utm_source=x", "https://example.org/resources/list?page=3"},
		{"HTTP://Other.example:80", "http://other.example/"},
		{"javascript:void(0)", ""},
		{"mailto:a@b.c", ""},
		{"", ""},
	} {
		if got := CanonicalURL(base, c.ref); got != c.want {
			t.Errorf("CanonicalURL(%q) = %q, want %q", c.ref, got, c.want)
		}
	}
}

func sample() Record {
	return Record{Source: "s", Key: "k", URL: "https://x/a", Title: "T", Summary: "S",
		Countries: []string{"Mexico", "Peru"}, Year: 2020, Extra: map[string]string{"pdf": "https://x/a.pdf"}}
}

func TestHashSeesEveryContentFieldAndOnlyThose(t *testing.T) {
	base := sample()
	h := base.Hash(nil)
	if h != base.Hash(nil) || len(h) != 64 {
		t.Fatalf("hash not stable: %s", h)
	}
	edits := map[string]func(r *Record){
		"title":       func(r *Record) { r.Title = "T2" },
		"countries":   func(r *Record) { r.Countries = []string{"Mexico"} },
		"list split":  func(r *Record) { r.Countries = []string{"Mexico; Peru"} },
		"year":        func(r *Record) { r.Year = 2021 },
		"extra":       func(r *Record) { r.Extra["pdf"] = "https://x/b.pdf" },
		"extra added": func(r *Record) { r.Extra["publisher"] = "IOM" },
	}
	for name, edit := range edits {
		r := sample()
		edit(&r)
		if r.Hash(nil) == h {
			t.Errorf("%s: edit does not change the hash", name)
		}
	}
	r := sample()
	r.LastSeen = r.LastSeen.AddDate(1, 0, 0)
	r.ContentHash = "x"
	if r.Hash(nil) != h {
		t.Error("bookkeeping fields changed the hash")
	}
	r = sample()
	r.Extra["pdf"] = "https://x/other.pdf"
	if r.Hash([]string{"extra.pdf"}) != base.Hash([]string{"pdf"}) {
		t.Error("an excluded extra still counts")
	}
}

func TestDiff(t *testing.T) {
	a, b := sample(), sample()
	b.Summary = "S2"
	b.Countries = []string{"Mexico", "Peru", "Honduras"}
	b.Extra = map[string]string{}
	got := Diff(&a, &b, nil)
	want := []FieldChange{
		{Field: "summary", Old: "S", New: "S2"},
		{Field: "countries", Old: "Mexico; Peru", New: "Mexico; Peru; Honduras"},
		{Field: "extra.pdf", Old: "https://x/a.pdf", New: ""},
	}
	if len(got) != len(want) {
		t.Fatalf("Diff = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Diff[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if d := Diff(&a, &b, []string{"summary", "countries", "pdf"}); len(d) != 0 {
		t.Errorf("excluded fields still diffed: %+v", d)
	}
}

func TestFallbackKey(t *testing.T) {
	k := FallbackKey("  Human  Trafficking ", 2008)
	if k != FallbackKey("human trafficking", 2008) || !strings.HasPrefix(k, "h:") {
		t.Errorf("fallback key not normalised: %s", k)
	}
	if k == FallbackKey("human trafficking", 2009) {
		t.Error("year ignored by fallback key")
	}
}

func BenchmarkHash(b *testing.B) {
	r := sample()
	r.Summary = strings.Repeat("summary text ", 50)
	b.ReportAllocs()
	for b.Loop() {
		r.Hash(nil)
	}
}

func TestSetIsGetsInverse(t *testing.T) {
	src := sample()
	src.Authors = []string{"María Dolores París Pombo", "Jesús Peña Muñoz"}
	var dst Record
	for _, f := range append(append([]string{}, Fields...), "extra.pdf") {
		dst.Set(f, src.Get(f))
	}
	dst.Source, dst.Key = src.Source, src.Key
	if dst.Hash(nil) != src.Hash(nil) {
		t.Errorf("Set(Get()) lost something: %+v vs %+v", dst, src)
	}
	dst.Set("pdf", "")
	if _, ok := dst.Extra["pdf"]; ok {
		t.Error("Set with an empty value did not clear the extra")
	}
}

// Text's fast path gives exactly what the rune-by-rune definition gives.
func TestTextMatchesDefinition(t *testing.T) {
	for _, s := range []string{"", " ", "a", " a ", "a  b", "a\tb\nc\r\n", "\x00a\x01b\x7f c", "Judge of\n the   Court ",
		"already normal text", "ünïcode  text", "a\u00a0b", "x\u200by", "e\u0301", "trailing ", "\v\f", "bad\xffbyte"} {
		if got, want := Text(s), textSlow(s); got != want {
			t.Errorf("Text(%q) = %q, textSlow = %q", s, got, want)
		}
	}
}

func FuzzText(f *testing.F) {
	f.Add("Judge of\n the   Court ")
	f.Add("e\u0301t\u00e9  \u200b")
	f.Fuzz(func(t *testing.T, s string) {
		got := Text(s)
		if want := textSlow(s); got != want {
			t.Errorf("Text(%q) = %q, textSlow = %q", s, got, want)
		}
		if !utf8.ValidString(got) || Text(got) != got {
			t.Errorf("Text(%q) = %q: invalid or not idempotent", s, got)
		}
	})
}

func BenchmarkTextNormal(b *testing.B) {
	s := strings.Repeat("Este es un estudio exploratorio para analizar la vulnerabilidad. ", 10)
	s = strings.TrimSpace(s)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		Text(s)
	}
}
