package site

import (
	_ "embed"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
)

//go:embed seed.yaml
var seedYAML []byte

// ListingPath is the path and query of the demo library's listing.
const ListingPath = "/resources?category=trafficking"

var startURLsLine = regexp.MustCompile(`(?m)^start_urls:.*$`)

// SeedYAML returns the demo library's seed (seed.yaml, id
// demo-trafficking) with its start URL set to startURL. A URL with no path
// (like "http://127.0.0.1:41234") is taken as the site's base URL and gets
// the listing path appended.
func SeedYAML(startURL string) []byte {
	if u, err := url.Parse(startURL); err == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" {
		startURL = strings.TrimSuffix(startURL, "/") + ListingPath
	}
	quoted, _ := json.Marshal(startURL) // a JSON string is a valid YAML double-quoted scalar
	return startURLsLine.ReplaceAllLiteral(seedYAML, []byte("start_urls: ["+string(quoted)+"]"))
}
