// Package parser turns one listing page into records with a seed's rules.
//
// It is a pure function of (seed rules, page URL, UTF-8 page): no network,
// clock or globals. Compile a seed once (Compile) and call Rules.Parse for
// each page; Parse and ParseDetail are one-shot wrappers.
//
// How the rules of DESIGN.md ("How rules read a page") are read here,
// where the design leaves a choice:
//
//   - Items: items selector matches, or with items.start an item starts at
//     each match and runs over its following siblings up to the next
//     sibling that is, or holds, a start match or a field's heading match.
//     That run is moved into a new <div> in the parsed tree (the caller
//     never sees this tree), so each item is one subtree and document
//     order is kept.
//   - select reads descendants of the item (goquery Find semantics); the
//     first match for a single value, every match for a list.
//   - attr: the element's attribute, or, when it has none, that of its
//     first descendant that has it (select: "h3", attr: href works).
//   - label: a text node equal to the label (case-insensitive, trailing
//     colon ignored) wins over a "Label: value" text line found earlier.
//     The label element is the text's parent when that is all it shows,
//     climbing further only out of inline elements (<th><strong>Year
//     </strong></th> is the <th>). The value is what follows: block
//     siblings (one value each, a wrapper of same-tag blocks or a <ul>
//     giving one value per item for a list) or the rest of the text line
//     up to <br> or a block. It stops at a sibling of the label's shape
//     (tag and first class), at any label of the same field set, or, when
//     values look like the label (<div>Country</div><div>Mexico</div>), at
//     a known label only. For a list, inline runs like
//     "<a>A</a>, <a>B</a>" give one value per element. Lines broken by
//     <br> inside a value stay one value; use split for such text.
//   - split is a literal separator, or with split: br (also "<br>",
//     "<br/>", "\n") the value's line breaks: <br> and block boundaries,
//     never newlines of the HTML source. A single-valued rule keeps the
//     first non-empty part ("Case name<br><span>District</span>" gives
//     the case name).
//   - replace: {pattern: RE, with: TEXT}, or a list of them, rewrites the
//     normalised text in order (every match; $1 and ${name} in with),
//     before regex and type; the result is normalised again. It is how a
//     seed cleans captions ("et al.", "vs." -> "v.") without code.
//   - regex keeps group "v", else group 1, else the whole match; no
//     match is no value.
//   - columns (seed level) maps a table's header texts (folded like
//     labels) to fields. The header is the last row of <thead>, else the
//     first row made only of <th>s, else the first row; header rows are
//     never items. A field mapped to a column reads the item row's cell
//     under that header (colspan counted): its rule's select, attr,
//     split, replace, regex and type then apply inside that cell. A field
//     named only in columns is the cell's text (seeds adds an empty rule).
//   - detail.link: per kept item, the href of the selector's first match
//     in the item (or of that match's first link), resolved, in
//     Result.DetailURLs (parallel to Records; "" when an item has none;
//     nil when the seed has no detail.link).
//   - pagination.next_text matches a link's whole text, case-insensitive;
//     arrows and punctuation around the words do not count ("Next ›"
//     matches Next), unless the seed's text is only symbols ("»").
//   - Facts.ScriptList, for a page with no items: an inline script that
//     fetches data, a <noscript> asking for JavaScript, an empty app root
//     (#root, #app, #__next), or an empty element an inline script looks
//     up by id and writes markup into (innerHTML, appendChild, .html()).
//   - value: a constant, or a template over other fields of the same item
//     ("{docket}", list values joined with record.ListSep); a template
//     whose fields are empty gives no value. Regex and type apply to the
//     result ("https://x.org/{id}" with type url).
//   - default applies when the rule found no value; required is checked
//     after page-level fields and defaults.
//   - type url resolves against <base href> or the page URL with
//     record.CanonicalURL; a value that cannot be made an http(s) URL is
//     dropped with a warning (mailto:, tel:, javascript:, # silently).
//     type date uses a <time datetime> in the value when there is one.
//   - Record fields title, summary and language from a list rule are the
//     values joined with a space; year is the first year in the value;
//     any other field name goes to Extra, lists joined with
//     record.ListSep. List values are de-duplicated in page order.
//   - Facts.Total is read only from short text lines (under 300 bytes)
//     that say "showing/displaying ... A-B of N", "N results" and their
//     Spanish, French and German forms; "Page 1 of 18" and "20 results per
//     page" are not totals.
package parser
