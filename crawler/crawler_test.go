package crawler

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/harvest-dev/harvest/seeds"
)

// sleeps records the waits the crawler asks for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// stepClock advances by step on every reading.
func stepClock(step time.Duration) func() time.Time {
	var n atomic.Int64
	return func() time.Time { return t0.Add(time.Duration(n.Add(1)-1) * step) }
}

// site is a test server with a robots.txt and page handlers.
type site struct {
	*httptest.Server
	mux      *http.ServeMux
	robots   atomic.Value // func(w, r)
	requests atomic.Int64 // non-robots requests
	ua       atomic.Value // last User-Agent seen on a page
}

func newSite(t testing.TB) *site {
	t.Helper()
	s := &site{mux: http.NewServeMux()}
	s.setRobots(http.StatusOK, "User-agent: *\nAllow: /\n")
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			s.robots.Load().(func(http.ResponseWriter, *http.Request))(w, r)
			return
		}
		s.requests.Add(1)
		s.ua.Store(r.UserAgent())
		s.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *site) setRobots(status int, body string) {
	s.robots.Store(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
}

func (s *site) handle(path string, f http.HandlerFunc) { s.mux.HandleFunc(path, f) }

func (s *site) html(path, body string) {
	s.handle(path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, body)
	})
}

// parseSeed builds a seed from YAML as a user would write it.
func parseSeed(t testing.TB, y string) *seeds.Seed {
	t.Helper()
	s, err := seeds.Parse("test.yaml", []byte(y))
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return s
}

// seedFor is a seed of the test site; extra lines are appended, and an
// extra "politeness:" or "limits:" line replaces the default one.
func seedFor(t testing.TB, base string, extra ...string) *seeds.Seed {
	t.Helper()
	politeness := "politeness: {delay: 0s, concurrency: 2}"
	limits := "limits: {timeout: 5s, max_body: 64KiB}"
	var rest []string
	for _, e := range extra {
		switch {
		case strings.HasPrefix(e, "politeness:"):
			politeness = e
		case strings.HasPrefix(e, "limits:"):
			limits = e
		default:
			rest = append(rest, e)
		}
	}
	y := fmt.Sprintf(`id: test-src
start_urls: [%q]
allow_private_networks: true
%s
%s
items: "div.item"
fields:
  title: {select: "h3"}
`, base+"/list", politeness, limits)
	for _, e := range rest {
		y += e + "\n"
	}
	return parseSeed(t, y)
}

type fixture struct {
	site   *site
	sleeps *sleeps
	cr     *Crawler
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{site: newSite(t), sleeps: &sleeps{}}
	f.cr = New(Config{Sleep: f.sleeps.sleep, Now: stepClock(100 * time.Millisecond)})
	return f
}

func (f *fixture) open(t testing.TB, extra ...string) *Session {
	t.Helper()
	s, err := f.cr.Open(context.Background(), seedFor(t, f.site.URL, extra...))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// wantKind checks that err is an *Error of kind k naming the source and URL.
func wantKind(t *testing.T, err error, k Kind, rawURL string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %s error, got none", k)
	}
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("want *Error, got %T: %v", err, err)
	}
	if fe.Kind != k {
		t.Fatalf("want kind %s, got %s: %v", k, fe.Kind, err)
	}
	if fe.Source != "test-src" || !strings.Contains(err.Error(), "test-src") {
		t.Errorf("error does not name the source: %v", err)
	}
	if rawURL != "" && (fe.URL != rawURL || !strings.Contains(err.Error(), rawURL)) {
		t.Errorf("error does not name the URL %s: %v", rawURL, err)
	}
	return fe
}

func TestFetchConvertsToUTF8(t *testing.T) {
	f := newFixture(t)
	raw := charmap.Windows1252.NewEncoder()
	body, _ := raw.Bytes([]byte(`<html><body><h1>Traite des êtres humains</h1><div class="item"><h3>Año 2019 – «informe»</h3></div></body></html>`))
	f.site.handle("/list", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=windows-1252")
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Last-Modified", "Sat, 01 Mar 2025 10:00:00 GMT")
		w.Write(body)
	})
	s := f.open(t)
	p, err := s.Fetch(context.Background(), f.site.URL+"/list", Validators{})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !strings.Contains(string(p.Body), "<h3>Año 2019 – «informe»</h3>") || !strings.Contains(string(p.Body), "êtres") {
		t.Errorf("body not converted to UTF-8: %s", p.Body)
	}
	if p.Status != 200 || p.NotModified || p.URL != f.site.URL+"/list" || p.FinalURL != f.site.URL+"/list" {
		t.Errorf("page = status %d notmod %v url %s final %s", p.Status, p.NotModified, p.URL, p.FinalURL)
	}
	if p.ETag != `"abc"` || p.LastModified != "Sat, 01 Mar 2025 10:00:00 GMT" {
		t.Errorf("validators = %q %q", p.ETag, p.LastModified)
	}
	if p.Bytes != len(body) {
		t.Errorf("Bytes = %d, want %d (as received)", p.Bytes, len(body))
	}
	if p.Duration != 100*time.Millisecond {
		t.Errorf("Duration = %v, want one tick of the injected clock (100ms)", p.Duration)
	}
	if got := p.Header.Get("Content-Type"); got != "text/html; charset=windows-1252" {
		t.Errorf("Header lost the Content-Type: %q", got)
	}
	if ua, _ := f.site.ua.Load().(string); ua != DefaultUserAgent {
		t.Errorf("User-Agent = %q, want %q", ua, DefaultUserAgent)
	}
}

func TestSeedUserAgent(t *testing.T) {
	f := newFixture(t)
	f.site.html("/list", "<p>x</p>")
	s := f.open(t, `politeness: {delay: 0s, user_agent: "acme-bot/2.0 (ops@acme.example)"}`)
	if _, err := s.Fetch(context.Background(), f.site.URL+"/list", Validators{}); err != nil {
		t.Fatal(err)
	}
	if ua, _ := f.site.ua.Load().(string); ua != "acme-bot/2.0 (ops@acme.example)" {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestRobots(t *testing.T) {
	t.Run("disallow blocks, allow passes, our group wins over *", func(t *testing.T) {
		f := newFixture(t)
		f.site.setRobots(200, "User-agent: *\nDisallow: /\n\nUser-agent: harvest\nDisallow: /private\n")
		f.site.html("/list", "<p>ok</p>")
		f.site.html("/private/x", "<p>secret</p>")
		s := f.open(t)
		if _, err := s.Fetch(context.Background(), f.site.URL+"/list", Validators{}); err != nil {
			t.Fatalf("allowed page: %v", err)
		}
		u := f.site.URL + "/private/x?a=1"
		_, err := s.Fetch(context.Background(), u, Validators{})
		wantKind(t, err, KindBlocked, u)
		if !strings.Contains(err.Error(), "/private/x") || !strings.Contains(err.Error(), "robots.txt") {
			t.Errorf("error should name robots.txt and the path: %v", err)
		}
		if n := f.site.requests.Load(); n != 1 {
			t.Errorf("server saw %d page requests, want 1 (the disallowed page is never requested)", n)
		}
	})
	t.Run("404 allows everything", func(t *testing.T) {
		f := newFixture(t)
		f.site.setRobots(404, "not found")
		f.site.html("/list", "<p>ok</p>")
		s := f.open(t)
		if _, err := s.Fetch(context.Background(), f.site.URL+"/list", Validators{}); err != nil {
			t.Fatalf("Fetch: %v", err)
		}
	})
	t.Run("500 blocks the run at Open after retries", func(t *testing.T) {
		f := newFixture(t)
		f.site.setRobots(500, "oops")
		_, err := f.cr.Open(context.Background(), seedFor(t, f.site.URL))
		wantKind(t, err, KindBlocked, "")
		if !strings.Contains(err.Error(), "robots.txt") || !strings.Contains(err.Error(), "unavailable") {
			t.Errorf("error should say robots.txt is unavailable: %v", err)
		}
		if n := len(f.sleeps.all()); n != DefaultMaxRetries {
			t.Errorf("robots.txt retried %d times, want %d", n, DefaultMaxRetries)
		}
	})
	t.Run("robots: false skips robots.txt", func(t *testing.T) {
		f := newFixture(t)
		f.site.setRobots(500, "oops")
		f.site.html("/list", "<p>ok</p>")
		s := f.open(t, "politeness: {delay: 0s, robots: false}")
		if _, err := s.Fetch(context.Background(), f.site.URL+"/list", Validators{}); err != nil {
			t.Fatalf("Fetch: %v", err)
		}
	})
}

func TestCrawlDelay(t *testing.T) {
	sl := &sleeps{}
	st := newSite(t)
	st.setRobots(200, "User-agent: *\nCrawl-delay: 5\n")
	st.html("/list", "<p>ok</p>")
	cr := New(Config{Sleep: sl.sleep, Now: func() time.Time { return t0 }}) // frozen clock
	s, err := cr.Open(context.Background(), seedFor(t, st.URL, "politeness: {delay: 2s}"))
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(st.URL, "http://")
	if d := s.Delay(host); d != 5*time.Second {
		t.Errorf("Delay = %v, want the Crawl-delay 5s (above the seed's 2s)", d)
	}
	for range 3 {
		if _, err := s.Fetch(context.Background(), st.URL+"/list", Validators{}); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second}
	if got := sl.all(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("politeness waits = %v, want %v (requests start 5s apart)", got, want)
	}
}

func TestConditionalRequest(t *testing.T) {
	f := newFixture(t)
	var gotINM, gotIMS atomic.Value
	f.site.handle("/list", func(w http.ResponseWriter, r *http.Request) {
		gotINM.Store(r.Header.Get("If-None-Match"))
		gotIMS.Store(r.Header.Get("If-Modified-Since"))
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Last-Modified", "Sat, 01 Mar 2025 10:00:00 GMT")
		fmt.Fprint(w, "<p>v1</p>")
	})
	s := f.open(t)
	p, err := s.Fetch(context.Background(), f.site.URL+"/list", Validators{})
	if err != nil {
		t.Fatal(err)
	}
	if p.NotModified || gotINM.Load() != "" {
		t.Fatalf("first fetch must be unconditional: notmod=%v If-None-Match=%q", p.NotModified, gotINM.Load())
	}
	p2, err := s.Fetch(context.Background(), f.site.URL+"/list", Validators{ETag: p.ETag, LastModified: p.LastModified})
	if err != nil {
		t.Fatalf("conditional fetch: %v", err)
	}
	if gotINM.Load() != `"v1"` || gotIMS.Load() != "Sat, 01 Mar 2025 10:00:00 GMT" {
		t.Errorf("validators sent: If-None-Match=%q If-Modified-Since=%q", gotINM.Load(), gotIMS.Load())
	}
	if !p2.NotModified || p2.Status != 304 || len(p2.Body) != 0 {
		t.Errorf("want NotModified page, got status %d notmod %v body %q", p2.Status, p2.NotModified, p2.Body)
	}
	if p2.ETag != `"v1"` || p2.LastModified != "Sat, 01 Mar 2025 10:00:00 GMT" {
		t.Errorf("304 page should carry the validators to send next time: %q %q", p2.ETag, p2.LastModified)
	}
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestMaxBody(t *testing.T) {
	f := newFixture(t)
	big := "<html><body>" + strings.Repeat("x", 100<<10) + "</body></html>" // 100 KiB > 64 KiB
	f.site.html("/big", big)
	bomb := gzipped(t, []byte("<html><body>"+strings.Repeat("\x00", 4<<20)+"</body></html>")) // 4 MiB inflated
	small := "<html><body>" + strings.Repeat("ok ", 1000) + "</body></html>"
	smallGz := gzipped(t, []byte(small))
	serveGz := func(b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "gzip") // sent even when not asked for
			w.Write(b)
		}
	}
	f.site.handle("/bomb", serveGz(bomb))
	f.site.handle("/small", serveGz(smallGz))
	if len(bomb) > 64<<10 {
		t.Fatalf("test bomb is %d bytes compressed; it must fit under max_body to test decompressed size", len(bomb))
	}

	// The crawler's own transport (asks for gzip, inflates it) and one
	// that does not inflate (the crawler must then do it itself).
	for _, tr := range []struct {
		name string
		rt   http.RoundTripper
	}{{"own transport", nil}, {"no transparent gzip", &http.Transport{DisableCompression: true}}} {
		t.Run(tr.name, func(t *testing.T) {
			cr := New(Config{Transport: tr.rt, Sleep: f.sleeps.sleep})
			s, err := cr.Open(context.Background(), seedFor(t, f.site.URL))
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/big", "/bomb"} {
				_, err := s.Fetch(context.Background(), f.site.URL+path, Validators{})
				wantKind(t, err, KindTooLarge, f.site.URL+path)
				if !strings.Contains(err.Error(), "max_body") {
					t.Errorf("%s: error should name max_body: %v", path, err)
				}
			}
			p, err := s.Fetch(context.Background(), f.site.URL+"/small", Validators{})
			if err != nil {
				t.Fatalf("small gzip page: %v", err)
			}
			if string(p.Body) != small || p.Bytes != len(small) {
				t.Errorf("small gzip page: Bytes=%d (want decompressed %d), body ok=%v", p.Bytes, len(small), string(p.Body) == small)
			}
		})
	}
}

// hijack writes a raw HTTP response and closes the connection.
func hijack(raw string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		bw.WriteString(raw)
		bw.Flush()
	}
}

func TestTruncatedBody(t *testing.T) {
	f := newFixture(t)
	f.site.handle("/short", hijack("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n<html><body><div class=\"item\">half"))
	f.site.handle("/chunked", hijack("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n<html><body>1234\r\n"))
	gz := gzipped(t, []byte("<html><body>"+strings.Repeat("item ", 2000)+"</body></html>"))
	f.site.handle("/gz", hijack(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n%s", gz[:len(gz)/2])))
	s := f.open(t)
	for _, path := range []string{"/short", "/chunked", "/gz"} {
		p, err := s.Fetch(context.Background(), f.site.URL+path, Validators{})
		if p != nil {
			t.Errorf("%s: a truncated page must not be returned: %q", path, p.Body)
		}
		wantKind(t, err, KindBadPage, f.site.URL+path)
	}
	if n := len(f.sleeps.all()); n != 0 {
		t.Errorf("truncated bodies were retried (%d waits)", n)
	}
}

func TestRetries(t *testing.T) {
	t.Run("500 then 200", func(t *testing.T) {
		f := newFixture(t)
		var n atomic.Int64
		f.site.handle("/list", func(w http.ResponseWriter, _ *http.Request) {
			if n.Add(1) <= 2 {
				http.Error(w, "busy", 500)
				return
			}
			fmt.Fprint(w, "<p>ok</p>")
		})
		s := f.open(t)
		p, err := s.Fetch(context.Background(), f.site.URL+"/list", Validators{})
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if !strings.Contains(string(p.Body), "ok") || n.Load() != 3 {
			t.Errorf("requests = %d, body %q", n.Load(), p.Body)
		}
		got := f.sleeps.all()
		if len(got) != 2 {
			t.Fatalf("backoffs = %v, want 2", got)
		}
		if got[0] < 500*time.Millisecond || got[0] > time.Second || got[1] < time.Second || got[1] > 2*time.Second {
			t.Errorf("backoffs = %v, want jittered 1s then 2s (each in [d/2, d])", got)
		}
	})
	t.Run("500 forever", func(t *testing.T) {
		f := newFixture(t)
		f.site.handle("/list", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
		s := f.open(t)
		u := f.site.URL + "/list"
		_, err := s.Fetch(context.Background(), u, Validators{})
		fe := wantKind(t, err, KindTransient, u)
		if fe.Status != 503 {
			t.Errorf("Status = %d, want 503", fe.Status)
		}
		if n := f.site.requests.Load(); n != 1+DefaultMaxRetries {
			t.Errorf("requests = %d, want %d", n, 1+DefaultMaxRetries)
		}
		got := f.sleeps.all()
		if len(got) != DefaultMaxRetries {
			t.Fatalf("backoffs = %v", got)
		}
		for i, d := range got {
			if hi := time.Second << i; d < hi/2 || d > hi {
				t.Errorf("backoff %d = %v, want in [%v, %v]", i, d, hi/2, hi)
			}
		}
	})
	t.Run("network error is transient", func(t *testing.T) {
		f := newFixture(t)
		f.site.handle("/list", hijack("")) // closes without a response
		s := f.open(t)
		_, err := s.Fetch(context.Background(), f.site.URL+"/list", Validators{})
		wantKind(t, err, KindTransient, f.site.URL+"/list")
		// (net/http itself may retry a GET once on a dropped connection.)
		if n := len(f.sleeps.all()); n != DefaultMaxRetries {
			t.Errorf("retries = %d, want %d", n, DefaultMaxRetries)
		}
	})
	t.Run("MaxRetries negative means no retry", func(t *testing.T) {
		st := newSite(t)
		st.handle("/list", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", 500) })
		cr := New(Config{MaxRetries: -1, Sleep: (&sleeps{}).sleep})
		s, err := cr.Open(context.Background(), seedFor(t, st.URL))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Fetch(context.Background(), st.URL+"/list", Validators{})
		wantKind(t, err, KindTransient, st.URL+"/list")
		if n := st.requests.Load(); n != 1 {
			t.Errorf("requests = %d, want 1", n)
		}
	})
}

func TestRetryAfter(t *testing.T) {
	cases := []struct {
		name, header string
		status       int
		want         time.Duration
	}{
		{"seconds", "7", 429, 7 * time.Second},
		{"http date", t0.Add(30 * time.Second).Format(http.TimeFormat), 503, 30 * time.Second},
		{"capped", "3600", 503, 60 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sl := &sleeps{}
			st := newSite(t)
			var n atomic.Int64
			st.handle("/list", func(w http.ResponseWriter, _ *http.Request) {
				if n.Add(1) == 1 {
					w.Header().Set("Retry-After", tc.header)
					http.Error(w, "slow down", tc.status)
					return
				}
				fmt.Fprint(w, "<p>ok</p>")
			})
			cr := New(Config{Sleep: sl.sleep, Now: func() time.Time { return t0 }})
			s, err := cr.Open(context.Background(), seedFor(t, st.URL))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Fetch(context.Background(), st.URL+"/list", Validators{}); err != nil {
				t.Fatal(err)
			}
			if got := sl.all(); len(got) != 1 || got[0] != tc.want {
				t.Errorf("waits = %v, want [%v]", got, tc.want)
			}
		})
	}
}

func TestStatusKinds(t *testing.T) {
	f := newFixture(t)
	for _, c := range []int{400, 401, 403, 404, 410, 418} {
		f.site.handle(fmt.Sprintf("/s%d", c), func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(c)
			fmt.Fprint(w, "<p>no</p>")
		})
	}
	s := f.open(t)
	for c, k := range map[int]Kind{400: KindBadPage, 401: KindBlocked, 403: KindBlocked, 404: KindNotFound, 410: KindNotFound, 418: KindBadPage} {
		u := fmt.Sprintf("%s/s%d", f.site.URL, c)
		_, err := s.Fetch(context.Background(), u, Validators{})
		if fe := wantKind(t, err, k, u); fe.Status != c {
			t.Errorf("%d: Status = %d", c, fe.Status)
		}
	}
	if n := len(f.sleeps.all()); n != 0 {
		t.Errorf("permanent statuses were retried (%d waits)", n)
	}
}

func TestRedirects(t *testing.T) {
	f := newFixture(t)
	f.site.setRobots(200, "User-agent: *\nDisallow: /private\n")
	f.site.handle("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/list?page=1", http.StatusMovedPermanently)
	})
	f.site.html("/list", "<p>ok</p>")
	f.site.handle("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://evil.example/steal", http.StatusFound)
	})
	f.site.handle("/sneak", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/private/page", http.StatusFound) })
	f.site.html("/private/page", "<p>secret</p>")
	f.site.handle("/to-dead", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/dead", http.StatusFound) })
	f.site.handle("/dead", hijack("")) // drops the connection
	f.site.handle("/loop-a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop-b", http.StatusFound) })
	f.site.handle("/loop-b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop-a", http.StatusFound) })
	s := f.open(t)

	p, err := s.Fetch(context.Background(), f.site.URL+"/moved", Validators{})
	if err != nil {
		t.Fatalf("allowed redirect: %v", err)
	}
	if p.URL != f.site.URL+"/moved" || p.FinalURL != f.site.URL+"/list?page=1" {
		t.Errorf("URL %s FinalURL %s", p.URL, p.FinalURL)
	}

	_, err = s.Fetch(context.Background(), f.site.URL+"/away", Validators{})
	wantKind(t, err, KindRefused, f.site.URL+"/away")
	if !strings.Contains(err.Error(), "evil.example") {
		t.Errorf("error should name the refused host: %v", err)
	}

	_, err = s.Fetch(context.Background(), f.site.URL+"/sneak", Validators{})
	wantKind(t, err, KindBlocked, f.site.URL+"/sneak")

	_, err = s.Fetch(context.Background(), f.site.URL+"/to-dead", Validators{})
	wantKind(t, err, KindTransient, f.site.URL+"/to-dead")

	_, err = s.Fetch(context.Background(), f.site.URL+"/loop-a", Validators{})
	wantKind(t, err, KindRefused, f.site.URL+"/loop-a")
	if !strings.Contains(err.Error(), "redirect") {
		t.Errorf("error should say redirect loop: %v", err)
	}
}

func TestHostNotAllowed(t *testing.T) {
	f := newFixture(t)
	s := f.open(t)
	u := "http://other.example/list"
	_, err := s.Fetch(context.Background(), u, Validators{})
	wantKind(t, err, KindRefused, u)
	if !strings.Contains(err.Error(), "allowed_hosts") {
		t.Errorf("error should name allowed_hosts: %v", err)
	}
}

func TestNotHTMLOrEmpty(t *testing.T) {
	f := newFixture(t)
	f.site.handle("/json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"a":1}`)
	})
	f.site.handle("/pdf", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		fmt.Fprint(w, "%PDF-1.4")
	})
	f.site.handle("/empty", func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Content-Type", "text/html") })
	f.site.handle("/untyped", func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = nil // no sniffing: really no header
		fmt.Fprint(w, "<p>untyped</p>")
	})
	f.site.handle("/xhtml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xhtml+xml; charset=utf-8")
		fmt.Fprint(w, "<html xmlns='http://www.w3.org/1999/xhtml'><p>x</p></html>")
	})
	f.site.handle("/brotli", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "br") // never asked for
		w.Write([]byte{0x1b, 0x03, 0x00, 0xf8})
	})
	s := f.open(t)
	for _, path := range []string{"/json", "/pdf", "/empty", "/brotli"} {
		_, err := s.Fetch(context.Background(), f.site.URL+path, Validators{})
		wantKind(t, err, KindBadPage, f.site.URL+path)
	}
	for _, path := range []string{"/untyped", "/xhtml"} {
		if _, err := s.Fetch(context.Background(), f.site.URL+path, Validators{}); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func TestCancel(t *testing.T) {
	f := newFixture(t)
	started := make(chan struct{})
	f.site.handle("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // hangs until the client goes away
	})
	s := f.open(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	done := make(chan error, 1)
	go func() {
		_, err := s.Fetch(ctx, f.site.URL+"/slow", Validators{})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("want an error wrapping context.Canceled, got %v", err)
		}
		wantKind(t, err, KindTransient, f.site.URL+"/slow")
	case <-time.After(5 * time.Second):
		t.Fatal("Fetch did not return after its context was cancelled")
	}
	if n := len(f.sleeps.all()); n != 0 {
		t.Errorf("a cancelled fetch was retried")
	}

	// Already cancelled: no request at all.
	before := f.site.requests.Load()
	_, err := s.Fetch(ctx, f.site.URL+"/list", Validators{})
	if !errors.Is(err, context.Canceled) || f.site.requests.Load() != before {
		t.Errorf("cancelled ctx: err %v, requests %d -> %d", err, before, f.site.requests.Load())
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.site.handle("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s := f.open(t, "limits: {timeout: 50ms, max_body: 64KiB}")
	_, err := s.Fetch(context.Background(), f.site.URL+"/hang", Validators{})
	wantKind(t, err, KindTransient, f.site.URL+"/hang")
	if n := f.site.requests.Load(); n != 1+DefaultMaxRetries {
		t.Errorf("requests = %d, want %d (timeouts are retried)", n, 1+DefaultMaxRetries)
	}
}

func TestPerHostParallelism(t *testing.T) {
	f := newFixture(t)
	h := holdRequests(f.site, "/p")
	s := f.open(t, "politeness: {delay: 0s, concurrency: 2}")
	if p := h.peakOf(t, 6, func(i int) *Session { return s }, f.site.URL); p != 2 {
		t.Errorf("peak concurrent requests = %d, want 2 (politeness.concurrency)", p)
	}
}

// heldRequests holds every request to a path until released, counting the
// most in flight at once.
type heldRequests struct {
	inflight, peak atomic.Int64
	release        chan struct{}
}

func holdRequests(st *site, path string) *heldRequests {
	h := &heldRequests{release: make(chan struct{})}
	st.handle(path, func(w http.ResponseWriter, _ *http.Request) {
		n := h.inflight.Add(1)
		for p := h.peak.Load(); n > p && !h.peak.CompareAndSwap(p, n); p = h.peak.Load() {
		}
		<-h.release
		h.inflight.Add(-1)
		fmt.Fprint(w, "<p>ok</p>")
	})
	return h
}

// peakOf fetches n pages at once (page i through session(i)), lets a
// broken limit show itself for 50ms once two are in flight, releases
// them, and returns the peak number in flight.
func (h *heldRequests) peakOf(t *testing.T, n int, session func(i int) *Session, base string) int64 {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := session(i).Fetch(context.Background(), fmt.Sprintf("%s/p?i=%d", base, i), Validators{})
			errs <- err
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.inflight.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(h.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	return h.peak.Load()
}

func TestPrivateNetworkRefusedAtDial(t *testing.T) {
	st := newSite(t)
	st.html("/list", "<p>ok</p>")
	cr := New(Config{Sleep: (&sleeps{}).sleep})
	base := fmt.Sprintf(`id: test-src
start_urls: ["%s/list"]
items: "div.item"
fields: {title: "h3"}
`, st.URL)

	// robots.txt is fetched first: refused, not "blocked".
	_, err := cr.Open(context.Background(), parseSeed(t, base))
	wantKind(t, err, KindRefused, "")

	s, err := cr.Open(context.Background(), parseSeed(t, base+"politeness: {robots: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Fetch(context.Background(), st.URL+"/list", Validators{})
	wantKind(t, err, KindRefused, st.URL+"/list")
	var ae *AddressError
	if !errors.As(err, &ae) || ae.Reason != "loopback address" {
		t.Errorf("want an AddressError for a loopback address, got %v", err)
	}
	if !strings.Contains(err.Error(), "allow_private_networks") {
		t.Errorf("error should say how to allow it: %v", err)
	}
	if n := st.requests.Load(); n != 0 {
		t.Errorf("server saw %d requests; the dial must be refused", n)
	}

	// A name that resolves to a private address is refused too: the guard
	// checks the address dialled, not the name.
	u, _ := url.Parse(st.URL)
	s2, err := cr.Open(context.Background(), parseSeed(t, fmt.Sprintf(`id: test-src
start_urls: ["http://localhost:%s/list"]
politeness: {robots: false}
items: "div.item"
fields: {title: "h3"}
`, u.Port())))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Fetch(context.Background(), "http://localhost:"+u.Port()+"/list", Validators{})
	wantKind(t, err, KindRefused, "")
}

func TestCheckAddr(t *testing.T) {
	for addr, refused := range map[string]bool{
		"127.0.0.1:80": true, "[::1]:80": true, "10.1.2.3:80": true, "172.16.0.1:80": true,
		"192.168.1.1:443": true, "169.254.169.254:80": true, "[fe80::1]:80": true, "0.0.0.0:80": true,
		"[::]:80": true, "[::ffff:127.0.0.1]:80": true, "[fd00:ec2::254]:80": true, "100.100.100.200:80": true,
		"93.184.216.34:443": false, "[2606:4700::6810:84e5]:443": false,
	} {
		err := guardControl("tcp", addr, nil)
		if (err != nil) != refused {
			t.Errorf("%s: refused=%v, want %v (%v)", addr, err != nil, refused, err)
		}
	}
}

// COLLY_* variables change a colly collector behind the program's back;
// they must not change what a session does.
func TestCollyEnvironmentIgnored(t *testing.T) {
	cache := t.TempDir()
	for k, v := range map[string]string{
		"COLLY_USER_AGENT":       "evil-agent",
		"COLLY_IGNORE_ROBOTSTXT": "yes",
		"COLLY_MAX_BODY_SIZE":    "10",
		"COLLY_FOLLOW_REDIRECTS": "no",
		"COLLY_ALLOWED_DOMAINS":  "evil.example",
		"COLLY_CACHE_DIR":        cache,
		"COLLY_DISABLE_COOKIES":  "yes",
	} {
		t.Setenv(k, v)
	}
	f := newFixture(t)
	f.site.setRobots(200, "User-agent: *\nDisallow: /private\n")
	f.site.handle("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/list", http.StatusFound) })
	page := "<html><body>" + strings.Repeat("long enough ", 20) + "</body></html>"
	f.site.html("/list", page)
	f.site.html("/private/x", "<p>secret</p>")
	s := f.open(t)
	p, err := s.Fetch(context.Background(), f.site.URL+"/moved", Validators{})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if string(p.Body) != page {
		t.Errorf("body changed (truncated?): %q", p.Body)
	}
	if ua, _ := f.site.ua.Load().(string); ua != DefaultUserAgent {
		t.Errorf("User-Agent = %q, want %q", ua, DefaultUserAgent)
	}
	_, err = s.Fetch(context.Background(), f.site.URL+"/private/x", Validators{})
	wantKind(t, err, KindBlocked, f.site.URL+"/private/x")
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Errorf("colly cached responses in %s", cache)
	}
}
