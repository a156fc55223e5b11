// Package seeds loads and validates seed files: one YAML file per source,
// saying where a library lives, how its listing pages are laid out and when
// to visit it. The format is a user-facing contract (see DESIGN.md).
package seeds

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/harvest-dev/harvest/record"
)

// Seed is one source, as written in its YAML file, with defaults applied.
type Seed struct {
	ID                   string     `yaml:"id"`
	Name                 string     `yaml:"name"`
	StartURLs            []string   `yaml:"start_urls"`
	AllowedHosts         []string   `yaml:"allowed_hosts"`
	AllowPrivateNetworks bool       `yaml:"allow_private_networks"`
	Schedule             string     `yaml:"schedule"`
	Politeness           Politeness `yaml:"politeness"`
	Limits               Limits     `yaml:"limits"`
	Pagination           Pagination `yaml:"pagination"`
	Page                 Fields     `yaml:"page"`
	Items                Items      `yaml:"items"`
	Fields               Fields     `yaml:"fields"`
	Columns              Columns    `yaml:"columns"` // table header text -> field(s)
	Key                  string     `yaml:"key"`
	IgnoreChanges        []string   `yaml:"ignore_changes"` // fields excluded from change detection
	DateOrder            string     `yaml:"date_order"`     // mdy (default) | dmy
	Detail               *Detail    `yaml:"detail"`
	Guards               Guards     `yaml:"guards"`

	// File is the path the seed was loaded from ("" when built in code).
	File string `yaml:"-"`
}

// Politeness is how gently a source's host is visited.
type Politeness struct {
	Delay       Duration `yaml:"delay"`
	Concurrency int      `yaml:"concurrency"`
	Robots      *bool    `yaml:"robots"` // default true: obey robots.txt
	UserAgent   string   `yaml:"user_agent"`

	// delaySet records that the seed file wrote a delay, so that an
	// explicit "delay: 0s" stays no delay however often defaults apply.
	delaySet bool
}

// ObeyRobots reports whether robots.txt is honoured (the default).
func (p Politeness) ObeyRobots() bool { return p.Robots == nil || *p.Robots }

// Limits bound one run.
type Limits struct {
	MaxPages int      `yaml:"max_pages"`
	Timeout  Duration `yaml:"timeout"`  // per request
	MaxBody  ByteSize `yaml:"max_body"` // per response, after decompression
}

// Pagination says how to find the next listing page. Exactly one of Next
// (and/or NextText), Param, Template or URLs is set (or none: one page).
// Param and Template walk n = Start, Start+Step, ... and end at the first
// page with no items or a 404 past the first page.
type Pagination struct {
	Next     string   `yaml:"next"`      // selector of the next-page link
	NextText []string `yaml:"next_text"` // next link by its text
	Param    string   `yaml:"param"`     // ?page=N
	Template string   `yaml:"template"`  // a page URL with {n}: "https://x.org/reports/page/{n}/"

	Start *int     `yaml:"start"` // first value of Param (default 0)
	Step  int      `yaml:"step"`  // increment of Param (default 1)
	URLs  []string `yaml:"urls"`  // every page listed up front
}

// Mode returns "next", "param", "urls" or "" (single page).
func (p Pagination) Mode() string {
	switch {
	case p.Next != "" || len(p.NextText) > 0:
		return "next"
	case p.Param != "" || p.Template != "":
		return "param"
	case len(p.URLs) > 0:
		return "urls"
	}
	return ""
}

// Items selects one element per record. Either Selector (a repeated
// container) or Start (an item starts at each match and runs to the next).
type Items struct {
	Selector string
	Start    string
}

// UnmarshalYAML accepts `items: "sel"` and `items: {start: "sel"}`.
func (it *Items) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		it.Selector = n.Value
		return nil
	}
	var m struct {
		Start string `yaml:"start"`
	}
	if err := decodeStrict(n, &m); err != nil {
		return err
	}
	it.Start = m.Start
	return nil
}

// Rule says how to read one field.
type Rule struct {
	Select   string   `yaml:"select"`   // CSS selector; "" reads the item itself
	Attr     string   `yaml:"attr"`     // attribute instead of text
	Label    Strings  `yaml:"label"`    // labelled facet: label text or synonyms
	List     bool     `yaml:"list"`     // every match / value, not the first
	Regex    string   `yaml:"regex"`    // capture (first group or group "v")
	Type     string   `yaml:"type"`     // text | url | year | date | int
	Value    string   `yaml:"value"`    // constant or template "Opinion {docket}"
	Default  string   `yaml:"default"`  // used when nothing matched
	Required bool     `yaml:"required"` // item dropped (with a warning) without it
	Split    string   `yaml:"split"`    // one text holding several values; "br": at line breaks
	Heading  string   `yaml:"heading"`  // nearest preceding match outside the item
	Replace  Replaces `yaml:"replace"`  // regex rewrites of the text, before regex and type
}

// SplitLines reports whether split means "at line breaks" (<br> and block
// boundaries) rather than a literal separator: split: br, "<br>", "<br/>",
// "<br />" or "\n".
func (r Rule) SplitLines() bool {
	switch strings.ToLower(strings.TrimSpace(r.Split)) {
	case "br", "<br>", "<br/>", "<br />", "\\n":
		return true
	}
	return r.Split == "\n"
}

// Replace is one regex rewrite of a field's text: every match of Pattern
// becomes With, in which $1 or ${name} stand for capture groups.
type Replace struct {
	Pattern string `yaml:"pattern"`
	With    string `yaml:"with"`
}

// Replaces are applied in order.
type Replaces []Replace

// UnmarshalYAML accepts one {pattern, with} mapping or a list of them,
// refusing unknown keys.
func (rs *Replaces) UnmarshalYAML(n *yaml.Node) error {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, it := range items {
		if it.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: replace takes {pattern: REGEX, with: TEXT} (or a list of them)", it.Line)
		}
		var r Replace
		if err := decodeStrict(it, &r); err != nil {
			return err
		}
		*rs = append(*rs, r)
	}
	return nil
}

// Column maps one table header text to the fields its cells fill.
type Column struct {
	Header string
	Fields []string
	Line   int // line in the seed file, 0 when unknown
}

// Columns map header cells to fields, in the order of the seed file:
//
//	columns: {"Caption": title, "Date": date, "Court No.": [docket]}
type Columns []Column

// UnmarshalYAML keeps the order of the mapping; a value is one field name
// or a list of them.
func (cs *Columns) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: columns maps header texts to field names", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var fs Strings
		if err := fs.UnmarshalYAML(v); err != nil {
			return fmt.Errorf("line %d: columns.%s: %w", v.Line, k.Value, err)
		}
		*cs = append(*cs, Column{Header: k.Value, Fields: fs, Line: k.Line})
	}
	return nil
}

// Field is a named rule; Fields keep the order of the seed file.
type Field struct {
	Name string
	Rule Rule
	Line int // line in the seed file, 0 when unknown
}

// Fields is an ordered set of named rules.
type Fields []Field

// UnmarshalYAML keeps the order of the mapping.
func (fs *Fields) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping of field names to rules", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var r Rule
		if v.Kind == yaml.ScalarNode {
			// Shorthand: `title: "h3 a"` is {select: "h3 a"}.
			r.Select = v.Value
		} else if err := decodeStrict(v, &r); err != nil {
			return err
		}
		*fs = append(*fs, Field{Name: k.Value, Rule: r, Line: k.Line})
	}
	return nil
}

// Get returns the rule of the named field.
func (fs Fields) Get(name string) (Rule, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f.Rule, true
		}
	}
	return Rule{}, false
}

// Strings is a YAML value that may be one string or a list of strings.
type Strings []string

// UnmarshalYAML accepts a scalar or a sequence.
func (s *Strings) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = Strings{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// Detail reads extra fields from each item's own page.
type Detail struct {
	Link   string `yaml:"link"` // selector of the item's link (default: the url field)
	Fields Fields `yaml:"fields"`
}

// Guards protect the store from a run that looks wrong.
type Guards struct {
	MinItems        int     `yaml:"min_items"`
	MaxRemovedShare float64 `yaml:"max_removed_share"`
	MissingRuns     int     `yaml:"missing_runs"`
}

// Duration is a time.Duration written as "1s", "500ms", "2m".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (like 1s, 500ms, 2m)", n.Line, n.Value)
	}
	if v < 0 {
		return fmt.Errorf("line %d: duration %q is negative", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ByteSize is a size written as "10MiB", "512KiB", "1MB" or a plain number.
type ByteSize int64

// UnmarshalYAML parses a size with an optional unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// ParseByteSize parses "10MiB", "512KiB", "1MB", "2GiB" or "12345".
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1},
	}
	mult := int64(1)
	num := s
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			mult = u.mult
			num = strings.TrimSpace(strings.TrimSuffix(s, u.suffix))
			break
		}
	}
	var v int64
	if _, err := fmt.Sscanf(num, "%d", &v); err != nil || v <= 0 || fmt.Sprint(v) != num {
		return 0, fmt.Errorf("%q is not a size (like 10MiB, 512KiB, 1000000)", s)
	}
	return ByteSize(v * mult), nil
}

// Defaults of a seed, applied by Load and ApplyDefaults.
const (
	DefaultSchedule        = "@daily"
	DefaultDelay           = time.Second
	DefaultConcurrency     = 2
	DefaultMaxPages        = 500
	DefaultTimeout         = 30 * time.Second
	DefaultMaxBody         = 10 << 20
	DefaultMinItems        = 1
	DefaultMaxRemovedShare = 0.2
	DefaultMissingRuns     = 2
	DefaultKey             = "url"
)

// ApplyDefaults fills every unset value with its documented default.
// allowed_hosts defaults to the hosts of start_urls.
func (s *Seed) ApplyDefaults() {
	if s.Schedule == "" {
		s.Schedule = DefaultSchedule
	}
	if s.Politeness.Delay == 0 && !s.Politeness.delaySet {
		s.Politeness.Delay = Duration(DefaultDelay)
	}
	if s.Politeness.Concurrency == 0 {
		s.Politeness.Concurrency = DefaultConcurrency
	}
	if s.Limits.MaxPages == 0 {
		s.Limits.MaxPages = DefaultMaxPages
	}
	if s.Limits.Timeout == 0 {
		s.Limits.Timeout = Duration(DefaultTimeout)
	}
	if s.Limits.MaxBody == 0 {
		s.Limits.MaxBody = DefaultMaxBody
	}
	if s.Pagination.Step == 0 {
		s.Pagination.Step = 1
	}
	if s.Guards.MinItems == 0 {
		s.Guards.MinItems = DefaultMinItems
	}
	if s.Guards.MaxRemovedShare == 0 {
		s.Guards.MaxRemovedShare = DefaultMaxRemovedShare
	}
	if s.Guards.MissingRuns == 0 {
		s.Guards.MissingRuns = DefaultMissingRuns
	}
	if s.Key == "" {
		s.Key = DefaultKey
	}
	if s.DateOrder == "" {
		s.DateOrder = "mdy"
	}
	if len(s.AllowedHosts) == 0 {
		s.AllowedHosts = hostsOf(s.StartURLs)
	}
	// A field named only in columns gets an empty rule (the cell's text),
	// so every reader of Fields (validation, extract, exports) sees it.
	for _, c := range s.Columns {
		for _, name := range c.Fields {
			if _, ok := s.Fields.Get(name); !ok {
				s.Fields = append(s.Fields, Field{Name: name, Line: c.Line})
			}
		}
	}
}

// ExtraFields lists, sorted, the names of the seed's configured fields
// that are not record fields (they land in a record's extra): listing
// fields, page fields and detail fields.
func (s *Seed) ExtraFields() []string {
	seen := map[string]bool{}
	add := func(fs Fields) {
		for _, f := range fs {
			if !record.IsField(f.Name) {
				seen[f.Name] = true
			}
		}
	}
	add(s.Fields)
	add(s.Page)
	if s.Detail != nil {
		add(s.Detail.Fields)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
