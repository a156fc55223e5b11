package runner

import (
	"context"
	"fmt"
	"sync"

	"github.com/harvest-dev/harvest/crawler"
	"github.com/harvest-dev/harvest/parser"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/store"
)

// details reads the seed's detail fields from each item's own page (the
// detail.link of the item, else its url). Only
// new or changed items are fetched (every item with Deps.RefreshDetails);
// an item whose listing fields are unchanged keeps the detail values the
// store holds. A failed detail page keeps the old values, makes the run
// partial and never drops the item. So does a detail page never fetched
// because the run was cancelled: a cut-short run must not read as "the
// detail fields were emptied". When the stored records cannot be read,
// no record is staged at all (their keys are, from the walk): the store
// keeps them as they are, and new items wait for the next run.
func (w *walk) details(ctx context.Context) {
	s := w.seed
	if s.Detail == nil || len(s.Detail.Fields) == 0 || len(w.records) == 0 {
		return
	}
	var names []string
	for _, f := range s.Detail.Fields {
		names = append(names, f.Name)
	}
	keys := make([]string, len(w.records))
	for i := range w.records {
		keys[i] = w.records[i].Key
	}
	stored := map[string]*record.Record{}
	// Read even when the run is being cancelled: the old values are what
	// the records keep for every detail page not fetched.
	err := w.d.Store.EachRecord(context.WithoutCancel(ctx), store.RecordFilter{Sources: []string{s.ID}, Keys: keys}, func(r *record.Record) error {
		cp := *r
		stored[r.Key] = &cp
		return nil
	})
	if err != nil {
		w.detailFailed = fmt.Sprintf("detail pages not read: stored records unavailable: %v", err)
		w.records = nil
		return
	}

	var todo []int
	for i := range w.records {
		r := &w.records[i]
		old := stored[r.Key]
		if old != nil && !w.d.RefreshDetails && r.Hash(names) == old.Hash(names) && hasAny(old, names) {
			carry(r, old, names)
			continue
		}
		todo = append(todo, i)
	}

	workers := max(1, s.Politeness.Concurrency)
	jobs := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				mu.Lock()
				u := w.records[i].URL
				if d := w.detailURLs[w.records[i].Key]; d != "" {
					u = d
				}
				mu.Unlock()
				vals, warns, err := w.detail(ctx, u)
				mu.Lock()
				r := &w.records[i]
				if err != nil {
					w.detailErrors++
					if w.detailFailed == "" {
						w.detailFailed = fmt.Sprintf("detail page of %s: %v", r.Key, err)
					}
					if old := stored[r.Key]; old != nil {
						carry(r, old, names)
					}
				} else {
					for _, n := range names {
						if v, ok := vals[n]; ok && r.Get(n) == "" {
							r.Set(n, v)
						}
					}
					r.Normalize()
					w.warnings = append(w.warnings, warns...)
				}
				w.detailPages++
				w.progress()
				mu.Unlock()
			}
		}()
	}
	sent := 0
	for _, i := range todo {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
		sent++
	}
	close(jobs)
	wg.Wait()
	if rest := todo[sent:]; len(rest) > 0 {
		if w.detailFailed == "" {
			w.detailFailed = fmt.Sprintf("detail pages of %d items not read: the run was cancelled", len(rest))
		}
		for _, i := range rest {
			if old := stored[w.records[i].Key]; old != nil {
				carry(&w.records[i], old, names)
			}
		}
	}
}

func (w *walk) detail(ctx context.Context, u string) (map[string]string, []parser.Warning, error) {
	if u == "" {
		return nil, nil, fmt.Errorf("the item has no url")
	}
	page, err := w.fetcher.Fetch(ctx, u, crawler.Validators{})
	if err != nil {
		return nil, nil, err
	}
	base := page.FinalURL
	if base == "" {
		base = u
	}
	return w.rules.ParseDetail(base, page.Body)
}

func hasAny(r *record.Record, names []string) bool {
	for _, n := range names {
		if r.Get(n) != "" {
			return true
		}
	}
	return false
}

// carry copies the detail fields of old into r, where r has no value.
func carry(r, old *record.Record, names []string) {
	for _, n := range names {
		if r.Get(n) == "" {
			if v := old.Get(n); v != "" {
				r.Set(n, v)
			}
		}
	}
}
