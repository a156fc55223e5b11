package parser

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/harvest-dev/harvest/record"
)

// hardcoded is what a hand-written goquery scraper of the benchmark page
// does: the same fields as the drupal-views seed, with selectors and
// label handling written for that one page. It is the speed to compare
// the seed-driven parser against (BenchmarkHardcodedGoquery).
func hardcoded(pageURL string, page []byte) ([]record.Record, error) {
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(page))
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(pageURL)
	if err != nil {
		return nil, err
	}
	category := strings.TrimSpace(doc.Find("h1.page-title").First().Text())
	var out []record.Record
	doc.Find("div.views-row").Each(func(_ int, s *goquery.Selection) {
		a := s.Find("h3 a").First()
		href, _ := a.Attr("href")
		lang, _ := a.Attr("hreflang")
		rec := record.Record{
			Source:   "iom-trafficking",
			Title:    a.Text(),
			URL:      record.CanonicalURL(base, href),
			Summary:  s.Find(".views-field-body").First().Text(),
			Language: lang,
		}
		s.Find(".field__label").Each(func(_ int, l *goquery.Selection) {
			var vals []string
			l.NextAll().Find(".field__item").AddBack().Filter(".field__item, .field__items .field__item").Each(func(_ int, v *goquery.Selection) {
				vals = append(vals, v.Text())
			})
			if len(vals) == 0 {
				l.NextAll().Each(func(_ int, v *goquery.Selection) { vals = append(vals, v.Text()) })
			}
			switch strings.TrimSpace(l.Text()) {
			case "Country":
				rec.Countries = vals
			case "Region", "Región":
				rec.Regions = vals
			case "Authors", "Autores":
				rec.Authors = vals
			case "Year":
				if len(vals) > 0 {
					if y, ok := FirstYear(vals[0]); ok {
						rec.Year = y
					}
				}
			case "Category":
				rec.Categories = vals
			}
		})
		if len(rec.Categories) == 0 && category != "" {
			rec.Categories = []string{category}
		}
		if pdf, ok := s.Find("a[href$='.pdf']").First().Attr("href"); ok {
			rec.Extra = map[string]string{"pdf": record.CanonicalURL(base, pdf)}
		}
		rec.Normalize()
		rec.Key = rec.URL
		out = append(out, rec)
	})
	return out, nil
}

func TestHardcodedBaseline(t *testing.T) {
	_, pageURL, _ := loadCase(t, "drupal-views")
	recs, err := hardcoded(pageURL, benchPage(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 20 || recs[0].Title == "" || recs[0].URL == "" {
		t.Fatalf("baseline scraper: %d records, first %+v", len(recs), recs)
	}
}

// BenchmarkHardcodedGoquery is the hand-written scraper on the page of
// BenchmarkParse: the ratio of the two is the cost of reading rules from
// a seed.
func BenchmarkHardcodedGoquery(b *testing.B) {
	_, pageURL, _ := loadCase(b, "drupal-views")
	page := benchPage(b)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	items := 0
	for b.Loop() {
		recs, err := hardcoded(pageURL, page)
		if err != nil {
			b.Fatal(err)
		}
		items += len(recs)
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkHTMLParse is the floor: parsing the page into a tree, no
// extraction at all.
func BenchmarkHTMLParse(b *testing.B) {
	page := benchPage(b)
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		if _, err := goquery.NewDocumentFromReader(bytes.NewReader(page)); err != nil {
			b.Fatal(err)
		}
	}
}
