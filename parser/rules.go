package parser

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/andybalholm/cascadia"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
)

// Rules is the compiled form of one seed's reading rules: selectors and
// regular expressions parsed once, reused for every page of the source.
// A Rules value is immutable after Compile and safe for concurrent use.
type Rules struct {
	seed *seeds.Seed

	items     cascadia.Selector // items selector, or nil in flat mode
	itemStart cascadia.Selector // flat mode: an item starts at each match

	page   []*fieldRule
	fields []*fieldRule
	detail []*fieldRule

	columns    bool              // the seed maps table columns to fields
	detailLink cascadia.Selector // detail.link, or nil

	next     cascadia.Selector // pagination.next, or nil
	nextText []string          // pagination.next_text, lower-cased
	relNext  bool              // also follow rel=next links

	dmy bool // date_order: dmy
}

// fieldRule is one compiled seeds.Rule.
type fieldRule struct {
	name    string
	rule    seeds.Rule
	sel     cascadia.Selector // nil: the item itself
	heading cascadia.Selector
	re      *regexp.Regexp
	group   int           // capture group kept by re (0: whole match)
	labels  []string      // label synonyms, folded with labelKey
	tmpl    []tmplPart    // value template, nil for a constant
	refs    []string      // field names the template refers to
	isList  bool          // rule.List
	recList bool          // the record field is a list (countries, ...)
	isField bool          // a record field (not an extra)
	isConst bool          // value without placeholders
	typ     string        // text | url | year | date | int
	labelIn *labelLexicon // every label of the same field set
	col     string        // header key of the column the field reads, or ""
	lines   bool          // split at line breaks (split: br)
	replace []replacer    // rule.Replace, compiled
	lgroup  int           // label rules with equal labels, list and lines share a group (> 0)
	sgroup  int           // rules with equal select and list share a group (> 0 with select)
}

// replacer is one compiled seeds.Replace.
type replacer struct {
	re   *regexp.Regexp
	with string
}

// tmplPart is a literal piece or a {field} reference of a value template.
type tmplPart struct {
	lit string
	ref string
}

// labelLexicon is the set of all labels of one field set; a value walk
// stops at a sibling that reads as any of them.
type labelLexicon struct {
	keys    map[string]bool
	list    []string // the keys, in seed order
	longest int      // the length of the longest key in bytes
}

// Compile checks and compiles the reading rules of s. Errors name the seed
// and the field whose selector or regex does not compile.
func Compile(s *seeds.Seed) (*Rules, error) {
	if s == nil {
		return nil, fmt.Errorf("compile rules: nil seed")
	}
	r := &Rules{seed: s, dmy: s.DateOrder == "dmy"}
	var err error
	switch {
	case s.Items.Selector != "":
		if r.items, err = cascadia.Compile(s.Items.Selector); err != nil {
			return nil, fmt.Errorf("seed %s: items selector %q: %w", s.ID, s.Items.Selector, err)
		}
	case s.Items.Start != "":
		if r.itemStart, err = cascadia.Compile(s.Items.Start); err != nil {
			return nil, fmt.Errorf("seed %s: items.start selector %q: %w", s.ID, s.Items.Start, err)
		}
	}
	if r.fields, err = compileFields(s.ID, "fields", s.Fields); err != nil {
		return nil, err
	}
	for _, c := range s.Columns {
		key := labelKey(c.Header)
		for _, name := range c.Fields {
			for _, fr := range r.fields {
				if fr.name == name && fr.col == "" && key != "" {
					fr.col = key
					r.columns = true
				}
			}
		}
	}
	if s.Detail != nil && s.Detail.Link != "" {
		if r.detailLink, err = cascadia.Compile(s.Detail.Link); err != nil {
			return nil, fmt.Errorf("seed %s: detail.link selector %q: %w", s.ID, s.Detail.Link, err)
		}
	}
	if r.page, err = compileFields(s.ID, "page", s.Page); err != nil {
		return nil, err
	}
	if s.Detail != nil {
		if r.detail, err = compileFields(s.ID, "detail.fields", s.Detail.Fields); err != nil {
			return nil, err
		}
	}
	if s.Pagination.Next != "" {
		if r.next, err = cascadia.Compile(s.Pagination.Next); err != nil {
			return nil, fmt.Errorf("seed %s: pagination.next selector %q: %w", s.ID, s.Pagination.Next, err)
		}
	}
	for _, t := range s.Pagination.NextText {
		if k := strings.ToLower(record.Text(t)); k != "" {
			r.nextText = append(r.nextText, k)
		}
	}
	switch s.Pagination.Mode() {
	case "next", "":
		r.relNext = true
	}
	sgroups := map[string]int{}
	for _, frs := range [][]*fieldRule{r.page, r.fields, r.detail} {
		for _, fr := range frs {
			if fr.sel == nil {
				continue
			}
			k := fmt.Sprintf("%t %s", fr.isList, fr.rule.Select)
			if sgroups[k] == 0 {
				sgroups[k] = len(sgroups) + 1
			}
			fr.sgroup = sgroups[k]
		}
	}
	return r, nil
}

var placeholderRE = regexp.MustCompile(`\{([a-z][a-z0-9_]*)\}`)

func compileFields(id, section string, fs seeds.Fields) ([]*fieldRule, error) {
	lex := &labelLexicon{keys: map[string]bool{}}
	out := make([]*fieldRule, 0, len(fs))
	for _, f := range fs {
		r := f.Rule
		fr := &fieldRule{
			name:    f.Name,
			rule:    r,
			isList:  r.List,
			isField: record.IsField(f.Name),
			recList: record.IsListField(f.Name),
			typ:     r.Type,
			labelIn: lex,
			lines:   r.SplitLines(),
		}
		where := func(key, val string, err error) error {
			return fmt.Errorf("seed %s: %s.%s.%s %q: %w", id, section, f.Name, key, val, err)
		}
		var err error
		if r.Select != "" {
			if fr.sel, err = cascadia.Compile(r.Select); err != nil {
				return nil, where("select", r.Select, err)
			}
		}
		if r.Heading != "" {
			if fr.heading, err = cascadia.Compile(r.Heading); err != nil {
				return nil, where("heading", r.Heading, err)
			}
		}
		if r.Regex != "" {
			if fr.re, err = regexp.Compile(r.Regex); err != nil {
				return nil, where("regex", r.Regex, err)
			}
			if i := fr.re.SubexpIndex("v"); i > 0 {
				fr.group = i
			} else if fr.re.NumSubexp() > 0 {
				fr.group = 1
			}
		}
		for i, rp := range r.Replace {
			re, err := regexp.Compile(rp.Pattern)
			if err != nil {
				return nil, where("replace", rp.Pattern, fmt.Errorf("replace %d: %w", i+1, err))
			}
			fr.replace = append(fr.replace, replacer{re: re, with: rp.With})
		}
		switch r.Type {
		case "", "text", "url", "year", "date", "int":
		default:
			return nil, where("type", r.Type, fmt.Errorf("unknown type (text, url, year, date, int)"))
		}
		for _, l := range r.Label {
			if k := labelKey(l); k != "" {
				fr.labels = append(fr.labels, k)
				if !lex.keys[k] {
					lex.list = append(lex.list, k)
					lex.longest = max(lex.longest, len(k))
				}
				lex.keys[k] = true
			}
		}
		if r.Value != "" {
			fr.tmpl, fr.refs = parseTemplate(r.Value)
			fr.isConst = len(fr.refs) == 0
		}
		out = append(out, fr)
	}
	groups := 0
	for i, fr := range out {
		if len(fr.labels) == 0 {
			continue
		}
		for _, o := range out[:i] {
			if o.lgroup > 0 && o.isList == fr.isList && o.lines == fr.lines && slices.Equal(o.labels, fr.labels) {
				fr.lgroup = o.lgroup
				break
			}
		}
		if fr.lgroup == 0 {
			groups++
			fr.lgroup = groups
		}
	}
	return out, nil
}

// parseTemplate splits "Opinion {docket}" into literal and reference parts.
func parseTemplate(v string) ([]tmplPart, []string) {
	var parts []tmplPart
	var refs []string
	last := 0
	for _, m := range placeholderRE.FindAllStringSubmatchIndex(v, -1) {
		if m[0] > last {
			parts = append(parts, tmplPart{lit: v[last:m[0]]})
		}
		name := v[m[2]:m[3]]
		parts = append(parts, tmplPart{ref: name})
		refs = append(refs, name)
		last = m[1]
	}
	if last < len(v) {
		parts = append(parts, tmplPart{lit: v[last:]})
	}
	return parts, refs
}
