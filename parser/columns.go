package parser

import (
	"strconv"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Tables read with columns: each header cell's text (folded like a label)
// names a column; a field mapped to that header reads the item row's cell
// in the same column, counting colspan. The header row is the last row
// of <thead>, else the first row made only of <th> cells, else the
// table's first row. Header rows are never items.

// tableHead is the header of one table: header key -> column index, and
// the header row itself.
type tableHead struct {
	row  *html.Node
	cols map[string]int
}

// rowsOf returns the rows of table t in order, not those of nested tables.
func rowsOf(t *html.Node) []*html.Node {
	var rows []*html.Node
	for c := t.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		switch c.DataAtom {
		case atom.Tr:
			rows = append(rows, c)
		case atom.Thead, atom.Tbody, atom.Tfoot:
			for r := c.FirstChild; r != nil; r = r.NextSibling {
				if r.Type == html.ElementNode && r.DataAtom == atom.Tr {
					rows = append(rows, r)
				}
			}
		}
	}
	return rows
}

// cellsOf returns the cells of a row with the column each starts at.
func cellsOf(row *html.Node, f func(cell *html.Node, col, span int) bool) {
	col := 0
	for c := row.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode || (c.DataAtom != atom.Td && c.DataAtom != atom.Th) {
			continue
		}
		span := 1
		if v, ok := attr(c, "colspan"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 1 && n < 1000 {
				span = n
			}
		}
		if !f(c, col, span) {
			return
		}
		col += span
	}
}

// headOf finds (and caches) the header of table t.
func (p *page) headOf(t *html.Node) *tableHead {
	if h, ok := p.tables[t]; ok {
		return h
	}
	if p.tables == nil {
		p.tables = map[*html.Node]*tableHead{}
	}
	h := &tableHead{cols: map[string]int{}}
	p.tables[t] = h
	rows := rowsOf(t)
	for _, r := range rows {
		if r.Parent != nil && r.Parent.DataAtom == atom.Thead {
			h.row = r // the last row of thead
		}
	}
	if h.row == nil {
		for _, r := range rows {
			allTH, any := true, false
			cellsOf(r, func(c *html.Node, _, _ int) bool {
				any = true
				allTH = allTH && c.DataAtom == atom.Th
				return allTH
			})
			if any && allTH {
				h.row = r
				break
			}
		}
	}
	if h.row == nil && len(rows) > 0 {
		h.row = rows[0]
	}
	if h.row != nil {
		cellsOf(h.row, func(c *html.Node, col, _ int) bool {
			if k := labelKey(nodeText(c)); k != "" {
				if _, dup := h.cols[k]; !dup {
					h.cols[k] = col
				}
			}
			return true
		})
	}
	return h
}

// tableOf returns the nearest <table> around n.
func tableOf(n *html.Node) *html.Node {
	for a := n.Parent; a != nil; a = a.Parent {
		if a.Type == html.ElementNode && a.DataAtom == atom.Table {
			return a
		}
	}
	return nil
}

// rowOf returns the table row of an item: the item itself, or its first
// descendant row.
func rowOf(item *html.Node) *html.Node {
	if item.Type == html.ElementNode && item.DataAtom == atom.Tr {
		return item
	}
	var found *html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil && found == nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.DataAtom == atom.Tr {
				found = c
				return
			}
			walk(c)
		}
	}
	walk(item)
	return found
}

// isHeaderRow reports whether item is a header row of its table (or sits
// in a <thead>): with columns, such rows are not items.
func (p *page) isHeaderRow(item *html.Node) bool {
	if item.Type != html.ElementNode || item.DataAtom != atom.Tr {
		return false
	}
	if item.Parent != nil && item.Parent.DataAtom == atom.Thead {
		return true
	}
	t := tableOf(item)
	return t != nil && p.headOf(t).row == item
}

// columnCell returns the cell of item's row in the column whose header
// key is key, or nil.
func (p *page) columnCell(item *html.Node, key string) *html.Node {
	row := rowOf(item)
	if row == nil {
		return nil
	}
	t := tableOf(row)
	if t == nil {
		return nil
	}
	want, ok := p.headOf(t).cols[key]
	if !ok {
		return nil
	}
	var cell *html.Node
	cellsOf(row, func(c *html.Node, col, span int) bool {
		if want >= col && want < col+span {
			cell = c
			return false
		}
		return col < want
	})
	return cell
}
