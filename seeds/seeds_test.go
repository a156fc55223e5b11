package seeds

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGoodSeeds loads every testdata/*.good.yaml without a problem.
func TestGoodSeeds(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) == 0 {
		t.Fatal("no good seeds in testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := LoadFile(f); err != nil {
				t.Fatalf("unexpected problems:\n%v", err)
			}
		})
	}
}

// TestBadSeeds checks that each testdata/*.bad.yaml fails with the message
// its first line announces ("# want: ..."), located by file and line.
func TestBadSeeds(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) == 0 {
		t.Fatal("no bad seeds in testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := wantLine(t, f)
			_, err := LoadFile(f)
			if err == nil {
				t.Fatalf("loaded without error; want %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error\n  %v\nwant it to contain\n  %s", err, want)
			}
		})
	}
}

func wantLine(t *testing.T, path string) string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Scan()
	line := sc.Text()
	if !strings.HasPrefix(line, "# want: ") {
		t.Fatalf("%s: first line must be '# want: MESSAGE'", path)
	}
	return strings.TrimPrefix(line, "# want: ")
}

func TestDefaultsAndShapes(t *testing.T) {
	s, err := LoadFile("testdata/drupal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.AllowedHosts; len(got) != 1 || got[0] != "example.int" {
		t.Errorf("allowed_hosts default = %v, want the start URL's host", got)
	}
	if s.Limits.MaxBody != 10<<20 || s.Limits.Timeout.D() != 30*time.Second {
		t.Errorf("limits = %+v", s.Limits)
	}
	if s.Pagination.Mode() != "next" {
		t.Errorf("pagination mode = %q", s.Pagination.Mode())
	}
	var names []string
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "title,url,summary,countries,regions,authors,year,categories,pdf" {
		t.Errorf("fields out of file order: %s", got)
	}
	c, _ := s.Fields.Get("countries")
	if len(c.Label) != 3 || c.Label[1] != "País" || !c.List {
		t.Errorf("countries rule = %+v", c)
	}
	if s.Detail == nil || s.Detail.Link != "h3 a" {
		t.Errorf("detail = %+v", s.Detail)
	}

	p, err := LoadFile("testdata/param.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Items.Start != "tr.header-row" || p.Items.Selector != "" {
		t.Errorf("items = %+v", p.Items)
	}
	if p.Pagination.Mode() != "param" || p.Pagination.Step != 20 || p.Pagination.Start == nil || *p.Pagination.Start != 0 {
		t.Errorf("pagination = %+v", p.Pagination)
	}
	if title, _ := p.Fields.Get("title"); title.Select != "td.title a" {
		t.Errorf("shorthand rule = %+v", title)
	}
	if p.Politeness.Delay.D() != DefaultDelay || p.Guards.MissingRuns != 2 || p.Guards.MaxRemovedShare != 0.2 {
		t.Errorf("defaults not applied: %+v %+v", p.Politeness, p.Guards)
	}
}

func TestExplicitZeroDelay(t *testing.T) {
	s, err := Parse("mem.yaml", []byte("id: x\nstart_urls: [\"http://h/\"]\npoliteness: {delay: 0s}\nitems: li\nfields: {title: a}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Politeness.Delay != 0 {
		t.Errorf("delay: 0s became %v", s.Politeness.Delay.D())
	}
	s.ApplyDefaults() // callers that edit a seed apply defaults again
	if s.Politeness.Delay != 0 {
		t.Errorf("delay: 0s became %v when defaults were applied again", s.Politeness.Delay.D())
	}
}

func TestLoadDirRejectsDuplicateIDs(t *testing.T) {
	dir := t.TempDir()
	body := "id: same\nstart_urls: [\"http://h/\"]\nitems: li\nfields: {title: a}\n"
	for _, n := range []string{"a.yaml", "b.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), `b.yaml: id: "same" is already the id of`) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"10MiB": 10 << 20, "512KiB": 512 << 10, "1MB": 1e6, "123": 123} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ten", "-1", "1.5MiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
}

func TestExtraFields(t *testing.T) {
	s, err := LoadFile("testdata/drupal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.ExtraFields(), ","); got != "pdf,publisher" {
		t.Errorf("ExtraFields = %s, want pdf,publisher", got)
	}
}

// TestColumnsAndReplace: columns keep the file's order, a field named only
// in columns gets an empty rule in Fields (so extract and exports show
// it), and replace takes one mapping or a list.
func TestColumnsAndReplace(t *testing.T) {
	s, err := LoadFile("testdata/columns.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var headers []string
	for _, c := range s.Columns {
		headers = append(headers, c.Header+"="+strings.Join(c.Fields, "+"))
	}
	if got := strings.Join(headers, " "); got != "Title=title+url Year=year Authors=authors" {
		t.Errorf("columns = %s", got)
	}
	var names []string
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, " "); got != "url authors title year" {
		t.Errorf("fields = %s, want the seed's rules then the column-only fields", got)
	}
	if r, _ := s.Fields.Get("authors"); !r.SplitLines() {
		t.Errorf("split: br is not SplitLines")
	}
	s2, err := Parse("r.yaml", []byte(`
id: r
start_urls: ["https://example.org/"]
items: li
fields:
  title: {replace: {pattern: 'a', with: 'b'}}
  other: {replace: [{pattern: 'x'}, {pattern: 'y', with: 'z'}], split: "\n"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := s2.Fields.Get("title"); len(r.Replace) != 1 || r.Replace[0] != (Replace{"a", "b"}) {
		t.Errorf("title replace = %+v", r.Replace)
	}
	if r, _ := s2.Fields.Get("other"); len(r.Replace) != 2 || r.Replace[1] != (Replace{"y", "z"}) || !r.SplitLines() {
		t.Errorf("other = %+v", r)
	}
}
