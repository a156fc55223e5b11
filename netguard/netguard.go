// Package netguard refuses connections to addresses a crawler or a
// webhook sender must not reach on a user's say-so: loopback, private,
// link-local, metadata and other non-public addresses. The check runs at
// dial time, on the address actually dialled after DNS resolution, so a
// name that resolves (or re-resolves) to 127.0.0.1 is caught too, on
// every hop of a redirect chain.
package netguard

import (
	"fmt"
	"net/netip"
	"syscall"
)

// AddressError is a connection refused because the resolved address is
// not a public internet address.
type AddressError struct {
	Addr   string // the resolved address, ip:port
	Reason string // "loopback address", "private address", ...
	Hint   string // how to allow it, e.g. "set allow_private_networks: true in the seed"
}

// Error says which address was refused, why, and how to allow it.
func (e *AddressError) Error() string {
	msg := fmt.Sprintf("refused to connect to %s: %s", e.Addr, e.Reason)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10") // shared address space; some clouds' metadata lives here
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
	broadcast = netip.MustParseAddr("255.255.255.255")
	metadata  = netip.MustParseAddr("169.254.169.254")
	awsV6Meta = netip.MustParseAddr("fd00:ec2::254")
)

// Why reports why a must not be dialled, or "" when it is public.
func Why(a netip.Addr) string {
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

// Control returns a net.Dialer.Control that refuses non-public addresses
// with an *AddressError carrying hint.
func Control(hint string) func(network, address string, c syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &AddressError{Addr: address, Reason: "unparseable address", Hint: hint}
		}
		if why := Why(ap.Addr()); why != "" {
			return &AddressError{Addr: address, Reason: why, Hint: hint}
		}
		return nil
	}
}
