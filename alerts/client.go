package alerts

import (
	"net"
	"net/http"
	"time"

	"github.com/harvest-dev/harvest/netguard"
)

// AddressError is a webhook connection refused because the target resolved
// to a non-public address and the subscription does not set
// allow_private_networks (see netguard).
type AddressError = netguard.AddressError

// guardControl is the dial-time guard of webhook clients.
var guardControl = netguard.Control("set allow_private_networks: true on the subscription to allow it")

// NewClient returns the HTTP client for webhook deliveries. Unless
// allowPrivate, dialling a loopback, private, link-local, metadata or
// other non-public address fails with *AddressError. timeout bounds each
// whole request (30s when <= 0). Redirects are not followed (a 3xx is a
// failed delivery: a POST must not silently turn into a GET elsewhere),
// and proxies from the environment are not used, so the guard sees the
// receiver's own address.
func NewClient(allowPrivate bool, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardControl
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          20,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
