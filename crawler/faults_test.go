package crawler

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestMalformedChunkIsABadPageNotRetried(t *testing.T) {
	f := newFixture(t)
	f.site.handle("/bad", hijack("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n<html>\r\nzz;x\r\n<body>\r\n0\r\n\r\n"))
	s := f.open(t)
	p, err := s.Fetch(context.Background(), f.site.URL+"/bad", Validators{})
	if p != nil {
		t.Errorf("a page with broken chunks was returned: %q", p.Body)
	}
	fe := wantKind(t, err, KindBadPage, f.site.URL+"/bad")
	if !strings.Contains(fe.Error(), "truncated or corrupt body") || fe.Status != 200 {
		t.Errorf("error = %v (status %d)", fe, fe.Status)
	}
	if n := len(f.sleeps.all()); n != 0 {
		t.Errorf("a corrupt body was retried (%d waits)", n)
	}
}

func TestTimeoutNamesTheLimitNotTheCallersContext(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	f.site.handle("/hang", hang)
	s := f.open(t, "limits: {timeout: 50ms, max_body: 64KiB}")
	_, err := s.Fetch(context.Background(), f.site.URL+"/hang", Validators{})
	wantKind(t, err, KindTransient, f.site.URL+"/hang")
	if !strings.Contains(err.Error(), "no complete response within limits.timeout (50ms)") {
		t.Errorf("error should name the limit: %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a request timeout must not look like the caller's deadline: %v", err)
	}

	// The same for robots.txt: blocked, saying why.
	f2 := newFixture(t)
	f2.site.robots.Store(hang)
	_, err = f2.cr.Open(context.Background(), seedFor(t, f2.site.URL, "limits: {timeout: 50ms, max_body: 64KiB}"))
	wantKind(t, err, KindBlocked, f2.site.URL+"/robots.txt")
	if !strings.Contains(err.Error(), "limits.timeout (50ms)") || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("robots.txt timeout: %v", err)
	}
}

func TestGzipBodyWithoutContentEncoding(t *testing.T) {
	f := newFixture(t)
	small := "<html><body>" + strings.Repeat("ok ", 1000) + "</body></html>"
	serve := func(b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html") // a .html.gz served as is
			w.Write(b)
		}
	}
	f.site.handle("/small", serve(gzipped(t, []byte(small))))
	f.site.handle("/bomb", serve(gzipped(t, []byte("<html><body>"+strings.Repeat(" ", 1<<20)+"</body></html>"))))
	s := f.open(t)
	p, err := s.Fetch(context.Background(), f.site.URL+"/small", Validators{})
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Body) != small || p.Bytes != len(small) {
		t.Errorf("gzip body: %d bytes, decoded=%v", p.Bytes, string(p.Body) == small)
	}
	_, err = s.Fetch(context.Background(), f.site.URL+"/bomb", Validators{})
	wantKind(t, err, KindTooLarge, f.site.URL+"/bomb")
}

// A body that stops arriving after the headers (the crawler reads it in
// its transport) runs out of limits.timeout like a server that never
// answers: transient, naming the limit.
func TestBodyStallIsATimeout(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.site.handle("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", "100000")
		_, _ = w.Write([]byte("<html><body><div>first part"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s := f.open(t, "limits: {timeout: 50ms, max_body: 64KiB}")
	p, err := s.Fetch(context.Background(), f.site.URL+"/stall", Validators{})
	if p != nil {
		t.Errorf("a stalled page was returned: %q", p.Body)
	}
	wantKind(t, err, KindTransient, f.site.URL+"/stall")
	if !strings.Contains(err.Error(), "no complete response within limits.timeout (50ms)") || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error should name the limit: %v", err)
	}
}

// A body longer than its Content-Length hint sizes the buffer (gzip: the
// compressed length) arrives whole, and so does one without any length.
func TestBodySizesFromContentLength(t *testing.T) {
	f := newFixture(t)
	page := "<html><body>" + strings.Repeat("<p>Año — café</p>", 5000) + "</body></html>"
	f.site.handle("/plain", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page)) // net/http sets Content-Length
	})
	f.site.handle("/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		for i := 0; i < len(page); i += 1000 {
			_, _ = w.Write([]byte(page[i:min(i+1000, len(page))]))
			w.(http.Flusher).Flush()
		}
	})
	gz := gzipped(t, []byte(page)) // inflates far beyond 4x
	f.site.handle("/gz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(gz)
	})
	s := f.open(t, "limits: {max_body: 1MiB}")
	for _, path := range []string{"/plain", "/chunked", "/gz"} {
		p, err := s.Fetch(context.Background(), f.site.URL+path, Validators{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if string(p.Body) != page || p.Bytes != len(page) {
			t.Errorf("%s: body of %d bytes (Bytes %d), want the %d-byte page", path, len(p.Body), p.Bytes, len(page))
		}
	}
}
