package faultsite_test

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/faultsite"
)

func serve(t *testing.T, n int) *faultsite.Server {
	t.Helper()
	srv, err := faultsite.New(n).Serve()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// get fetches path without transparent gzip and reads the whole body.
func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte, error) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

func plainClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestLibraryPagesAndConditionalRequests(t *testing.T) {
	srv := serve(t, 10)
	c := plainClient()
	res, body, err := get(t, c, srv.URL+"/list")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /list: %v %v", res, err)
	}
	for _, want := range []string{`<h1 class="page-title">Trafficking</h1>`, `href="/pub/pub-01"`, `href="/pub/pub-04"`, `href="/list?page=1"`, `<div class="field__label">Country</div>`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("page 0 lacks %s", want)
		}
	}
	if strings.Contains(string(body), "pub-05") {
		t.Error("page 0 shows the 5th item; 4 per page")
	}
	if srv.Site.Pages() != 3 || srv.Site.PageOf("pub-09") != 2 {
		t.Errorf("Pages = %d, PageOf(pub-09) = %d; want 3 and 2", srv.Site.Pages(), srv.Site.PageOf("pub-09"))
	}
	_, last, _ := get(t, c, srv.URL+"/list?page=2")
	if strings.Contains(string(last), "pager__item--next") {
		t.Error("the last page has a next link")
	}
	if res, _, _ := get(t, c, srv.URL+"/list?page=3"); res.StatusCode != 404 {
		t.Errorf("past the last page: %d, want 404", res.StatusCode)
	}

	req, _ := http.NewRequest("GET", srv.URL+"/list", nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	r2, err := c.Do(req)
	if err != nil || r2.StatusCode != 304 {
		t.Fatalf("conditional GET: %v %v, want 304", r2, err)
	}
	r2.Body.Close()
	srv.Site.Edit("pub-01", func(it *faultsite.Item) { it.Title = "Renamed" })
	r3, err := c.Do(req)
	if err != nil || r3.StatusCode != 200 {
		t.Fatalf("conditional GET after an edit: %v %v, want 200", r3, err)
	}
	r3.Body.Close()

	_, d, _ := get(t, c, srv.URL+"/pub/pub-03")
	if !strings.Contains(string(d), "<dt>Publisher</dt><dd>IOM</dd>") {
		t.Errorf("detail page: %s", d)
	}
	srv.Site.Remove("pub-03")
	if res, _, _ := get(t, c, srv.URL+"/pub/pub-03"); res.StatusCode != 404 {
		t.Errorf("removed item's detail page: %d, want 404", res.StatusCode)
	}
	if n := srv.Site.Hits("/list"); n != 3 {
		t.Errorf("Hits(/list) = %d, want 3", n)
	}
}

func TestFaults(t *testing.T) {
	srv := serve(t, 10)
	c := plainClient()
	date := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	cases := []struct {
		f     faultsite.Fault
		check func(t *testing.T, res *http.Response, body []byte, err error)
	}{
		{faultsite.HTTPStatus(502), wantStatus(502, "", "")},
		{faultsite.HTTPStatus(408), wantStatus(408, "", "")},
		{faultsite.Retry(429, "120"), wantStatus(429, "Retry-After", "120")},
		{faultsite.Retry(503, date), wantStatus(503, "Retry-After", date)},
		{faultsite.Is(faultsite.Challenge), wantStatus(403, "Cf-Mitigated", "challenge")},
		{faultsite.Is(faultsite.Maintenance), func(t *testing.T, res *http.Response, body []byte, err error) {
			wantStatus(200, "", "")(t, res, body, err)
			if strings.Contains(string(body), "view-content") || !strings.Contains(string(body), "maintenance") {
				t.Errorf("maintenance page: %s", body)
			}
		}},
		{faultsite.Is(faultsite.Layout), func(t *testing.T, res *http.Response, body []byte, err error) {
			if strings.Contains(string(body), "views-row") || !strings.Contains(string(body), `class="card"`) {
				t.Errorf("layout change: %s", body)
			}
		}},
		{faultsite.Is(faultsite.Empty), func(t *testing.T, res *http.Response, body []byte, err error) {
			wantStatus(200, "Content-Type", "text/html; charset=utf-8")(t, res, body, err)
			if len(body) != 0 {
				t.Errorf("empty body: %q", body)
			}
		}},
		{faultsite.Is(faultsite.NotHTML), wantStatus(200, "Content-Type", "application/json")},
		{faultsite.Is(faultsite.Truncate), func(t *testing.T, res *http.Response, body []byte, err error) {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("truncated body: err %v, want unexpected EOF", err)
			}
		}},
		{faultsite.Is(faultsite.BadChunked), func(t *testing.T, res *http.Response, body []byte, err error) {
			if err == nil || res == nil || res.StatusCode != 200 {
				t.Errorf("broken chunked encoding: status %v err %v, want 200 then a read error", res, err)
			}
		}},
		{faultsite.Is(faultsite.Reset), func(t *testing.T, res *http.Response, body []byte, err error) {
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("reset: err %v, want connection reset by peer", err)
			}
		}},
		{faultsite.Fault{Kind: faultsite.GzipBomb, Size: 1 << 20}, func(t *testing.T, res *http.Response, body []byte, err error) {
			wantStatus(200, "Content-Encoding", "gzip")(t, res, body, err)
			if n := inflated(t, body); len(body) > 64<<10 || n < 1<<20 {
				t.Errorf("bomb: %d bytes inflating to %d", len(body), n)
			}
		}},
		{faultsite.Fault{Kind: faultsite.GzipBody, Size: 1 << 20}, func(t *testing.T, res *http.Response, body []byte, err error) {
			wantStatus(200, "Content-Encoding", "")(t, res, body, err)
			if n := inflated(t, body); n < 1<<20 {
				t.Errorf("gzip body inflates to %d", n)
			}
		}},
		{faultsite.Fault{Kind: faultsite.Oversize, Size: 1 << 20}, func(t *testing.T, res *http.Response, body []byte, err error) {
			wantStatus(200, "Content-Length", "1048576")(t, res, body, err)
			if len(body) != 1<<20 {
				t.Errorf("oversize body: %d bytes", len(body))
			}
		}},
		{faultsite.Is(faultsite.RedirectLoop), wantStatus(302, "Location", "/loop-a")},
		{faultsite.Is(faultsite.RedirectAway), wantStatus(302, "Location", faultsite.DefaultAwayTarget)},
	}
	for _, tc := range cases {
		t.Run(string(tc.f.Kind)+"/"+tc.f.RetryAfter, func(t *testing.T) {
			srv.Site.Set(1, tc.f)
			defer srv.Site.Set(1, faultsite.Fault{})
			res, body, err := get(t, c, srv.URL+"/list?page=1")
			tc.check(t, res, body, err)
			// Other pages are unaffected.
			if res, _, err := get(t, c, srv.URL+"/list?page=2"); err != nil || res.StatusCode != 200 {
				t.Errorf("page 2: %v %v", res, err)
			}
		})
	}
}

func wantStatus(code int, header, value string) func(*testing.T, *http.Response, []byte, error) {
	return func(t *testing.T, res *http.Response, _ []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("err %v", err)
		}
		if res.StatusCode != code {
			t.Errorf("status %d, want %d", res.StatusCode, code)
		}
		if header != "" && res.Header.Get(header) != value {
			t.Errorf("%s = %q, want %q", header, res.Header.Get(header), value)
		}
	}
}

func inflated(t *testing.T, b []byte) int64 {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestHangAndTrickleEndWithTheClientDeadline(t *testing.T) {
	srv := serve(t, 10)
	srv.Site.Set(0, faultsite.Is(faultsite.Hang))
	srv.Site.Set(1, faultsite.Is(faultsite.Trickle))
	c := &http.Client{Timeout: 100 * time.Millisecond}
	for _, u := range []string{"/list", "/list?page=1"} {
		_, body, err := get(t, c, srv.URL+u)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("%s: err %v, want a timeout", u, err)
		}
		if len(body) > 0 && len(body) > 20 {
			t.Errorf("%s: trickled %d bytes in 100ms", u, len(body))
		}
	}
}

func TestCloseReleasesHangingHandlers(t *testing.T) {
	srv := serve(t, 1)
	srv.Site.SetRobots(faultsite.Is(faultsite.Hang))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/robots.txt", nil)
		res, err := http.DefaultTransport.RoundTrip(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	for srv.Site.Hits("/robots.txt") == 0 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a handler hung")
	}
	cancel()
	<-done
}

func TestRobotsFaults(t *testing.T) {
	srv := serve(t, 1)
	c := plainClient()
	_, body, _ := get(t, c, srv.URL+"/robots.txt")
	if string(body) != faultsite.DefaultRobots {
		t.Errorf("robots.txt = %q", body)
	}
	srv.Site.SetRobotsTxt("User-agent: *\nCrawl-delay: 5\n")
	if _, body, _ := get(t, c, srv.URL+"/robots.txt"); !strings.Contains(string(body), "Crawl-delay: 5") {
		t.Errorf("robots.txt = %q", body)
	}
	srv.Site.SetRobots(faultsite.HTTPStatus(500))
	if res, _, _ := get(t, c, srv.URL+"/robots.txt"); res.StatusCode != 500 {
		t.Errorf("robots.txt status %d, want 500", res.StatusCode)
	}
	srv.Site.Heal()
	if res, _, _ := get(t, c, srv.URL+"/robots.txt"); res.StatusCode != 200 {
		t.Errorf("healed robots.txt status %d", res.StatusCode)
	}
}

func TestNetworkFaults(t *testing.T) {
	srv := serve(t, 1)
	c := &http.Client{Transport: srv.Transport(), Timeout: 5 * time.Second}
	if !strings.HasPrefix(srv.NamedURL(), "http://"+faultsite.Host+":") {
		t.Fatalf("NamedURL = %s", srv.NamedURL())
	}
	if _, _, err := get(t, c, srv.NamedURL()+"/list"); err != nil {
		t.Fatalf("reachable: %v", err)
	}
	srv.Site.SetNetwork(faultsite.NoSuchHost)
	_, _, err := get(t, c, srv.NamedURL()+"/list")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound || de.Name != faultsite.Host {
		t.Errorf("no such host: err %v, want a not-found *net.DNSError for %s", err, faultsite.Host)
	}
	srv.Site.SetNetwork(faultsite.Refused)
	if _, _, err := get(t, c, srv.NamedURL()+"/list"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("refused: err %v, want connection refused", err)
	}
	addr, err := faultsite.ClosedAddr()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(t, &http.Client{}, "http://"+addr+"/"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("ClosedAddr: err %v, want connection refused", err)
	}
}
