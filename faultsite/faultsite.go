// Package faultsite is harvest's own fault-injecting library server, in
// the spirit of Scrapy's mock server: a small paginated publication
// library (Drupal-ish markup, items with detail pages, a robots.txt)
// whose behaviour per page can be switched, while it runs, to one of the
// ways real sites fail: error statuses, Retry-After, challenge and
// maintenance pages, empty or non-HTML bodies, hanging or trickling
// responses, connections reset mid-body, truncated or malformed bodies,
// gzip bombs, redirect loops and off-site redirects, a broken robots.txt,
// an unresolvable host name and a refused connection.
//
// The site is a plain http.Handler; Serve puts it on a loopback port.
// Tests use it to prove that a failure is reported as such, never taken
// for an empty listing or a deletion.
//
// Layout: the listing is /list (page 0), /list?page=1, ... with PerPage
// items each and a "li.pager__item--next a" link to the next page; each
// item is a div.views-row holding "h3 a" (title, link to /pub/SLUG), a
// .views-field-body summary and a labelled Country facet; the page title
// is h1.page-title ("Trafficking"). Each detail page /pub/SLUG holds a
// <dl> with a Publisher. Listing and detail responses carry a strong ETag
// and answer a matching If-None-Match with 304 (see SetConditional).
package faultsite

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind names a fault.
type Kind string

// Faults a page (or robots.txt, or a detail page) can be switched to.
const (
	// OK serves the page normally.
	OK Kind = ""
	// Status answers with Fault.Status (default 503) and a short HTML
	// error page: 5xx, 408, 404, 410 and the like.
	Status Kind = "status"
	// RetryAfter answers Fault.Status (default 429) with a Retry-After
	// header of Fault.RetryAfter (seconds or an HTTP date).
	RetryAfter Kind = "retry-after"
	// Challenge answers 403 with a bot-challenge page ("Just a moment...").
	Challenge Kind = "challenge"
	// Maintenance answers 200 with a maintenance page that has no listing
	// container at all.
	Maintenance Kind = "maintenance"
	// Layout answers 200 with the items wrapped in div.card instead of
	// div.views-row: a redesign that the seed's selectors no longer match.
	Layout Kind = "layout"
	// Empty answers 200, Content-Type text/html, with no body.
	Empty Kind = "empty"
	// NotHTML answers 200 with Fault.ContentType (default
	// application/json) and a body of that type.
	NotHTML Kind = "not-html"
	// Hang never sends headers: the handler waits until the client goes
	// away or the site is closed.
	Hang Kind = "hang"
	// Trickle sends headers and then the page one byte every Fault.Every
	// (default 20ms), so that the whole body would take far longer than
	// any sane deadline.
	Trickle Kind = "trickle"
	// Reset sends headers with the full Content-Length and half the body,
	// then resets the TCP connection (RST).
	Reset Kind = "reset"
	// Truncate sends a Content-Length larger than the body it sends, then
	// closes the connection cleanly.
	Truncate Kind = "truncate"
	// BadChunked sends Transfer-Encoding: chunked with a malformed chunk
	// size line after the first chunk, then closes.
	BadChunked Kind = "bad-chunked"
	// GzipBomb sends Content-Encoding: gzip and a small gzip stream that
	// inflates to Fault.Size bytes (default 16 MiB) of HTML.
	GzipBomb Kind = "gzip-bomb"
	// GzipBody sends the same gzip stream as a .gz file would be served by
	// a misconfigured server: labelled text/html, no Content-Encoding.
	GzipBody Kind = "gzip-body"
	// Oversize answers 200 with Fault.Size bytes (default 16 MiB) of
	// plain, uncompressed HTML.
	Oversize Kind = "oversize"
	// RedirectLoop redirects to /loop-a, which redirects to /loop-b, which
	// redirects back to /loop-a, for ever.
	RedirectLoop Kind = "redirect-loop"
	// RedirectAway redirects (302) to Fault.Target, by default
	// http://elsewhere.example/list: a host outside the seed's
	// allowed_hosts.
	RedirectAway Kind = "redirect-away"
)

// Default parameters of the faults.
const (
	DefaultBombSize     = 16 << 20
	DefaultTrickleEvery = 20 * time.Millisecond
	DefaultAwayTarget   = "http://elsewhere.example/list"
	// DefaultRobots is the robots.txt the site serves unless told
	// otherwise: everything but /admin/ is allowed.
	DefaultRobots = "User-agent: *\nDisallow: /admin/\n"
	// UnresolvableHost is a host name that cannot resolve anywhere (the
	// .invalid top-level domain is reserved for that, RFC 6761).
	UnresolvableHost = "harvest-test.invalid"
	// Host is the name under which Server.NamedURL serves the site,
	// reachable only through Server.Transport.
	Host = "library.test"
)

// Fault is what a page does instead of (or while) serving itself. The
// zero Fault is OK.
type Fault struct {
	Kind        Kind
	Status      int           // Status, RetryAfter: the HTTP status
	RetryAfter  string        // RetryAfter: the header value
	ContentType string        // NotHTML: the Content-Type
	Target      string        // RedirectAway: the absolute URL redirected to
	Size        int64         // GzipBomb, GzipBody, Oversize: (inflated) size in bytes
	Every       time.Duration // Trickle: the pause between bytes
}

// HTTPStatus is a Fault answering code with a short HTML error page.
func HTTPStatus(code int) Fault { return Fault{Kind: Status, Status: code} }

// Retry is a Fault answering code with Retry-After: after (seconds, or an
// HTTP date as http.TimeFormat writes it).
func Retry(code int, after string) Fault {
	return Fault{Kind: RetryAfter, Status: code, RetryAfter: after}
}

// Is is a Fault of kind k with default parameters.
func Is(k Kind) Fault { return Fault{Kind: k} }

// Network is a fault of the site's address rather than of a page; it
// takes effect only through Server.Transport.
type Network string

// Network faults.
const (
	// Reachable dials the site.
	Reachable Network = ""
	// NoSuchHost fails the DNS lookup of the site's name (a *net.DNSError
	// with IsNotFound, as the resolver returns for an unknown name).
	NoSuchHost Network = "no-such-host"
	// Refused dials an address nobody listens on: connection refused.
	Refused Network = "refused"
)

// Item is one publication of the library.
type Item struct {
	Slug      string // the detail page is /pub/SLUG
	Title     string
	Summary   string
	Country   string
	Publisher string // shown on the detail page only
}

// Site is the library and its faults. It is safe for concurrent use;
// every setter takes effect on the next request.
type Site struct {
	mu          sync.Mutex
	items       []Item
	perPage     int
	pages       map[int]Fault    // listing page -> fault
	all         Fault            // fault of every listing page without its own
	details     map[string]Fault // slug -> fault
	robots      Fault
	robotsTxt   string
	conditional bool
	network     Network
	hits        map[string]int // by request URI
	bombs       map[int64][]byte
	done        chan struct{}
	closed      bool
}

// New returns a library of n items (pub-01 ... "Publication 1" ...,
// Country Mexico, Publisher IOM), 4 per page, no faults, the default
// robots.txt, conditional requests answered.
func New(n int) *Site {
	s := &Site{
		perPage:     4,
		pages:       map[int]Fault{},
		details:     map[string]Fault{},
		robotsTxt:   DefaultRobots,
		conditional: true,
		hits:        map[string]int{},
		bombs:       map[int64][]byte{},
		done:        make(chan struct{}),
	}
	for i := 1; i <= n; i++ {
		s.items = append(s.items, Item{
			Slug:      fmt.Sprintf("pub-%02d", i),
			Title:     fmt.Sprintf("Publication %d", i),
			Summary:   "About " + strconv.Itoa(i),
			Country:   "Mexico",
			Publisher: "IOM",
		})
	}
	return s
}

// Set makes listing page n (0 is /list, n is /list?page=n) fail with f;
// Set(n, Fault{}) heals it.
func (s *Site) Set(page int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Kind == OK {
		delete(s.pages, page)
		return
	}
	s.pages[page] = f
}

// SetAll makes every listing page without a fault of its own fail with f.
func (s *Site) SetAll(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = f
}

// SetDetail makes the detail page of slug fail with f.
func (s *Site) SetDetail(slug string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Kind == OK {
		delete(s.details, slug)
		return
	}
	s.details[slug] = f
}

// SetRobots makes /robots.txt fail with f (HTTPStatus(503) for a 5xx,
// HTTPStatus(404) for a missing file, Is(Hang), ...).
func (s *Site) SetRobots(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.robots = f
}

// SetRobotsTxt sets the text of /robots.txt ("User-agent: *\nDisallow:
// /\n", "User-agent: *\nCrawl-delay: 5\n", ...).
func (s *Site) SetRobotsTxt(body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.robotsTxt = body
}

// SetNetwork switches the fault of the site's address (see Network).
func (s *Site) SetNetwork(n Network) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.network = n
}

// SetConditional turns ETag / If-None-Match handling on or off.
func (s *Site) SetConditional(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conditional = on
}

// SetPerPage sets the number of items per listing page (at least 1).
func (s *Site) SetPerPage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perPage = max(1, n)
}

// Heal removes every fault: pages, details, robots.txt (its text is kept)
// and the network.
func (s *Site) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages = map[int]Fault{}
	s.details = map[string]Fault{}
	s.all, s.robots, s.network = Fault{}, Fault{}, Reachable
}

// Items returns a copy of the library's items in listing order.
func (s *Site) Items() []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Item(nil), s.items...)
}

// Add appends an item at the end of the listing.
func (s *Site) Add(it Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, it)
}

// Remove takes the item slug off the listing and its detail page off the
// site; false if there was none.
func (s *Site) Remove(slug string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, it := range s.items {
		if it.Slug == slug {
			s.items = append(s.items[:i], s.items[i+1:]...)
			return true
		}
	}
	return false
}

// Edit changes the item slug in place; false if there is none.
func (s *Site) Edit(slug string, f func(*Item)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.items {
		if s.items[i].Slug == slug {
			f(&s.items[i])
			return true
		}
	}
	return false
}

// Pages is the number of listing pages the items fill (at least 1).
func (s *Site) Pages() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pageCount()
}

func (s *Site) pageCount() int {
	return max(1, (len(s.items)+s.perPage-1)/s.perPage)
}

// PageOf returns the listing page that shows slug, or -1.
func (s *Site) PageOf(slug string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, it := range s.items {
		if it.Slug == slug {
			return i / s.perPage
		}
	}
	return -1
}

// Hits returns how many requests the site answered (or began to) for a
// request URI ("/list?page=1", "/robots.txt", "/pub/pub-03").
func (s *Site) Hits(uri string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[uri]
}

// Close releases every handler that hangs or trickles; the site answers
// nothing afterwards. Call it before closing the HTTP server, which waits
// for its handlers.
func (s *Site) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// ServeHTTP serves the library with its current faults.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.RequestURI()]++
	s.mu.Unlock()
	switch p := r.URL.Path; {
	case p == "/robots.txt":
		s.mu.Lock()
		f, body := s.robots, s.robotsTxt
		s.mu.Unlock()
		s.serve(w, r, f, "text/plain; charset=utf-8", []byte(body))
	case p == "/loop-a":
		http.Redirect(w, r, "/loop-b", http.StatusFound)
	case p == "/loop-b":
		http.Redirect(w, r, "/loop-a", http.StatusFound)
	case strings.HasPrefix(p, "/pub/"):
		slug := strings.TrimPrefix(p, "/pub/")
		s.mu.Lock()
		f := s.details[slug]
		body, ok := s.detail(slug)
		s.mu.Unlock()
		if !ok && f.Kind == OK {
			http.NotFound(w, r)
			return
		}
		s.serve(w, r, f, "text/html; charset=utf-8", body)
	case p == "/list":
		n := 0
		if v := r.URL.Query().Get("page"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 0 {
				http.Error(w, "bad page parameter", http.StatusBadRequest)
				return
			}
		}
		s.mu.Lock()
		f, ok := s.pages[n]
		if !ok {
			f = s.all
		}
		body := s.listing(n, f.Kind == Layout)
		s.mu.Unlock()
		if body == nil && f.Kind == OK {
			http.NotFound(w, r)
			return
		}
		s.serve(w, r, f, "text/html; charset=utf-8", body)
	default:
		http.NotFound(w, r)
	}
}

// listing renders page n, or nil past the last page. Callers hold s.mu.
func (s *Site) listing(n int, redesign bool) []byte {
	if n >= s.pageCount() {
		return nil
	}
	from := min(n*s.perPage, len(s.items))
	to := min(from+s.perPage, len(s.items))
	row := `<div class="views-row">`
	if redesign {
		row = `<div class="card">`
	}
	var b bytes.Buffer
	b.WriteString(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Resource library | Trafficking</title></head>` +
		`<body><nav><a href="/">Home</a> <a href="/admin/">Admin</a></nav><main><h1 class="page-title">Trafficking</h1><div class="view-content">`)
	for _, it := range s.items[from:to] {
		fmt.Fprintf(&b, `%s<h3><a href="/pub/%s">%s</a></h3><div class="views-field-body">%s</div>`+
			`<div class="field field--name-country"><div class="field__label">Country</div><div class="field__items"><div class="field__item">%s</div></div></div></div>`,
			row, html.EscapeString(it.Slug), html.EscapeString(it.Title), html.EscapeString(it.Summary), html.EscapeString(it.Country))
	}
	b.WriteString(`</div>`)
	if to < len(s.items) {
		fmt.Fprintf(&b, `<nav class="pager"><ul><li class="pager__item--next"><a href="/list?page=%d" rel="next">Next ›</a></li></ul></nav>`, n+1)
	}
	b.WriteString(`</main><footer>© Library</footer></body></html>`)
	return b.Bytes()
}

// detail renders the detail page of slug. Callers hold s.mu.
func (s *Site) detail(slug string) ([]byte, bool) {
	for _, it := range s.items {
		if it.Slug == slug {
			return fmt.Appendf(nil, `<!DOCTYPE html><html><head><meta charset="utf-8"><title>%s</title></head><body><h1>%s</h1><dl><dt>Publisher</dt><dd>%s</dd></dl></body></html>`,
				html.EscapeString(it.Title), html.EscapeString(it.Title), html.EscapeString(it.Publisher)), true
		}
	}
	return nil, false
}

// serve answers r with body as ctype, or with fault f.
func (s *Site) serve(w http.ResponseWriter, r *http.Request, f Fault, ctype string, body []byte) {
	h := w.Header()
	switch f.Kind {
	case OK, Layout:
		h.Set("Content-Type", ctype)
		s.mu.Lock()
		cond := s.conditional
		s.mu.Unlock()
		if cond {
			sum := sha256.Sum256(body)
			etag := `"` + hex.EncodeToString(sum[:8]) + `"`
			h.Set("ETag", etag)
			if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, etag) {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	case Status, RetryAfter:
		code := f.Status
		if code == 0 {
			code = http.StatusServiceUnavailable
			if f.Kind == RetryAfter {
				code = http.StatusTooManyRequests
			}
		}
		if f.Kind == RetryAfter {
			h.Set("Retry-After", f.RetryAfter)
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		fmt.Fprintf(w, "<!DOCTYPE html><html><body><h1>%d %s</h1></body></html>", code, http.StatusText(code))
	case Challenge:
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cf-Mitigated", "challenge")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><h1>Checking your browser before accessing the site.</h1><noscript>Enable JavaScript and cookies to continue</noscript></body></html>`)
	case Maintenance:
		h.Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>Site under maintenance</title></head><body><h1>Site under maintenance</h1><p>We are performing scheduled maintenance and will be back shortly.</p></body></html>`)
	case Empty:
		h.Set("Content-Type", ctype)
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	case NotHTML:
		ct := f.ContentType
		if ct == "" {
			ct = "application/json"
		}
		h.Set("Content-Type", ct)
		fmt.Fprint(w, `{"items":[],"error":"this endpoint serves JSON"}`)
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
	case Trickle:
		every := f.Every
		if every <= 0 {
			every = DefaultTrickleEvery
		}
		h.Set("Content-Type", ctype)
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		t := time.NewTicker(every)
		defer t.Stop()
		for i := 0; ; i = (i + 1) % max(1, len(body)) {
			if len(body) > 0 {
				w.Write(body[i : i+1])
			} else {
				w.Write([]byte(" "))
			}
			if rc.Flush() != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-s.done:
				return
			case <-t.C:
			}
		}
	case Reset:
		raw(w, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", ctype, len(body)), body[:len(body)/2], true)
	case Truncate:
		raw(w, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", ctype, len(body)+1000), body[:len(body)/2], false)
	case BadChunked:
		half := body[:len(body)/2]
		chunk := fmt.Appendf(nil, "%x\r\n%s\r\nzz;not-a-size\r\n%s\r\n0\r\n\r\n", len(half), half, body[len(half):])
		raw(w, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n", ctype), chunk, false)
	case GzipBomb, GzipBody:
		bomb := s.bomb(f.Size)
		h.Set("Content-Type", ctype)
		if f.Kind == GzipBomb {
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("Content-Length", strconv.Itoa(len(bomb)))
		w.Write(bomb)
	case Oversize:
		size := f.Size
		if size <= 0 {
			size = DefaultBombSize
		}
		h.Set("Content-Type", ctype)
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		pad := bytes.Repeat([]byte(" "), 64<<10)
		for left := size; left > 0; left -= int64(len(pad)) {
			if _, err := w.Write(pad[:min(int64(len(pad)), left)]); err != nil {
				return // the client gave up, as it should
			}
		}
	case RedirectLoop:
		http.Redirect(w, r, "/loop-a", http.StatusFound)
	case RedirectAway:
		target := f.Target
		if target == "" {
			target = DefaultAwayTarget
		}
		http.Redirect(w, r, target, http.StatusFound)
	default:
		http.Error(w, "faultsite: unknown fault "+string(f.Kind), http.StatusInternalServerError)
	}
}

// raw hijacks the connection, writes head and body as they are, and
// closes it: with reset, by a TCP RST instead of a clean FIN.
func raw(w http.ResponseWriter, head string, body []byte, reset bool) {
	conn, bw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "faultsite: cannot hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	bw.WriteString(head)
	bw.Write(body)
	bw.Flush()
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		// Let the bytes leave before the RST discards what is queued.
		time.Sleep(10 * time.Millisecond)
		tc.SetLinger(0)
	}
}

// bomb returns a gzip stream inflating to size bytes of HTML (cached).
func (s *Site) bomb(size int64) []byte {
	if size <= 0 {
		size = DefaultBombSize
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.bombs[size]; ok {
		return b
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	head := []byte(`<!DOCTYPE html><html><body><div class="view-content">`)
	zw.Write(head)
	pad := bytes.Repeat([]byte(" "), 64<<10)
	for left := size - int64(len(head)); left > 0; left -= int64(len(pad)) {
		zw.Write(pad[:min(int64(len(pad)), left)])
	}
	zw.Close()
	s.bombs[size] = buf.Bytes()
	return s.bombs[size]
}

// Server is a Site served over HTTP on a loopback port.
type Server struct {
	*httptest.Server
	Site *Site
	dead string // host:port nobody listens on
}

// Serve starts an HTTP server for s on a loopback port.
func (s *Site) Serve() (*Server, error) {
	dead, err := ClosedAddr()
	if err != nil {
		return nil, err
	}
	return &Server{Server: httptest.NewServer(s), Site: s, dead: dead}, nil
}

// Close releases hanging handlers and shuts the server down.
func (srv *Server) Close() {
	srv.Site.Close()
	srv.Server.Close()
}

// NamedURL is the site's base URL under the name Host
// ("http://library.test:PORT"). Only Transport reaches it, and only
// while the site's Network is Reachable.
func (srv *Server) NamedURL() string {
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return "http://" + net.JoinHostPort(Host, port)
}

// Transport is an HTTP transport that dials the server for every host
// name, except that the site's Network fault applies: NoSuchHost fails
// the lookup with a *net.DNSError, Refused dials a closed port. It does
// not guard against private addresses.
func (srv *Server) Transport() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			srv.Site.mu.Lock()
			n := srv.Site.network
			srv.Site.mu.Unlock()
			switch n {
			case NoSuchHost:
				return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
			case Refused:
				return d.DialContext(ctx, network, srv.dead)
			}
			return d.DialContext(ctx, network, srv.Listener.Addr().String())
		},
		DisableKeepAlives: true, // every request sees the current Network
	}
}

// ClosedAddr returns a loopback host:port that refuses connections: a
// listener's address, closed at once.
func ClosedAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("faultsite: reserve a closed port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("faultsite: close %s: %w", addr, err)
	}
	return addr, nil
}

// SeedYAML is a seed that reads this library's listing (div.views-row
// items, the h3 title link, the summary, the Country facet, the page
// heading as category) at baseURL/list, following next links, with no
// delay and loopback allowed. Extra YAML lines (schedule:, guards:,
// detail: ...) are appended as they are.
func SeedYAML(id, baseURL string, extra ...string) []byte {
	return []byte(fmt.Sprintf(`id: %s
start_urls: ["%s/list"]
allow_private_networks: true
politeness: {delay: 0s, concurrency: 2}
limits: {timeout: 5s}
pagination: {next: "li.pager__item--next a"}
page:
  categories: {select: "h1.page-title"}
items: "div.views-row"
fields:
  title: {select: "h3 a", required: true}
  url: {select: "h3 a", attr: href, type: url}
  summary: {select: ".views-field-body"}
  countries: {label: Country, list: true}
`, id, baseURL) + strings.Join(extra, ""))
}
