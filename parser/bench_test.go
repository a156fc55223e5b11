package parser

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchPage builds a ~60 KB, 20-item Drupal Views page from the seed-page
// items of testdata/drupal-views.html: each of the 10 rows twice (the
// copy with its own detail URL), inside the same header, filters, pager
// and footer, with a realistic mega-menu and footer of links.
func benchPage(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "drupal-views.html"))
	if err != nil {
		tb.Fatal(err)
	}
	page := string(b)
	const open, close = `<div class="view-content">`, "\n    </div>\n    <nav class=\"pager\""
	i, j := strings.Index(page, open), strings.Index(page, close)
	if i < 0 || j < 0 {
		tb.Fatal("view-content not found in drupal-views.html")
	}
	rows := page[i+len(open) : j]
	copyRows := strings.ReplaceAll(rows, `href="/resources/`, `href="/resources/more/`)
	var menu strings.Builder
	menu.WriteString(`<div class="mega-menu">`)
	for k := 0; menu.Len() < 3500; k++ {
		fmt.Fprintf(&menu, `<div class="mega-menu__col"><h3 class="mega-menu__title">Topic %d</h3><ul><li><a href="/topics/%d/overview">Overview of topic %d</a></li><li><a href="/topics/%d/data">Data and statistics</a></li><li><a href="/topics/%d/publications">Publications</a></li></ul></div>`, k, k, k, k, k)
	}
	menu.WriteString(`</div>`)
	out := page[:i+len(open)] + rows + copyRows + page[j:]
	out = strings.Replace(out, `</header>`, menu.String()+`</header>`, 1)
	out = strings.Replace(out, `<footer role="contentinfo" class="site-footer">`, `<footer role="contentinfo" class="site-footer">`+strings.ReplaceAll(menu.String(), "mega-menu", "footer-menu"), 1)
	return []byte(out)
}

func TestBenchPage(t *testing.T) {
	s, pageURL, _ := loadCase(t, "drupal-views")
	page := benchPage(t)
	if len(page) < 55_000 || len(page) > 70_000 {
		t.Errorf("bench page is %d bytes, want about 60 KB", len(page))
	}
	res, err := Parse(s, pageURL, page)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 20 || res.Records[14].Authors[2] != "Jesús Peña Muñoz" {
		t.Fatalf("bench page: %d records", len(res.Records))
	}
}

func BenchmarkParse(b *testing.B) {
	s, pageURL, _ := loadCase(b, "drupal-views")
	page := benchPage(b)
	r, err := Compile(s)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	items := 0
	for b.Loop() {
		res, err := r.Parse(pageURL, page)
		if err != nil {
			b.Fatal(err)
		}
		items += len(res.Records)
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
}
