package alerts

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// AddressError is a webhook connection refused because the target resolved
// to a loopback, private, link-local, metadata or otherwise non-public
// address and the subscription does not set allow_private_networks.
type AddressError struct {
	Addr   string // the resolved address, ip:port
	Reason string // "loopback address", "private address", ...
}

// Error names the address, why it was refused and how to allow it.
func (e *AddressError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s (set allow_private_networks: true on the subscription to allow it)", e.Addr, e.Reason)
}

// The same classification as the crawler's guard (crawler/transport.go
// keeps its own unexported copy; the two should become one shared
// function).
var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
	broadcast = netip.MustParseAddr("255.255.255.255")
	metadata  = netip.MustParseAddr("169.254.169.254")
	awsV6Meta = netip.MustParseAddr("fd00:ec2::254")
)

// nonPublic reports why a must not be dialled, or "" when it may.
func nonPublic(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a == metadata || a == awsV6Meta:
		return "cloud metadata address"
	case a.IsUnspecified() || thisNet.Contains(a):
		return "unspecified address"
	case a.IsLoopback():
		return "loopback address"
	case a.IsPrivate():
		return "private address"
	case a.IsLinkLocalUnicast():
		return "link-local address"
	case a.IsMulticast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a == broadcast:
		return "multicast or broadcast address"
	case cgnat.Contains(a):
		return "shared (carrier-grade NAT) address"
	}
	return ""
}

// guardControl is a net.Dialer.Control refusing non-public addresses. It
// sees the address actually dialled, after DNS resolution, so a name that
// resolves (or re-resolves) to 127.0.0.1 is caught too.
func guardControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &AddressError{Addr: address, Reason: "unparseable address"}
	}
	if why := nonPublic(ap.Addr()); why != "" {
		return &AddressError{Addr: address, Reason: why}
	}
	return nil
}

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
