package parser

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the parser's output")

// golden is the stable JSON form of a Result.
type golden struct {
	Records  []record.Record `json:"records"`
	Next     []string        `json:"next"`
	Facts    Facts           `json:"facts"`
	Warnings []Warning       `json:"warnings"`
	Dropped  int             `json:"dropped"`
}

// loadCase reads testdata/NAME.seed.yaml and testdata/NAME.html; the page
// URL is the seed's first start URL.
func loadCase(t testing.TB, name string) (*seeds.Seed, string, []byte) {
	t.Helper()
	s, err := seeds.LoadFile(filepath.Join("testdata", name+".seed.yaml"))
	if err != nil {
		t.Fatalf("load seed %s: %v", name, err)
	}
	page, err := os.ReadFile(filepath.Join("testdata", name+".html"))
	if err != nil {
		t.Fatal(err)
	}
	return s, s.StartURLs[0], page
}

func goldenCases(t testing.TB) []string {
	m, err := filepath.Glob("testdata/*.seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range m {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".seed.yaml"))
	}
	if len(names) < 5 {
		t.Fatalf("expected at least 5 golden cases in testdata, found %v", names)
	}
	return names
}

func TestGolden(t *testing.T) {
	for _, name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			s, pageURL, page := loadCase(t, name)
			res, err := Parse(s, pageURL, page)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(golden{res.Records, res.Next, res.Facts, res.Warnings, res.Dropped}); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./parser -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run go test ./parser -update and review the diff):\n%s", path, firstDiff(string(want), string(got)))
			}
		})
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return ""
}
