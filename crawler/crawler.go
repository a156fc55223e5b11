// Package crawler owns HTTP for harvest: it fetches the pages of one
// source politely (robots.txt, per-host delay and parallelism, a user
// agent naming the project), safely (allowed hosts only, no private
// addresses, bounded size and time) and honestly (every failure is an
// *Error with a Kind; a page is either whole, valid UTF-8 HTML or an
// error, never a silent partial). It knows nothing of record fields and
// does not parse listings; the run step drives it page by page.
//
// Requests go through a gocolly/colly v2 collector configured from the
// seed. colly's own robots.txt handling, body-size cap (which truncates
// silently), charset conversion and COLLY_* environment overrides are all
// neutralised: the crawler does those itself so their outcome is
// classified.
package crawler

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gocolly/colly/v2"
	"golang.org/x/net/idna"

	"github.com/harvest-dev/harvest/seeds"
)

// DefaultContact is the contact URL of the default user agent: where a
// site's operator learns what harvest is. Deployments should set their
// own (Config.Contact): a page or mailto: URL that reaches whoever runs
// the crawl.
const DefaultContact = "https://github.com/harvest-dev/harvest"

// DefaultUserAgent is sent when neither the seed nor Config names one.
const DefaultUserAgent = "harvest/0.1 (+" + DefaultContact + ")"

// UserAgentFor is the default user agent with another contact URL:
// "harvest/0.1 (+CONTACT)".
func UserAgentFor(contact string) string {
	contact = strings.TrimSpace(contact)
	if contact == "" {
		contact = DefaultContact
	}
	return "harvest/0.1 (+" + contact + ")"
}

// DefaultMaxRetries is how often a transient failure is retried.
const DefaultMaxRetries = 3

// Backoff bounds: the n-th retry waits a random duration in
// [base·2ⁿ/2, base·2ⁿ], at most maxWait; Retry-After is honoured up to
// maxWait.
const (
	backoffBase = time.Second
	maxWait     = 60 * time.Second
	maxRedirect = 10
)

// Config holds what the crawler needs from its caller. Every field is
// optional.
type Config struct {
	// Transport carries the requests. nil: the crawler builds its own,
	// which refuses to dial loopback, private, link-local, unspecified and
	// metadata addresses unless the seed allows private networks. A given
	// Transport (tests) is used as is: the allowed-hosts check still
	// applies, the address guard does not.
	Transport http.RoundTripper
	// Logger receives retries, robots.txt outcomes and the like; nil
	// discards.
	Logger *slog.Logger
	// Now is the clock for Page.Duration and politeness pacing; nil:
	// time.Now.
	Now func() time.Time
	// Sleep waits for politeness delays and retry backoffs, returning
	// early with ctx's error when ctx is done. nil: a real timer. Tests
	// inject one that records the waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// UserAgent is sent unless the seed's politeness.user_agent is set;
	// default UserAgentFor(Contact).
	UserAgent string
	// Contact is the URL (or mailto:) that the default user agent names,
	// so that a site's operator can reach whoever runs the crawl; default
	// DefaultContact. Ignored when UserAgent is set.
	Contact string
	// MaxRetries is how often a transient failure (network error,
	// timeout, 408, 429, 5xx) is retried; 0 means DefaultMaxRetries, a
	// negative value means never.
	MaxRetries int
}

// Crawler fetches pages. It is safe for concurrent use; one Crawler can
// serve every source of a daemon, and should: the politeness of a host
// (its delay and concurrency) is kept here, shared by every session of
// every source on that host.
type Crawler struct {
	cfg     Config
	log     *slog.Logger
	guarded http.RoundTripper // refuses non-public addresses
	open    http.RoundTripper // for seeds with allow_private_networks

	mu    sync.Mutex
	hosts map[string]*hostGate // by lower-case host:port
}

// hostGate paces and bounds the requests of all sessions to one host.
type hostGate struct {
	mu       sync.Mutex
	inflight int
	last     time.Time     // scheduled start of the latest request
	started  bool          // last is set
	freed    chan struct{} // closed (and replaced) when a request ends
}

// gate returns the gate of hostport, creating it on first use.
func (c *Crawler) gate(hostport string) *hostGate {
	key := strings.ToLower(hostport)
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.hosts[key]
	if !ok {
		g = &hostGate{freed: make(chan struct{})}
		c.hosts[key] = g
	}
	return g
}

// acquire waits until fewer than limit requests (of any session) are in
// flight to the host, and counts one more. Each caller brings its own
// seed's limit, so a source asking for 1 waits for the host to be idle.
func (g *hostGate) acquire(ctx context.Context, limit int) error {
	for {
		g.mu.Lock()
		if g.inflight < max(1, limit) {
			g.inflight++
			g.mu.Unlock()
			return nil
		}
		freed := g.freed
		g.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release ends a request counted by acquire.
func (g *hostGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight--
	close(g.freed)
	g.freed = make(chan struct{})
}

// slot returns when a request may start, at least d after the previous
// request to the host (from any session) started, and reserves it.
func (g *hostGate) slot(now time.Time, d time.Duration) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	start := now
	if g.started && g.last.Add(d).After(start) {
		start = g.last.Add(d)
	}
	g.last, g.started = start, true
	return start
}

// New returns a crawler with cfg's defaults applied.
func New(cfg Config) *Crawler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepTimer
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = UserAgentFor(cfg.Contact)
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	c := &Crawler{cfg: cfg, log: cfg.Logger, hosts: map[string]*hostGate{}}
	if cfg.Transport != nil {
		c.guarded, c.open = cfg.Transport, cfg.Transport
	} else {
		c.guarded, c.open = newTransport(true), newTransport(false)
	}
	return c
}

// backoff is the jittered exponential wait before retry number attempt+1.
func (c *Crawler) backoff(attempt int) time.Duration {
	d := backoffBase << min(attempt, 10)
	d = min(d, maxWait)
	return d/2 + rand.N(d/2+1)
}

// Session is one run's connection to one source: a colly collector set
// up from the seed, the robots.txt of its hosts and the politeness pacing.
// Fetch is safe to call from several goroutines.
type Session struct {
	c            *Crawler
	seed         *seeds.Seed
	log          *slog.Logger
	collector    *colly.Collector
	robotsClient *http.Client
	userAgent    string
	agent        string // robots.txt product token, lower case
	allowed      map[string]bool
	timeout      time.Duration
	maxBody      int64
	parallel     int // politeness.concurrency: requests in flight per host

	mu     sync.Mutex
	robots map[string]*robotsEntry // by scheme://host:port
	delay  map[string]time.Duration
}

// Open prepares one run of source s: a colly collector with the seed's
// user agent, request timeout and allowed hosts (politeness.concurrency
// and delay apply per host through the Crawler, shared with every other
// session on the host),
// and the robots.txt of every start URL's host (unless the seed sets
// politeness.robots: false). A robots.txt that cannot be loaded (5xx,
// unreachable) makes Open fail with KindBlocked: the run is blocked, not
// failed. A Crawl-delay raises the seed's delay for that host.
func (c *Crawler) Open(ctx context.Context, s *seeds.Seed) (*Session, error) {
	if s == nil {
		return nil, errors.New("crawler: open: nil seed")
	}
	ua := s.Politeness.UserAgent
	if ua == "" {
		ua = c.cfg.UserAgent
	}
	timeout := s.Limits.Timeout.D()
	if timeout <= 0 {
		timeout = seeds.DefaultTimeout
	}
	maxBody := int64(s.Limits.MaxBody)
	if maxBody <= 0 {
		maxBody = seeds.DefaultMaxBody
	}
	sess := &Session{
		c:         c,
		seed:      s,
		log:       c.log.With("source", s.ID),
		userAgent: ua,
		agent:     productToken(ua),
		allowed:   map[string]bool{},
		timeout:   timeout,
		maxBody:   maxBody,
		robots:    map[string]*robotsEntry{},
		delay:     map[string]time.Duration{},
		parallel:  s.Politeness.Concurrency,
	}
	if sess.parallel <= 0 {
		sess.parallel = seeds.DefaultConcurrency
	}
	allowedHosts := s.AllowedHosts
	if len(allowedHosts) == 0 { // a seed built in code without defaults
		for _, raw := range append(append([]string{}, s.StartURLs...), s.Pagination.URLs...) {
			if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
				allowedHosts = append(allowedHosts, u.Hostname())
			}
		}
	}
	var hosts []string
	for _, h := range allowedHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		// An internationalised name may arrive in either form.
		forms := []string{h}
		if a, err := idna.Lookup.ToASCII(h); err == nil {
			forms = append(forms, a)
		}
		if u, err := idna.Lookup.ToUnicode(h); err == nil {
			forms = append(forms, u)
		}
		for _, f := range forms {
			if f != "" && !sess.allowed[f] {
				sess.allowed[f] = true
				hosts = append(hosts, f)
			}
		}
	}
	base := c.guarded
	if s.AllowPrivateNetworks {
		base = c.open
	}
	sess.robotsClient = &http.Client{Transport: base, CheckRedirect: robotsRedirect}

	col, err := sess.newCollector(base, hosts)
	if err != nil {
		return nil, fmt.Errorf("source %s: set up collector: %w", s.ID, err)
	}
	sess.collector = col

	if s.Politeness.ObeyRobots() {
		seen := map[string]bool{}
		for _, raw := range append(append([]string{}, s.StartURLs...), s.Pagination.URLs...) {
			u, err := url.Parse(raw)
			if err != nil || u.Host == "" {
				continue // seeds.Parse reports these
			}
			origin := strings.ToLower(u.Scheme + "://" + u.Host)
			if seen[origin] || !sess.allowed[strings.ToLower(u.Hostname())] {
				continue
			}
			seen[origin] = true
			if _, err := sess.robotsFor(ctx, u); err != nil {
				return nil, err
			}
		}
	}
	return sess, nil
}

// newCollector builds the session's colly collector. NewCollector applies
// COLLY_* environment variables after the options, so every setting that
// matters is applied again afterwards: the environment of the process
// must not change what a seed says.
func (s *Session) newCollector(base http.RoundTripper, hosts []string) (*colly.Collector, error) {
	col := colly.NewCollector()
	col.UserAgent = s.userAgent
	col.Headers = nil
	col.AllowedDomains = hosts
	col.DisallowedDomains = nil
	col.DisallowedURLFilters = nil
	col.URLFilters = nil
	col.AllowURLRevisit = true // a run may fetch a URL again (retries, detail pages)
	col.MaxBodySize = 0        // colly truncates silently; sessionTransport enforces max_body
	col.MaxDepth = 0
	col.MaxRequests = 0
	col.CacheDir = ""
	col.IgnoreRobotsTxt = true // robots.txt is handled (and classified) by the session
	col.Async = false
	col.ParseHTTPErrorResponse = true // every status reaches us; we classify it
	col.DetectCharset = false         // DecodeHTML does charsets
	col.CheckHead = false
	col.TraceHTTP = false
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	col.SetCookieJar(jar)
	col.WithTransport(&sessionTransport{base: base, maxBody: s.maxBody})
	// limits.timeout is a deadline on each attempt's context (see
	// attempt), not http.Client.Timeout: with a client timeout and a
	// RoundTripper that is not a bare *http.Transport, net/http starts a
	// timer goroutine per request and the transport a second goroutine
	// awaiting the legacy Request.Cancel channel.
	col.SetRequestTimeout(0)
	col.SetRedirectHandler(s.checkRedirect)
	// No colly LimitRule: per-host parallelism and delay are the
	// Crawler's, shared by every session on the host (see Fetch).
	for _, h := range hosts {
		s.delay[h] = s.seed.Politeness.Delay.D()
	}
	return col, nil
}

// productToken is the robots.txt name of a user agent: "harvest" for
// "harvest/0.1 (+https://...)".
func productToken(ua string) string {
	t := ua
	if i := strings.IndexAny(t, "/ ("); i >= 0 {
		t = t[:i]
	}
	if t == "" {
		t = ua
	}
	return strings.ToLower(t)
}

// raiseDelay makes the politeness delay of host at least d (robots.txt
// Crawl-delay).
func (s *Session) raiseDelay(hostport string, d time.Duration) {
	h := strings.ToLower(hostname(hostport))
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > s.delay[h] {
		s.log.Info("robots.txt Crawl-delay raises the delay", "host", h, "delay", d)
		s.delay[h] = d
	}
}

// Delay returns the politeness delay between requests to host: the seed's
// delay, raised by the host's robots.txt Crawl-delay once that is loaded.
func (s *Session) Delay(host string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.delay[strings.ToLower(hostname(host))]; ok {
		return d
	}
	return s.seed.Politeness.Delay.D()
}

func hostname(hostport string) string {
	u := url.URL{Host: hostport}
	return u.Hostname()
}

// pace waits until a request to hostport may start: requests to one host,
// from every session of the Crawler, start at least this session's delay
// for the host apart, whatever the concurrency. The caller holds a slot
// of the host's gate, so the start it reserves is the one it takes.
func (s *Session) pace(ctx context.Context, g *hostGate, hostport string) error {
	now := s.c.cfg.Now()
	start := g.slot(now, s.Delay(hostport))
	if w := start.Sub(now); w > 0 {
		return s.c.cfg.Sleep(ctx, w)
	}
	return ctx.Err()
}

// errorf builds an *Error of this session's source.
func (s *Session) errorf(rawURL string, status int, kind Kind, format string, args ...any) *Error {
	return &Error{Source: s.seed.ID, URL: rawURL, Status: status, Kind: kind, Err: fmt.Errorf(format, args...)}
}

// redirectError is a redirect the session refused to follow.
type redirectError struct {
	kind Kind
	err  error
}

func (e *redirectError) Error() string { return e.err.Error() }
func (e *redirectError) Unwrap() error { return e.err }

// checkRedirect runs on every redirect hop (after colly's allowed-domains
// filter): loops, schemes, allowed hosts and robots.txt of the target.
func (s *Session) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirect {
		return &redirectError{KindRefused, fmt.Errorf("stopped after %d redirects (redirect loop?), last to %s", len(via), req.URL.Redacted())}
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return &redirectError{KindRefused, fmt.Errorf("redirect to %s: not http(s)", req.URL.Redacted())}
	}
	if !s.allowed[strings.ToLower(req.URL.Hostname())] {
		return &redirectError{KindRefused, fmt.Errorf("redirect to %s: host %q is not in allowed_hosts", req.URL.Redacted(), req.URL.Hostname())}
	}
	if err := s.checkRobots(req.Context(), req.URL); err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			return &redirectError{fe.Kind, fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), fe.Err)}
		}
		return err
	}
	return nil
}

// Fetch GETs one page of the session's source and returns it as valid
// UTF-8 HTML, or an *Error naming the source, the URL and the cause:
//
//   - the URL's host (and every redirect target's) must be in
//     allowed_hosts, else KindRefused; robots.txt must allow it, else
//     KindBlocked; a loopback/private/metadata address is refused at dial
//     time (KindRefused) unless the seed allows private networks;
//   - v makes the request conditional; 304 gives Page{NotModified: true};
//   - 404/410 KindNotFound; 401/403 KindBlocked; 408, 429, 5xx, network
//     errors and timeouts KindTransient, retried with jittered
//     exponential backoff (Retry-After honoured, at most 60s); other
//     statuses KindBadPage;
//   - a body over limits.max_body (after decompression) is KindTooLarge; a
//     truncated body, an empty one or one that is not HTML is KindBadPage;
//   - a cancelled ctx aborts the request; the error wraps ctx.Err().
func (s *Session) Fetch(ctx context.Context, rawURL string, v Validators) (*Page, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, s.errorf(rawURL, 0, KindRefused, "not an absolute http(s) URL")
	}
	if !s.allowed[strings.ToLower(u.Hostname())] {
		return nil, s.errorf(rawURL, 0, KindRefused, "host %q is not in allowed_hosts", u.Hostname())
	}
	if err := s.checkRobots(ctx, u); err != nil {
		return nil, err
	}
	g := s.c.gate(u.Host)
	for attempt := 0; ; attempt++ {
		if err := g.acquire(ctx, s.parallel); err != nil {
			return nil, s.errorf(rawURL, 0, KindTransient, "cancelled: %w", err)
		}
		if err := s.pace(ctx, g, u.Host); err != nil {
			g.release()
			return nil, s.errorf(rawURL, 0, KindTransient, "cancelled: %w", err)
		}
		page, ferr, retryAfter := s.attempt(ctx, rawURL, v)
		g.release() // not held while backing off
		if ferr == nil {
			return page, nil
		}
		if ferr.Kind != KindTransient || ctx.Err() != nil {
			return nil, ferr
		}
		if attempt >= s.c.cfg.MaxRetries {
			if attempt > 0 {
				ferr.Err = fmt.Errorf("%w (gave up after %d attempts)", ferr.Err, attempt+1)
			}
			return nil, ferr
		}
		wait := s.c.backoff(attempt)
		if retryAfter >= 0 {
			wait = min(retryAfter, maxWait)
		}
		s.log.Info("retrying fetch", "url", rawURL, "attempt", attempt+1, "err", ferr.Err, "status", ferr.Status, "wait", wait)
		if err := s.c.cfg.Sleep(ctx, wait); err != nil {
			return nil, s.errorf(rawURL, 0, KindTransient, "cancelled while waiting to retry (%v): %w", ferr.Err, err)
		}
	}
}

// attempt makes one request. retryAfter is the server's Retry-After (-1
// when it sent none).
func (s *Session) attempt(ctx context.Context, rawURL string, v Validators) (*Page, *Error, time.Duration) {
	x := &exchange{}
	col := s.collector.Clone() // shares the HTTP client, limits and cookies
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	col.Context = context.WithValue(rctx, exchangeKey{}, x)
	var body []byte
	col.OnResponse(func(r *colly.Response) { body = r.Body })

	hdr := http.Header{}
	hdr.Set("User-Agent", s.userAgent)
	hdr.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")
	if v.ETag != "" {
		hdr.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		hdr.Set("If-Modified-Since", v.LastModified)
	}
	start := s.c.cfg.Now()
	err := col.Request(http.MethodGet, rawURL, nil, nil, hdr)
	dur := s.c.cfg.Now().Sub(start)
	status, header, finalURL := x.get()
	if b, ok := x.takeBody(); ok {
		body = b
	}
	if finalURL == "" {
		finalURL = rawURL
	}
	if err != nil {
		return nil, s.classify(ctx, rawURL, status, header, err), retryAfterOf(status, header, s.c.cfg.Now())
	}
	page := &Page{
		URL:          rawURL,
		FinalURL:     finalURL,
		Status:       status,
		Header:       header,
		ETag:         header.Get("ETag"),
		LastModified: header.Get("Last-Modified"),
		Bytes:        len(body),
		Duration:     dur,
	}
	switch {
	case status == http.StatusNotModified:
		page.NotModified = true
		page.Bytes = 0
		if page.ETag == "" {
			page.ETag = v.ETag
		}
		if page.LastModified == "" {
			page.LastModified = v.LastModified
		}
		return page, nil, 0
	case status >= 200 && status < 300:
	default:
		return nil, s.statusError(rawURL, status), retryAfterOf(status, header, s.c.cfg.Now())
	}
	ct := header.Get("Content-Type")
	if !isHTML(ct) {
		return nil, s.errorf(rawURL, status, KindBadPage, "content type %q is not HTML", ct), -1
	}
	if len(body) == 0 {
		return nil, s.errorf(rawURL, status, KindBadPage, "empty body"), -1
	}
	utf, err := decodeHTML(ct, body, true) // body is ours: colly read it into a new slice
	if err != nil {
		return nil, s.errorf(rawURL, status, KindBadPage, "convert to UTF-8: %w", err), -1
	}
	page.Body = utf
	return page, nil, 0
}

// isHTML accepts a missing content type, text/html and
// application/xhtml+xml.
func isHTML(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt := strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
	return mt == "text/html" || mt == "application/xhtml+xml"
}

// statusError classifies a final HTTP status that is not 2xx or 304.
func (s *Session) statusError(rawURL string, status int) *Error {
	text := http.StatusText(status)
	if text == "" {
		text = "unexpected status"
	}
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		return s.errorf(rawURL, status, KindNotFound, "%s", text)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return s.errorf(rawURL, status, KindBlocked, "%s (access denied or a challenge page)", text)
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return s.errorf(rawURL, status, KindTransient, "%s", text)
	}
	return s.errorf(rawURL, status, KindBadPage, "%s", text)
}

// classify turns a failed request into an *Error.
func (s *Session) classify(ctx context.Context, rawURL string, status int, header http.Header, err error) *Error {
	if ctx.Err() != nil {
		return s.errorf(rawURL, 0, KindTransient, "cancelled: %w", ctx.Err())
	}
	var (
		ae *AddressError
		re *redirectError
		te *TooLargeError
	)
	switch {
	case errors.As(err, &ae):
		return s.errorf(rawURL, 0, KindRefused, "%w", ae)
	case errors.As(err, &re):
		return s.errorf(rawURL, 0, re.kind, "%w", re)
	case errors.Is(err, colly.ErrForbiddenDomain):
		return s.errorf(rawURL, 0, KindRefused, "host not in allowed_hosts: %w", err)
	}
	// The status line arrived: an error status wins over a body problem.
	if status != 0 && status != http.StatusNotModified && (status < 200 || status >= 300) {
		return s.statusError(rawURL, status)
	}
	switch {
	case errors.As(err, &te):
		return s.errorf(rawURL, status, KindTooLarge, "%w", te)
	case errors.Is(err, errEncoding):
		return s.errorf(rawURL, status, KindBadPage, "%w", err)
	case isTimeout(err):
		return s.errorf(rawURL, status, KindTransient, "%s", s.timeoutCause(err))
	case status != 0 && (isTruncation(err) || !isNetwork(err)):
		// The status line arrived and the body then broke the protocol
		// (a short Content-Length, a malformed chunk, corrupt gzip):
		// the server sent a broken page; asking again rarely helps.
		return s.errorf(rawURL, status, KindBadPage, "truncated or corrupt body: %w", err)
	}
	return s.errorf(rawURL, status, KindTransient, "%w", err)
}

// isTimeout reports a request that ran out of time (the session's
// limits.timeout, not the caller's context: classify checks that first).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// isNetwork reports an error of the connection itself (reset, refused,
// DNS), as opposed to a malformed response.
func isNetwork(err error) bool {
	var (
		oe *net.OpError
		de *net.DNSError
	)
	return errors.As(err, &oe) || errors.As(err, &de) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// timeoutCause says that a request ran out of limits.timeout. It does not
// wrap the underlying context.DeadlineExceeded: the caller's context was
// not cancelled, and must not look as if it had been.
func (s *Session) timeoutCause(err error) string {
	return fmt.Sprintf("no complete response within limits.timeout (%v): %v", s.timeout, err)
}

// isTruncation reports a body that ended early or does not decompress.
func isTruncation(err error) bool {
	var ce flate.CorruptInputError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) ||
		errors.Is(err, gzip.ErrHeader) || errors.As(err, &ce)
}

// retryAfterOf reads Retry-After (seconds or an HTTP date) of a transient
// status; -1 when absent or unusable.
func retryAfterOf(status int, h http.Header, now time.Time) time.Duration {
	if status == 0 || h == nil {
		return -1
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return -1
	}
	var secs int64
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v {
		if secs < 0 {
			return -1
		}
		return min(time.Duration(secs)*time.Second, maxWait)
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return min(d, maxWait)
	}
	return -1
}
