package main

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/harvest-dev/harvest/demo/site"
)

// renderListing returns page 0 of the demo library's listing as served.
func renderListing(t *testing.T, lib *site.Site) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	lib.Handler().ServeHTTP(rec, httptest.NewRequest("GET", site.ListingPath, nil))
	if rec.Code != 200 {
		t.Fatalf("listing: HTTP %d", rec.Code)
	}
	b, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
