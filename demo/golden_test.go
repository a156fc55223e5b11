package demo

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harvest-dev/harvest/demo/site"
	"github.com/harvest-dev/harvest/parser"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current parser output")

const goldenBase = "https://library.example.org"

// TestDemoPagesGolden parses every listing page of the demo library, as
// served on nights 1 and 2, with the demo's own seed and compares the
// records with testdata/night{1,2}.golden.json.
func TestDemoPagesGolden(t *testing.T) {
	lib, err := site.New(site.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seed, err := seeds.Parse("demo-seed.yaml", site.SeedYAML(goldenBase))
	if err != nil {
		t.Fatal(err)
	}
	for _, night := range []int{1, 2} {
		lib.SetNight(night)
		recs := walkPages(t, lib, seed)
		if want := len(lib.Publications(night)); len(recs) != want {
			t.Fatalf("night %d: %d records, want %d", night, len(recs), want)
		}
		got, err := json.MarshalIndent(recs, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join("testdata", "night"+string(rune('0'+night))+".golden.json")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./demo -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("night %d records differ from %s; run go test ./demo -update and review the diff", night, path)
		}
	}
}

// TestDemoPagesShape checks by hand what the golden file must hold: the
// seed page's Spanish publication with its three authors, and items with
// an empty Category inheriting the page heading.
func TestDemoPagesShape(t *testing.T) {
	lib, err := site.New(site.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seed, err := seeds.Parse("demo-seed.yaml", site.SeedYAML(goldenBase))
	if err != nil {
		t.Fatal(err)
	}
	recs := walkPages(t, lib, seed)
	var spanish, climate *record.Record
	for i := range recs {
		switch {
		case strings.HasPrefix(recs[i].Title, "Migrantes en México Vulnerabilidad y Riesgos"):
			spanish = &recs[i]
		case recs[i].Title == "The Climate Change-Human Trafficking Nexus":
			climate = &recs[i]
		}
	}
	if spanish == nil || climate == nil {
		t.Fatal("seed-page publications missing from the demo listing")
	}
	if got := strings.Join(spanish.Authors, "|"); got != "María Dolores París Pombo|Melissa Ley Cervantes|Jesús Peña Muñoz" {
		t.Errorf("Spanish item authors = %q", got)
	}
	if got := strings.Join(spanish.Regions, "|"); got != "Central|North America|Caribbean" {
		t.Errorf("Spanish item regions = %q", got)
	}
	if spanish.Year != 2016 || strings.Join(spanish.Countries, "|") != "Mexico" || spanish.Language != "es" {
		t.Errorf("Spanish item = %+v", spanish)
	}
	// The seed page's Category is empty: the page heading fills it.
	if got := strings.Join(climate.Categories, "|"); got != "Trafficking" {
		t.Errorf("empty Category: categories = %q, want the page heading", got)
	}
	if got := strings.Join(climate.Authors, "|"); got != "Sabira Coelho" || climate.Year != 2017 {
		t.Errorf("climate item = %+v", climate)
	}
	if !strings.HasPrefix(climate.URL, goldenBase+"/en/publications/") || climate.Key != climate.URL {
		t.Errorf("url/key = %q / %q", climate.URL, climate.Key)
	}
}

// walkPages follows the next links from the listing's first page.
func walkPages(t *testing.T, lib *site.Site, seed *seeds.Seed) []record.Record {
	t.Helper()
	rules, err := parser.Compile(seed)
	if err != nil {
		t.Fatal(err)
	}
	var out []record.Record
	next := []string{goldenBase + site.ListingPath}
	seen := map[string]bool{}
	for len(next) > 0 {
		u := next[0]
		next = next[1:]
		if seen[u] {
			continue
		}
		seen[u] = true
		rec := httptest.NewRecorder()
		lib.Handler().ServeHTTP(rec, httptest.NewRequest("GET", strings.TrimPrefix(u, goldenBase), nil))
		body, _ := io.ReadAll(rec.Result().Body)
		if rec.Code != 200 {
			t.Fatalf("%s: HTTP %d", u, rec.Code)
		}
		res, err := rules.Parse(u, body)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) > 0 {
			t.Errorf("%s: warnings %v", u, res.Warnings)
		}
		out = append(out, res.Records...)
		next = append(next, res.Next...)
	}
	return out
}
