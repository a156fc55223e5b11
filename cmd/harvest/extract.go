package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/harvest-dev/harvest/crawler"
	"github.com/harvest-dev/harvest/parser"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
)

func cmdExtract(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "extract", "extract --seed FILE (--file PAGE [--base-url URL] | --url URL) [--format table|jsonl|json]",
		"Prints what a seed's rules pull out of one listing page, for writing and\n"+
			"debugging seeds. jsonl prints one record per line and nothing else on\n"+
			"standard output; warnings go to standard error.")
	seedPath := fs.String("seed", "", "seed file (YAML)")
	file := fs.String("file", "", "a saved page to read")
	baseURL := fs.String("base-url", "", "URL the saved page came from (default: the seed's first start URL)")
	pageURL := fs.String("url", "", "fetch this page instead of reading --file (obeys the seed's politeness and robots.txt)")
	format := fs.String("format", "table", "table, jsonl or json")
	logger := logFlags(e, fs, "info")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *seedPath == "" || (*file == "") == (*pageURL == "") {
		return fmt.Errorf("%w: give --seed and exactly one of --file or --url", errUsage)
	}
	if err := checkFormat(*format, "table", "jsonl", "json"); err != nil {
		return err
	}
	s, err := seeds.LoadFile(*seedPath)
	if err != nil {
		return err
	}
	var body []byte
	base := *baseURL
	if *file != "" {
		raw, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("read page: %w", err)
		}
		if body, err = crawler.DecodeHTML("", raw); err != nil {
			return fmt.Errorf("page %s: %w", *file, err)
		}
		if base == "" && len(s.StartURLs) > 0 {
			base = s.StartURLs[0]
		}
	} else {
		sess, err := crawler.New(crawler.Config{Logger: logger(), Now: e.now}).Open(ctx, s)
		if err != nil {
			return err
		}
		page, err := sess.Fetch(ctx, *pageURL, crawler.Validators{})
		if err != nil {
			return err
		}
		body, base = page.Body, page.FinalURL
	}
	res, err := parser.Parse(s, base, body)
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(e.stderr, "warning:", w.String())
	}
	if res.Facts.Items == 0 {
		msg := fmt.Sprintf("no items: nothing on the page matches items %q", itemsSelector(s))
		if res.Facts.ScriptList {
			msg = "no items; the page builds its list with scripts (harvest reads the HTML as served)"
		}
		fmt.Fprintln(e.stderr, msg)
	}
	switch *format {
	case "jsonl":
		enc := json.NewEncoder(e.stdout)
		enc.SetEscapeHTML(false)
		for i := range res.Records {
			if err := enc.Encode(extractView(&res.Records[i])); err != nil {
				return err
			}
		}
		return nil
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		recs := make([]any, len(res.Records))
		for i := range res.Records {
			recs[i] = extractView(&res.Records[i])
		}
		return enc.Encode(map[string]any{"records": recs, "next": res.Next, "facts": res.Facts, "warnings": res.Warnings, "dropped": res.Dropped})
	}
	return printExtractTable(e.stdout, s, res)
}

func itemsSelector(s *seeds.Seed) string {
	if s.Items.Start != "" {
		return "start: " + s.Items.Start
	}
	return s.Items.Selector
}

// extractView is a record as extract prints it: the record fields, extra
// as an object, no bookkeeping.
func extractView(r *record.Record) map[string]any {
	extra := r.Extra
	if extra == nil {
		extra = map[string]string{}
	}
	nz := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	var year any
	if r.Year != 0 {
		year = r.Year
	}
	return map[string]any{
		"source": r.Source, "key": r.Key, "url": r.URL, "title": r.Title, "summary": r.Summary,
		"countries": nz(r.Countries), "regions": nz(r.Regions), "authors": nz(r.Authors), "year": year,
		"categories": nz(r.Categories), "language": r.Language, "extra": extra,
	}
}

func printExtractTable(w io.Writer, s *seeds.Seed, res *parser.Result) error {
	names := []string{}
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	for _, f := range s.Page {
		if _, ok := s.Fields.Get(f.Name); !ok {
			names = append(names, f.Name)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "#\t%s\n", strings.ToUpper(strings.Join(names, "\t")))
	filled := make([]int, len(names))
	for i := range res.Records {
		r := &res.Records[i]
		cells := make([]string, len(names))
		for j, n := range names {
			v := r.Get(n)
			if v != "" {
				filled[j]++
			}
			cells[j] = clip(v, 40)
		}
		fmt.Fprintf(tw, "%d\t%s\n", i+1, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d records from %d items", len(res.Records), res.Facts.Items)
	if res.Dropped > 0 {
		fmt.Fprintf(w, " (%d dropped for a missing required field)", res.Dropped)
	}
	if res.Facts.Total > 0 {
		fmt.Fprintf(w, "; the page says %d in all", res.Facts.Total)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\nfield fill:")
	for j, n := range names {
		fmt.Fprintf(w, "  %-14s %d/%d\n", n, filled[j], len(res.Records))
	}
	if len(res.Next) > 0 {
		fmt.Fprintf(w, "\nnext pages: %s\n", strings.Join(res.Next, " "))
	}
	return nil
}

// clip shortens s to at most n runes for a table cell.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
