// Command ceiling is the benchmark's practical ceiling: the least a Go
// program must do to extract the eight fields of every item of the
// fixture library, with net/http, goquery and hard-coded selectors, 16
// workers, no politeness, no store. It writes one JSON object per item.
//
//	ceiling -start http://127.0.0.1:PORT/resources -pages 500 -mode param -out items.jsonl
//
// In param mode the page URLs are known up front (start?page=0..pages-1)
// and fetched by the workers; in next mode it follows the pager's
// rel="next" link from the start page, one page at a time, as any
// crawler without speculation must.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"

	"github.com/PuerkitoBio/goquery"
)

// item is one extracted record.
type item struct {
	URL        string   `json:"url"`
	Title      string   `json:"title"`
	Summary    string   `json:"summary"`
	Countries  []string `json:"countries"`
	Regions    []string `json:"regions"`
	Authors    []string `json:"authors"`
	Year       int      `json:"year"`
	Categories []string `json:"categories"`
}

func main() {
	start := flag.String("start", "", "URL of the first listing page")
	pages := flag.Int("pages", 0, "param mode: number of listing pages")
	mode := flag.String("mode", "param", "param or next")
	workers := flag.Int("workers", 16, "concurrent requests (param mode)")
	out := flag.String("out", "", "JSON Lines output file")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *start, *mode, *pages, *workers, *out); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, start, mode string, pages, workers int, outPath string) error {
	if start == "" || outPath == "" {
		return errors.New("-start and -out are required")
	}
	f, err := os.Create(outPath)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 256<<10)
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	emit := func(items []item) error {
		mu.Lock()
		defer mu.Unlock()
		for i := range items {
			if err := enc.Encode(&items[i]); err != nil {
				return err
			}
		}
		return nil
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}

	switch mode {
	case "param":
		urls := make(chan string)
		errc := make(chan error, workers)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for u := range urls {
					items, _, err := fetch(ctx, client, u)
					if err == nil {
						err = emit(items)
					}
					if err != nil {
						errc <- err
						return
					}
				}
			}()
		}
		var ferr error
	feed:
		for p := 0; p < pages; p++ {
			select {
			case urls <- start + "?page=" + strconv.Itoa(p):
			case ferr = <-errc:
				break feed
			}
		}
		close(urls)
		wg.Wait()
		if ferr == nil && len(errc) > 0 {
			ferr = <-errc
		}
		if ferr != nil {
			return ferr
		}
	case "next":
		for u := start; u != ""; {
			items, next, err := fetch(ctx, client, u)
			if err != nil {
				return err
			}
			if err := emit(items); err != nil {
				return err
			}
			u = next
		}
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// fetch GETs one listing page and extracts its items and next link.
func fetch(ctx context.Context, client *http.Client, rawURL string) ([]item, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("fetch %s: HTTP %d", rawURL, resp.StatusCode)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("parse %s: %w", rawURL, err)
	}
	base := resp.Request.URL
	heading := text(doc.Find("h1.page-title"))
	var items []item
	doc.Find("div.views-row").Each(func(_ int, row *goquery.Selection) {
		a := row.Find("h3 a").First()
		href, _ := a.Attr("href")
		it := item{
			URL:        resolve(base, href),
			Title:      text(a),
			Summary:    text(row.Find(".views-field-body")),
			Countries:  texts(row.Find(".field--name-field-country .field__item")),
			Regions:    texts(row.Find(".field--name-field-region .field__item")),
			Authors:    texts(row.Find(".field--name-field-authors .field__item")),
			Categories: texts(row.Find(".field--name-field-category .field__item")),
		}
		it.Year, _ = strconv.Atoi(text(row.Find(".field--name-field-year .field__item")))
		if len(it.Categories) == 0 {
			it.Categories = []string{heading}
		}
		items = append(items, it)
	})
	next := ""
	if href, ok := doc.Find(`li.pager__item--next a[rel="next"]`).Attr("href"); ok {
		next = resolve(base, href)
	}
	return items, next, nil
}

func text(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

func texts(s *goquery.Selection) []string {
	out := make([]string, 0, s.Length())
	s.Each(func(_ int, e *goquery.Selection) { out = append(out, text(e)) })
	return out
}

func resolve(base *url.URL, href string) string {
	u, err := base.Parse(href)
	if err != nil {
		return ""
	}
	return u.String()
}
