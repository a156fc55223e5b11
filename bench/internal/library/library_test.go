package library

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPagesAreDeterministicAndSized(t *testing.T) {
	a, b := New(Config{Seed: 7, Pages: 50}), New(Config{Seed: 7, Pages: 50})
	if !bytes.Equal(a.Page(3), b.Page(3)) {
		t.Error("same seed, same page: bodies differ")
	}
	if bytes.Equal(a.Page(3), New(Config{Seed: 8, Pages: 50}).Page(3)) {
		t.Error("different seeds gave the same page")
	}
	for _, p := range []int{0, 25, 49} {
		n := len(a.Page(p))
		if n < 70_000 || n > 90_000 {
			t.Errorf("page %d is %d bytes, want about 75-85 KB", p, n)
		}
		page := string(a.Page(p))
		if c := strings.Count(page, `<div class="views-row">`); c != PerPage {
			t.Errorf("page %d has %d rows, want %d", p, c, PerPage)
		}
	}
	if strings.Contains(string(a.Page(50)), `<div class="views-row">`) {
		t.Error("the page past the last has items")
	}
	if first := string(a.Page(0)); !strings.Contains(first, `<a href="?page=49" title="Go to last page">`) || !strings.Contains(first, `<a href="?page=1" title="Go to next page" rel="next">`) {
		t.Error("first page: want next and last links")
	}
	if last := string(a.Page(49)); strings.Contains(last, `rel="next"`) || !strings.Contains(last, `rel="prev"`) {
		t.Error("last page: want a pager with a previous link and no next link")
	}
}

func TestExpectedRecords(t *testing.T) {
	l := New(Config{Seed: 1, Pages: 10})
	rs := l.Expected("http://h:1")
	if len(rs) != 200 {
		t.Fatalf("%d records, want 200", len(rs))
	}
	urls := map[string]bool{}
	var accents, amp, noAuthors, heading, multiRegion int
	for _, r := range rs {
		if urls[r.URL] {
			t.Errorf("duplicate URL %s", r.URL)
		}
		urls[r.URL] = true
		if !strings.HasPrefix(r.URL, "http://h:1/") || r.Year < 2005 || r.Year > 2025 {
			t.Errorf("bad record %+v", r)
		}
		if len(r.Summary) < 450 || len(r.Summary) > 800 {
			t.Errorf("summary of %d bytes", len(r.Summary))
		}
		if strings.ContainsAny(r.Title+r.Summary, "áéíóúñ") {
			accents++
		}
		if strings.Contains(r.Summary, "&") {
			amp++
		}
		if len(r.Authors) == 0 {
			noAuthors++
		}
		if len(r.Categories) == 1 && r.Categories[0] == Heading {
			heading++
		}
		if len(r.Regions) > 1 {
			multiRegion++
		}
	}
	if accents == 0 || amp == 0 || noAuthors == 0 || noAuthors > 80 || heading == 0 || multiRegion == 0 {
		t.Errorf("fixture lacks variety: accents %d, & %d, without authors %d, heading category %d, several regions %d",
			accents, amp, noAuthors, heading, multiRegion)
	}
}

func TestHandlerETagGzipAndEnd(t *testing.T) {
	l := New(Config{Seed: 1, Pages: 3})
	srv := httptest.NewServer(l.Handler(true))
	defer srv.Close()
	c := srv.Client()
	get := func(path string, h map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		// Set Accept-Encoding ourselves so the transport does not decode.
		if req.Header.Get("Accept-Encoding") == "" {
			req.Header.Set("Accept-Encoding", "identity")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	r := get("/resources?page=1", nil)
	body, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 || !bytes.Equal(body, l.Page(1)) || r.Header.Get("Content-Encoding") != "" {
		t.Fatalf("page 1: %d, %d bytes, encoding %q", r.StatusCode, len(body), r.Header.Get("Content-Encoding"))
	}
	etag := r.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag %q is not strong", etag)
	}
	if r := get("/resources?page=1", map[string]string{"If-None-Match": etag}); r.StatusCode != http.StatusNotModified {
		t.Errorf("matching If-None-Match: %d, want 304", r.StatusCode)
	}
	if r := get("/resources?page=2", map[string]string{"If-None-Match": etag}); r.StatusCode != 200 {
		t.Errorf("another page's ETag: %d, want 200", r.StatusCode)
	}
	z := get("/resources?page=1", map[string]string{"Accept-Encoding": "gzip"})
	if z.Header.Get("Content-Encoding") != "gzip" || z.Header.Get("ETag") == etag {
		t.Fatalf("gzip: encoding %q, ETag %q (identity ETag %q)", z.Header.Get("Content-Encoding"), z.Header.Get("ETag"), etag)
	}
	zr, err := gzip.NewReader(z.Body)
	if err != nil {
		t.Fatal(err)
	}
	unz, _ := io.ReadAll(zr)
	if !bytes.Equal(unz, l.Page(1)) {
		t.Error("gzip body does not decompress to the page")
	}
	if r := get("/resources", nil); r.Header.Get("ETag") != get("/resources?page=0", nil).Header.Get("ETag") {
		t.Error("/resources and ?page=0 differ")
	}
	end := get("/resources?page=3", nil)
	b, _ := io.ReadAll(end.Body)
	if end.StatusCode != 200 || strings.Contains(string(b), `<div class="views-row">`) || !strings.Contains(string(b), "view-empty") {
		t.Errorf("past the last page: %d, want 200 and Drupal's empty view", end.StatusCode)
	}
	if r := get("/resources?page=x", nil); r.StatusCode != 400 {
		t.Errorf("bad page parameter: %d", r.StatusCode)
	}
	if r := get("/robots.txt", nil); r.StatusCode != 200 {
		t.Errorf("robots.txt: %d", r.StatusCode)
	}
}
