package seeds

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/andybalholm/cascadia"
	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a seed file, located by file and line.
type Problem struct {
	File string
	Line int
	Key  string // dotted path of the key, like "fields.title.select"
	Msg  string
}

func (p *Problem) Error() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, p.Key, p.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, p.Msg)
}

// Problems is every problem found in one or more seed files.
type Problems []*Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Error()
	}
	return strings.Join(s, "\n")
}

// Parse reads one seed from YAML bytes; file names the source in errors.
// The seed has its defaults applied. The error, if any, is Problems.
func Parse(file string, data []byte) (*Seed, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, Problems{{File: file, Line: yamlErrLine(err), Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, Problems{{File: file, Line: doc.Line, Msg: "a seed must be a YAML mapping (id, start_urls, items, fields, ...)"}}
	}
	root := doc.Content[0]
	var ps Problems
	checkKeys(file, root, reflect.TypeOf(Seed{}), "", &ps)
	if len(ps) > 0 {
		return nil, ps
	}
	s := &Seed{File: file}
	if err := root.Decode(s); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
		msg = yamlLinePrefixRE.ReplaceAllString(strings.TrimSpace(msg), "")
		return nil, Problems{{File: file, Line: yamlErrLine(err), Msg: msg}}
	}
	s.Politeness.delaySet = hasKey(root, "politeness", "delay")
	s.ApplyDefaults()
	if ps := s.validate(root); len(ps) > 0 {
		return nil, ps
	}
	return s, nil
}

// LoadFile reads and validates one seed file.
func LoadFile(path string) (*Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read seed: %w", err)
	}
	return Parse(path, data)
}

// LoadDir reads every *.yaml and *.yml file of dir (not recursively),
// sorted by name. It reports every problem of every file, and duplicate
// ids across files.
func LoadDir(dir string) ([]*Seed, error) {
	var paths []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, fmt.Errorf("list seeds in %s: %w", dir, err)
		}
		paths = append(paths, m...)
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		return nil, fmt.Errorf("no seed files (*.yaml) in %s", dir)
	}
	return LoadFiles(paths)
}

// LoadFiles reads and validates the given seed files.
func LoadFiles(paths []string) ([]*Seed, error) {
	var all Problems
	var out []*Seed
	byID := map[string]string{}
	for _, p := range paths {
		s, err := LoadFile(p)
		if err != nil {
			var ps Problems
			if errors.As(err, &ps) {
				all = append(all, ps...)
				continue
			}
			return nil, err
		}
		if prev, ok := byID[s.ID]; ok {
			all = append(all, &Problem{File: p, Key: "id", Msg: fmt.Sprintf("%q is already the id of %s", s.ID, prev)})
			continue
		}
		byID[s.ID] = p
		out = append(out, s)
	}
	if len(all) > 0 {
		return nil, all
	}
	return out, nil
}

var (
	yamlLineRE       = regexp.MustCompile(`line (\d+)`)
	yamlLinePrefixRE = regexp.MustCompile(`(?m)^line \d+: `)
)

func yamlErrLine(err error) int {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	var n int
	fmt.Sscanf(m[1], "%d", &n)
	return n
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// checkKeys reports keys of the mapping n that the struct type t does not
// know, recursing into nested structs and into field rules.
func checkKeys(file string, n *yaml.Node, t reflect.Type, path string, ps *Problems) {
	if n.Kind != yaml.MappingNode {
		return
	}
	known := map[string]reflect.Type{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		known[tag] = f.Type
		names = append(names, tag)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ft, ok := known[k.Value]
		if !ok {
			*ps = append(*ps, &Problem{File: file, Line: k.Line, Key: join(path, k.Value),
				Msg: fmt.Sprintf("unknown key (known here: %s)", strings.Join(names, ", "))})
			continue
		}
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft == reflect.TypeOf(Fields{}):
			if v.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(v.Content); j += 2 {
					checkKeys(file, v.Content[j+1], reflect.TypeOf(Rule{}), join(join(path, k.Value), v.Content[j].Value), ps)
				}
			}
		case ft == reflect.TypeOf(Replaces{}):
			items := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				items = v.Content
			}
			for _, it := range items {
				checkKeys(file, it, reflect.TypeOf(Replace{}), join(path, k.Value), ps)
			}
		case ft == reflect.TypeOf(Items{}):
			if v.Kind == yaml.MappingNode {
				checkKeys(file, v, reflect.TypeOf(struct {
					Start string `yaml:"start"`
				}{}), join(path, k.Value), ps)
			}
		case ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(unmarshalerType):
			checkKeys(file, v, ft, join(path, k.Value), ps)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decodeStrict decodes n into v (a pointer to struct), refusing unknown keys.
func decodeStrict(n *yaml.Node, v any) error {
	var ps Problems
	checkKeys("", n, reflect.TypeOf(v).Elem(), "", &ps)
	if len(ps) > 0 {
		return fmt.Errorf("line %d: %s: %s", ps[0].Line, ps[0].Key, ps[0].Msg)
	}
	return n.Decode(v)
}

// lineOf finds the line of the key at path (like "fields", "title",
// "select") in the mapping root, or the nearest ancestor's line.
func lineOf(root *yaml.Node, path ...string) int {
	n, line := root, root.Line
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

// hasKey reports whether the key at path is written in the mapping root.
func hasKey(root *yaml.Node, path ...string) bool {
	n := root
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return false
		}
		n = next
	}
	return true
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// CronParser parses the schedules seeds may use: 5-field cron or a
// descriptor such as @daily or @every 6h.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a seed schedule.
func ParseSchedule(spec string) (cron.Schedule, error) { return cronParser.Parse(spec) }

func (s *Seed) validate(root *yaml.Node) Problems {
	var ps Problems
	add := func(msg string, path ...string) {
		ps = append(ps, &Problem{File: s.File, Line: lineOf(root, path...), Key: strings.Join(path, "."), Msg: msg})
	}
	if s.ID == "" {
		add("missing: every seed needs an id ([a-z0-9-]+)", "id")
	} else if !idRE.MatchString(s.ID) {
		add(fmt.Sprintf("%q is not a valid id: use lower-case letters, digits and '-'", s.ID), "id")
	}
	if len(s.StartURLs) == 0 && len(s.Pagination.URLs) == 0 && s.Pagination.Template == "" {
		add("missing: at least one start URL", "start_urls")
	}
	for i, raw := range s.StartURLs {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(fmt.Sprintf("start URL %d %q is not an absolute http(s) URL", i+1, raw), "start_urls")
		}
	}
	for i, raw := range s.Pagination.URLs {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(fmt.Sprintf("URL %d %q is not an absolute http(s) URL", i+1, raw), "pagination", "urls")
		}
	}
	if _, err := ParseSchedule(s.Schedule); err != nil {
		add(fmt.Sprintf("%q is not a cron schedule (5 fields, or @daily, @hourly, @every 6h): %v", s.Schedule, err), "schedule")
	}
	modes := 0
	for _, set := range []bool{s.Pagination.Next != "" || len(s.Pagination.NextText) > 0, s.Pagination.Param != "", s.Pagination.Template != "", len(s.Pagination.URLs) > 0} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		add("set exactly one of next (or next_text), param, template or urls", "pagination")
	}
	if t := s.Pagination.Template; t != "" {
		u, err := url.Parse(strings.ReplaceAll(t, "{n}", "1"))
		if !strings.Contains(t, "{n}") || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(fmt.Sprintf("%q must be an absolute http(s) URL containing {n}", t), "pagination", "template")
		}
	}
	if s.Pagination.Next != "" {
		checkSelector(s.Pagination.Next, func(m string) { add(m, "pagination", "next") })
	}
	if s.Pagination.Step < 0 {
		add("step must be positive", "pagination", "step")
	}
	if s.Politeness.Concurrency < 0 {
		add("concurrency must be positive", "politeness", "concurrency")
	}
	if s.Limits.MaxPages < 0 {
		add("max_pages must be positive", "limits", "max_pages")
	}
	if s.Guards.MaxRemovedShare < 0 || s.Guards.MaxRemovedShare > 1 {
		add("max_removed_share must be between 0 and 1", "guards", "max_removed_share")
	}
	if s.Guards.MissingRuns < 0 {
		add("missing_runs must be positive", "guards", "missing_runs")
	}
	if s.DateOrder != "mdy" && s.DateOrder != "dmy" {
		add(fmt.Sprintf("%q: date_order is mdy or dmy", s.DateOrder), "date_order")
	}
	switch {
	case s.Items.Selector == "" && s.Items.Start == "":
		add("missing: a selector of one element per record", "items")
	case s.Items.Selector != "":
		checkSelector(s.Items.Selector, func(m string) { add(m, "items") })
	default:
		checkSelector(s.Items.Start, func(m string) { add(m, "items", "start") })
	}
	if _, ok := s.Fields.Get("title"); !ok {
		add("missing: a title rule (fields.title, or a column mapped to title)", "fields")
	}
	for _, c := range s.Columns {
		if strings.TrimSpace(c.Header) == "" {
			add("a column's header text is empty", "columns")
		}
		if len(c.Fields) == 0 {
			add(fmt.Sprintf("column %q names no field", c.Header), "columns", c.Header)
		}
		for _, name := range c.Fields {
			if !fieldNameRE.MatchString(name) {
				add(fmt.Sprintf("column %q: %q is not a field name (lower-case letters, digits and _)", c.Header, name), "columns", c.Header)
			}
		}
	}
	s.validateFields(root, "page", s.Page, add)
	s.validateFields(root, "fields", s.Fields, add)
	if s.Detail != nil {
		if s.Detail.Link != "" {
			checkSelector(s.Detail.Link, func(m string) { add(m, "detail", "link") })
		}
		s.validateFields(root, "detail.fields", s.Detail.Fields, add)
	}
	if s.Key != "url" && s.Key != "title" {
		if _, ok := s.Fields.Get(s.Key); !ok {
			add(fmt.Sprintf("%q is not one of the seed's fields", s.Key), "key")
		}
	}
	return ps
}

var fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

var types = map[string]bool{"": true, "text": true, "url": true, "year": true, "date": true, "int": true}

func (s *Seed) validateFields(root *yaml.Node, section string, fs Fields, add func(string, ...string)) {
	path := strings.Split(section, ".")
	for _, f := range fs {
		p := func(key string) []string {
			out := append(append([]string{}, path...), f.Name)
			if key != "" {
				out = append(out, key)
			}
			return out
		}
		r := f.Rule
		if !fieldNameRE.MatchString(f.Name) {
			add("field names are lower-case letters, digits and _", p("")...)
		}
		if r.Select != "" {
			checkSelector(r.Select, func(m string) { add(m, p("select")...) })
		}
		if r.Heading != "" {
			checkSelector(r.Heading, func(m string) { add(m, p("heading")...) })
		}
		if r.Regex != "" {
			if _, err := regexp.Compile(r.Regex); err != nil {
				add(fmt.Sprintf("bad regex: %v", err), p("regex")...)
			}
		}
		for i, rp := range r.Replace {
			if rp.Pattern == "" {
				add(fmt.Sprintf("replace %d: missing pattern", i+1), p("replace")...)
			} else if _, err := regexp.Compile(rp.Pattern); err != nil {
				add(fmt.Sprintf("replace %d: bad regex: %v", i+1, err), p("replace")...)
			}
		}
		if !types[r.Type] {
			add(fmt.Sprintf("unknown type %q (text, url, year, date, int)", r.Type), p("type")...)
		}
		if r.Attr != "" && len(r.Label) > 0 {
			add("attr and label cannot be combined", p("attr")...)
		}
		if r.Value != "" && (r.Select != "" || len(r.Label) > 0 || r.Attr != "") {
			add("value is a constant or template; it cannot be combined with select, attr or label", p("value")...)
		}
	}
}

func checkSelector(sel string, add func(string)) {
	if _, err := cascadia.Compile(sel); err != nil {
		add(fmt.Sprintf("bad CSS selector %q: %v", sel, err))
	}
}

func hostsOf(urls []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" {
			continue
		}
		h := strings.ToLower(u.Hostname())
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}
