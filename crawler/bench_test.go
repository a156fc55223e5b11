package crawler

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkFetch fetches one ~80 KB UTF-8 page over loopback, as sent
// (Content-Length), chunked and gzip-compressed: B/op shows how many times the
// body is copied on its way to Page.Body.
func BenchmarkFetch(b *testing.B) {
	page := []byte("<html><head><meta charset=\"utf-8\"></head><body>" +
		strings.Repeat(`<div class="views-row"><h3><a href="/r/1">Año — café &amp; thé</a></h3><p>Summary text of the item, long enough.</p></div>`, 630) +
		"</body></html>")
	for _, enc := range []string{"identity", "chunked", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			f := newFixture(b)
			var gz []byte
			if enc == "gzip" {
				gz = gzipped(b, page)
			}
			f.site.handle("/page", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				if gz != nil {
					w.Header().Set("Content-Encoding", "gzip")
					_, _ = w.Write(gz)
					return
				}
				if enc == "identity" {
					w.Header().Set("Content-Length", strconv.Itoa(len(page)))
				}
				_, _ = w.Write(page)
			})
			s := f.open(b, "limits: {timeout: 5s, max_body: 1MiB}")
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			for b.Loop() {
				p, err := s.Fetch(context.Background(), f.site.URL+"/page", Validators{})
				if err != nil || len(p.Body) != len(page) {
					b.Fatalf("fetch: %v (%d bytes)", err, len(p.Body))
				}
			}
		})
	}
}
