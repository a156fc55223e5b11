package netguard

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestWhy(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1":         "loopback address",
		"::1":               "loopback address",
		"::ffff:127.0.0.1":  "loopback address",
		"10.1.2.3":          "private address",
		"172.16.0.1":        "private address",
		"192.168.1.1":       "private address",
		"fd12::1":           "private address",
		"169.254.169.254":   "cloud metadata address",
		"fd00:ec2::254":     "cloud metadata address",
		"169.254.10.1":      "link-local address",
		"fe80::1":           "link-local address",
		"0.0.0.0":           "unspecified address",
		"::":                "unspecified address",
		"100.100.100.200":   "shared (carrier-grade NAT) address",
		"224.0.0.1":         "multicast or broadcast address",
		"255.255.255.255":   "multicast or broadcast address",
		"93.184.215.14":     "",
		"2606:4700::6810:1": "",
	} {
		if got := Why(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Why(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestControl(t *testing.T) {
	ctl := Control("set allow_private_networks: true in the seed")
	err := ctl("tcp", "127.0.0.1:8080", nil)
	var ae *AddressError
	if !errors.As(err, &ae) || ae.Reason != "loopback address" {
		t.Fatalf("Control(127.0.0.1) = %v, want a loopback AddressError", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:8080") || !strings.Contains(err.Error(), "allow_private_networks") {
		t.Errorf("message %q should name the address and how to allow it", err)
	}
	if err := ctl("tcp", "93.184.215.14:443", nil); err != nil {
		t.Errorf("public address refused: %v", err)
	}
	if err := ctl("tcp", "not an address", nil); err == nil {
		t.Error("unparseable address accepted")
	}
}
