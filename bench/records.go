package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/harvest-dev/harvest/bench/internal/library"
)

// rec is one extracted item in the form every contestant is compared
// in: the eight benchmark fields, text whitespace-collapsed and NFC.
type rec = library.Record

// normText collapses white space and brings s to NFC.
func normText(s string) string { return norm.NFC.String(strings.Join(strings.Fields(s), " ")) }

func normList(vs []string) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if v = normText(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// normalise brings records to the compared form, sorted by URL.
func normalise(rs []rec) []rec {
	out := make([]rec, len(rs))
	for i, r := range rs {
		out[i] = rec{
			URL: strings.TrimSpace(r.URL), Title: normText(r.Title), Summary: normText(r.Summary),
			Countries: normList(r.Countries), Regions: normList(r.Regions), Authors: normList(r.Authors),
			Year: r.Year, Categories: normList(r.Categories),
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out
}

// readJSONL reads one record per line; with wrapped set each line is a
// harvest change whose "record" holds the record.
func readJSONL(path string, wrapped bool) ([]rec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []rec
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var r rec
		var err error
		if wrapped {
			var c struct {
				Record rec `json:"record"`
			}
			err = json.Unmarshal(b, &c)
			r = c.Record
		} else {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// compare checks got against want (both normalised) and describes the
// differences: counts, duplicates, missing and extra URLs, and the first
// few field differences.
func compare(want, got []rec) error {
	var problems []string
	if len(got) != len(want) {
		problems = append(problems, fmt.Sprintf("%d records, want %d", len(got), len(want)))
	}
	byURL := make(map[string]*rec, len(got))
	dups := 0
	for i := range got {
		if _, ok := byURL[got[i].URL]; ok {
			dups++
			continue
		}
		byURL[got[i].URL] = &got[i]
	}
	if dups > 0 {
		problems = append(problems, fmt.Sprintf("%d duplicate URLs", dups))
	}
	missing, differ := 0, 0
	var examples []string
	for i := range want {
		w := &want[i]
		g, ok := byURL[w.URL]
		if !ok {
			missing++
			if len(examples) < 3 {
				examples = append(examples, "missing "+w.URL)
			}
			continue
		}
		delete(byURL, w.URL)
		if d := diffRec(w, g); d != "" {
			differ++
			if len(examples) < 3 {
				examples = append(examples, w.URL+": "+d)
			}
		}
	}
	if missing > 0 {
		problems = append(problems, fmt.Sprintf("%d missing", missing))
	}
	if len(byURL) > 0 {
		problems = append(problems, fmt.Sprintf("%d unexpected", len(byURL)))
		for u := range byURL {
			examples = append(examples, "unexpected "+u)
			break
		}
	}
	if differ > 0 {
		problems = append(problems, fmt.Sprintf("%d differ", differ))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s (%s)", strings.Join(problems, ", "), strings.Join(examples, "; "))
}

func diffRec(w, g *rec) string {
	var d []string
	field := func(name, a, b string) {
		if a != b {
			d = append(d, fmt.Sprintf("%s %q, want %q", name, b, a))
		}
	}
	list := func(name string, a, b []string) {
		if !slices.Equal(a, b) {
			d = append(d, fmt.Sprintf("%s %q, want %q", name, b, a))
		}
	}
	field("title", w.Title, g.Title)
	field("summary", w.Summary, g.Summary)
	list("countries", w.Countries, g.Countries)
	list("regions", w.Regions, g.Regions)
	list("authors", w.Authors, g.Authors)
	if w.Year != g.Year {
		d = append(d, fmt.Sprintf("year %d, want %d", g.Year, w.Year))
	}
	list("categories", w.Categories, g.Categories)
	return strings.Join(d, "; ")
}
