package crawler

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/harvest-dev/harvest/netguard"
)

// AddressError is a connection the guarded transport refused because the
// resolved address is not a public internet address (see netguard).
type AddressError = netguard.AddressError

// guardControl is the dial-time guard of the crawler's own transport.
var guardControl = netguard.Control("set allow_private_networks: true in the seed to allow it")

// newTransport builds the crawler's own transport. With guard, dialling a
// non-public address fails with *AddressError. Proxies from the environment
// are not used: the guard must see the address of the site itself.
func newTransport(guard bool) *http.Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if guard {
		d.Control = guardControl
	}
	return &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 0, // the session's limits.timeout bounds each whole exchange
	}
}

// TooLargeError is a response body over the seed's limits.max_body,
// measured after decompression.
type TooLargeError struct{ Limit int64 }

// Error names the limit that was exceeded.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("body larger than limits.max_body (%d bytes, after decompression)", e.Limit)
}

// errEncoding is a Content-Encoding the crawler cannot decode.
var errEncoding = errors.New("unsupported content encoding")

// exchange records the final response of one fetch as the transport saw
// it, before colly touches it. It travels in the request context.
type exchange struct {
	mu       sync.Mutex
	status   int
	header   http.Header
	finalURL string
	body     []byte // the final response's body, read by sessionTransport
	read     bool   // body was read (colly saw an empty body)
}

type exchangeKey struct{}

func (x *exchange) set(res *http.Response, h http.Header) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.status = res.StatusCode
	x.header = h
	x.finalURL = res.Request.URL.String()
}

func (x *exchange) reset() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.status, x.header, x.finalURL = 0, nil, ""
	x.body, x.read = nil, false
}

func (x *exchange) setBody(b []byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.body, x.read = b, true
}

// takeBody returns the body sessionTransport read, and whether it read
// one (otherwise colly's response holds it).
func (x *exchange) takeBody() ([]byte, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	b, ok := x.body, x.read
	x.body = nil
	return b, ok
}

func (x *exchange) get() (int, http.Header, string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status, x.header, x.finalURL
}

// sessionTransport wraps the base transport of a session: it decodes gzip
// itself when the base transport did not, measures the decompressed body
// against max_body (an error, never a silent truncation), and records the
// response headers in the request's exchange. It hides Content-Type from
// colly so that colly does not convert the charset behind our back: the
// original header is kept in the exchange and DecodeHTML does the work.
//
// The body of a final response (not a redirect being followed) of a fetch
// with an exchange is read here, into one buffer sized from Content-Length
// when the server sent one, and kept in the exchange; colly sees an empty
// body. That spares colly's io.ReadAll, which grows its buffer in chunks
// and copies them into a final slice: one copy of the page instead of two.
type sessionTransport struct {
	base    http.RoundTripper
	maxBody int64
}

// RoundTrip implements http.RoundTripper.
func (t *sessionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	x, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if x != nil {
		x.reset() // a hop that fails must not leave the previous hop's status
	}
	res, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	orig := res.Header.Clone()
	var body io.Reader = res.Body
	hint := res.ContentLength // length of the body as read, when known
	if !res.Uncompressed {
		switch enc := strings.ToLower(strings.TrimSpace(res.Header.Get("Content-Encoding"))); enc {
		case "", "identity":
			// A .gz file served as the page itself (no Content-Encoding):
			// inflate it too, so that its size is measured after
			// decompression like any other gzip body. A response without
			// a body (a 304) has nothing to sniff.
			if res.ContentLength != 0 {
				body = &sniffGzip{br: bufio.NewReader(res.Body)}
			}
		case "gzip", "x-gzip":
			body = &lazyGzip{src: res.Body}
			hint = 4 * hint // HTML inflates at least that much
		default:
			res.Body.Close()
			return nil, fmt.Errorf("%w %q", errEncoding, enc)
		}
	}
	res.Header.Del("Content-Encoding")
	if body != io.Reader(res.Body) {
		res.Header.Del("Content-Length")
		res.ContentLength = -1
	}
	res.Uncompressed = true // colly must not gunzip again
	if x != nil {
		x.set(res, orig)
		res.Header.Del("Content-Type")
	}
	lb := &limitedBody{r: body, c: res.Body, limit: t.maxBody}
	if x == nil || (res.StatusCode >= 300 && res.StatusCode < 400 && res.Header.Get("Location") != "") {
		res.Body = lb
		return res, nil
	}
	b, err := readBody(lb, sizeHint(hint, t.maxBody))
	lb.Close()
	if err != nil {
		return nil, err
	}
	x.setBody(b)
	res.Body = http.NoBody
	res.ContentLength = 0
	res.Header.Del("Content-Length")
	return res, nil
}

// sizeHint is the buffer to start a body with: the expected length (from
// Content-Length; four times it for gzip), capped by max_body; 64 KiB
// when nothing is known (expected < 0).
func sizeHint(expected, maxBody int64) int {
	const unknown, most = 64 << 10, 64 << 20
	n := expected
	if n < 0 {
		n = unknown
	}
	if maxBody > 0 {
		n = min(n, maxBody)
	}
	return int(min(n, most)) + 1 // +1: room to read the EOF without growing
}

// readBody reads r to its end into a buffer of capacity hint, growing it
// only when the body is longer.
func readBody(r io.Reader, hint int) ([]byte, error) {
	b := make([]byte, 0, hint)
	for {
		if len(b) == cap(b) {
			b = append(make([]byte, 0, 2*cap(b)), b...) // double: few copies
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// lazyGzip opens the gzip stream on first read, so that an empty body
// (a 304 or a redirect labelled gzip) reads as empty.
type lazyGzip struct {
	src io.Reader
	zr  *gzip.Reader
	err error
}

func (g *lazyGzip) Read(p []byte) (int, error) {
	if g.zr == nil && g.err == nil {
		g.zr, g.err = gzip.NewReader(g.src)
	}
	if g.err != nil {
		return 0, g.err
	}
	return g.zr.Read(p)
}

// gzipMagic starts every gzip stream (RFC 1952: ID1, ID2, CM=deflate).
var gzipMagic = []byte{0x1f, 0x8b, 0x08}

// sniffGzip reads a body as gzip when it starts with the gzip magic
// bytes, as it is otherwise. It decides on first read.
type sniffGzip struct {
	br *bufio.Reader
	r  io.Reader
}

func (g *sniffGzip) Read(p []byte) (int, error) {
	if g.r == nil {
		if m, _ := g.br.Peek(len(gzipMagic)); bytes.Equal(m, gzipMagic) {
			g.r = &lazyGzip{src: g.br}
		} else {
			g.r = g.br
		}
	}
	return g.r.Read(p)
}

// limitedBody fails with *TooLargeError once more than limit bytes were
// read (limit <= 0: no limit).
type limitedBody struct {
	r     io.Reader
	c     io.Closer
	limit int64
	n     int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.limit > 0 && b.n > b.limit {
		return 0, &TooLargeError{Limit: b.limit}
	}
	if b.limit > 0 && int64(len(p)) > b.limit+1-b.n {
		p = p[:b.limit+1-b.n]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.limit > 0 && b.n > b.limit {
		return n, &TooLargeError{Limit: b.limit}
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }

// sleepTimer is the default Config.Sleep: a real timer that gives up when
// ctx is done.
func sleepTimer(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
