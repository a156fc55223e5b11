package crawler

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Page is one fetched listing page, its body converted to UTF-8.
type Page struct {
	URL          string // as requested
	FinalURL     string // after redirects; parse relative links against it
	Status       int
	Header       http.Header
	NotModified  bool   // 304: Body is empty, the page is as last seen
	ETag         string // validators to send next time
	LastModified string
	Body         []byte // valid UTF-8 HTML
	Bytes        int    // body size as received, after decompression
	Duration     time.Duration
}

// Validators make a request conditional.
type Validators struct {
	ETag         string
	LastModified string
}

// Kind classifies a fetch failure for the run's verdict.
type Kind string

const (
	KindTransient Kind = "transient" // network error, timeout, 5xx, 408, 429: retried, then the page fails
	KindNotFound  Kind = "not-found" // 404, 410
	KindBlocked   Kind = "blocked"   // robots.txt disallows or is unavailable; 401/403 challenge
	KindRefused   Kind = "refused"   // host not allowed, private address, redirect loop
	KindTooLarge  Kind = "too-large" // body over max_body
	KindBadPage   Kind = "bad-page"  // truncated body, not HTML, empty body, bad encoding
)

// Error is a failed fetch, naming the source, the URL and the cause.
type Error struct {
	Source string
	URL    string
	Status int // 0 when there was no response
	Kind   Kind
	Err    error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("source %s: fetch %s: HTTP %d: %v", e.Source, e.URL, e.Status, e.Err)
	}
	return fmt.Sprintf("source %s: fetch %s: %v", e.Source, e.URL, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of a fetch error, or "" if err is not one.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return ""
}
