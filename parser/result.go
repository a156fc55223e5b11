package parser

import (
	"strconv"

	"github.com/harvest-dev/harvest/record"
)

// Result is what the rules of one seed pull out of one listing page.
type Result struct {
	// Records in page order, normalised (record.Normalize), with Source
	// and Key set. Items missing a required field are not here.
	Records []record.Record
	// DetailURLs, when the seed sets detail.link, is parallel to Records:
	// the absolute URL of each record's detail page (the href of the
	// item's first detail.link match, or of that match's first link), ""
	// for an item without one. It is nil without detail.link; then a
	// record's detail page is its url.
	DetailURLs []string
	// Next holds absolute URLs of further listing pages found on the page
	// (the next link, by selector, text or rel=next), in page order.
	Next []string
	// Facts are what the page says about itself.
	Facts Facts
	// Warnings name the page, the item position and the field.
	Warnings []Warning
	// Dropped counts items skipped for a missing required field.
	Dropped int
}

// Facts are page-level observations the run uses to judge its health.
type Facts struct {
	// Items is how many item elements matched the items selector (before
	// required-field drops).
	Items int
	// Total is the page's own count of results ("showing 1-20 of 345"),
	// 0 when the page does not say.
	Total int
	// ScriptPager is set when the page's pager works only through
	// scripts or form posts (onclick, __doPostBack, javascript:).
	ScriptPager bool
	// ScriptList is set when there are no items and the page appears to
	// build its list with scripts.
	ScriptList bool
}

// Warning is one problem with one page, not fatal to the page.
type Warning struct {
	Page  string `json:"page"`
	Item  int    `json:"item,omitempty"` // 1-based position, 0 for the page
	Field string `json:"field,omitempty"`
	Msg   string `json:"msg"`
}

func (w Warning) String() string {
	s := w.Page
	if w.Item > 0 {
		s += " item " + strconv.Itoa(w.Item)
	}
	if w.Field != "" {
		s += " field " + w.Field
	}
	return s + ": " + w.Msg
}

// Parse applies the seed's rules to one UTF-8 listing page fetched from
// pageURL (the final URL, after redirects). It is a pure function: no
// network, no clock, no globals. It returns an error only when the rules
// themselves cannot run (a bad selector or regex in a seed that skipped
// validation); a page without items is a Result with Facts.Items == 0.
//
//	func Parse(s *seeds.Seed, pageURL string, page []byte) (*Result, error)
