package runner_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/faultsite"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// pageFault is one random outcome of a listing page.
type pageFault struct {
	name  string
	fault faultsite.Fault
}

// pageFaults are the failures a page may suffer on a night; the weight
// of "ok" keeps most nights complete enough for removals to happen.
var propertyFaults = []pageFault{
	{"5xx", faultsite.HTTPStatus(503)},
	{"timeout", faultsite.Is(faultsite.Hang)},
	{"truncated", faultsite.Is(faultsite.Truncate)},
	{"reset", faultsite.Is(faultsite.Reset)},
	{"empty", faultsite.Is(faultsite.Empty)},
	{"challenge", faultsite.Is(faultsite.Challenge)},
}

// layoutFaults are the outcomes that parse but look wrong.
var layoutFaults = []pageFault{
	{"layout", faultsite.Is(faultsite.Layout)},
	{"maintenance", faultsite.Is(faultsite.Maintenance)},
}

// TestNoWrongRemovals drives random nights (page faults, robots.txt
// 5xx, items taken down and put back, new items) against the real
// runner, crawler and store, and checks after every run, from the
// statuses the store reports:
//
//   - a record is removed only by a complete run, only when it is not on
//     the site, and only after it was missing from missing_runs complete
//     runs in a row;
//   - a record on the site is never removed; nothing that is not on the
//     site is added or restored;
//   - after a complete run every item of the site is a current record;
//   - once the faults stop, missing_runs+1 complete nights leave exactly
//     the site's items current.
func TestNoWrongRemovals(t *testing.T) {
	propertyTest(t, propertyFaults)
}

// TestNoWrongRemovalsWithLayoutChanges adds pages that parse with too few
// items (a redesign, a maintenance page).
func TestNoWrongRemovalsWithLayoutChanges(t *testing.T) {
	propertyTest(t, append(slices.Clone(propertyFaults), layoutFaults...))
}

const (
	propertySequences = 30
	propertyNights    = 8
)

func propertyTest(t *testing.T, faults []pageFault) {
	var (
		mu       sync.Mutex
		statuses = map[store.Status]int{}
		removals int
		restores int
	)
	t.Run("sequences", func(t *testing.T) {
		for seq := range propertySequences {
			t.Run(fmt.Sprint(seq), func(t *testing.T) {
				t.Parallel()
				st, rem, res := runSequence(t, uint64(seq), faults)
				mu.Lock()
				defer mu.Unlock()
				for k, v := range st {
					statuses[k] += v
				}
				removals += rem
				restores += res
			})
		}
	})
	// The sequences must exercise what they check.
	t.Logf("statuses %v, removals %d, restores %d", statuses, removals, restores)
	if removals == 0 || restores == 0 || statuses[store.StatusComplete] == 0 || statuses[store.StatusPartial] == 0 ||
		statuses[store.StatusBlocked] == 0 || statuses[store.StatusFailed] == 0 {
		t.Errorf("the random nights did not cover removals, restores and every status: %v, %d removals, %d restores", statuses, removals, restores)
	}
}

// keyModel is what the test knows of one publication.
type keyModel struct {
	slug   string
	onSite bool
	// misses counts the complete runs in a row, since the item was last
	// on the site during a complete run, for which it was not on the
	// site. The store's own count can only be lower (a partial run that
	// saw the item resets it), so a removal needs misses >= missing_runs.
	misses  int
	removed bool // as the store says
}

func runSequence(t *testing.T, seed uint64, faults []pageFault) (map[store.Status]int, int, int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	r := newFaultRig(t, 10)
	r.seed.Guards.MaxRemovedShare = 0.99 // the removal guard is tested on its own
	r.maxRetries = -1
	k := r.seed.Guards.MissingRuns
	keyOf := func(slug string) string { return r.base + "/pub/" + slug }

	model := map[string]*keyModel{}
	for _, it := range r.site.Items() {
		model[keyOf(it.Slug)] = &keyModel{slug: it.Slug, onSite: true}
	}
	statuses := map[store.Status]int{}
	removals, restores, fresh := 0, 0, 0
	var log []string
	lasting := map[int]pageFault{} // page -> its fault of last night

	check := func(night int, run *store.Run) {
		t.Helper()
		statuses[run.Status]++
		for _, m := range model {
			switch {
			case run.Status != store.StatusComplete:
			case m.onSite:
				m.misses = 0
			default:
				m.misses++
			}
		}
		changes, err := r.st.RunChanges(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range changes {
			m := model[c.Key]
			if m == nil {
				t.Fatalf("night %d (%s): change %s of unknown key %s\n%s", night, run.Status, c.Kind, c.Key, strings.Join(log, "\n"))
			}
			switch c.Kind {
			case store.KindRemoved:
				removals++
				m.removed = true
				if run.Status != store.StatusComplete || m.onSite || m.misses < k {
					t.Fatalf("night %d: %s removed by a %s run; on site %v, missing from %d complete runs (missing_runs %d)\n%s",
						night, m.slug, run.Status, m.onSite, m.misses, k, strings.Join(log, "\n"))
				}
			case store.KindAdded, store.KindRestored:
				if c.Kind == store.KindRestored {
					restores++
				}
				m.removed = false
				if !m.onSite {
					t.Fatalf("night %d: %s %s but it is not on the site\n%s", night, m.slug, c.Kind, strings.Join(log, "\n"))
				}
			}
		}
		if run.Status == store.StatusComplete {
			snap := r.snapshot()
			for key, m := range model {
				v, ok := snap[key]
				if m.onSite && (!ok || strings.HasSuffix(v, " removed")) {
					t.Fatalf("night %d: complete run, but %s, on the site, is not a current record\n%s", night, m.slug, strings.Join(log, "\n"))
				}
			}
		}
	}

	run, _ := r.night()
	if run.Status != store.StatusComplete || run.Added != 10 {
		t.Fatalf("night 1 = %s (%s), want complete with 10 added", counts(*run), run.Reason)
	}
	check(1, run)
	// A short deadline makes "timeout" nights cheap; a normal page that
	// misses it under load only makes a night partial, which the checks
	// allow. Night 1 and the healed nights keep the generous default.
	r.seed.Limits.Timeout = seeds.Duration(50 * time.Millisecond)

	for night := 2; night <= propertyNights+1; night++ {
		// The library changes.
		items := r.site.Items()
		if rng.Float64() < 0.4 && len(items) > 4 {
			it := items[rng.IntN(len(items))]
			r.site.Remove(it.Slug)
			model[keyOf(it.Slug)].onSite = false
			log = append(log, fmt.Sprintf("night %d: take down %s", night, it.Slug))
		}
		if rng.Float64() < 0.3 {
			// Put back a taken-down item, preferably one the store has
			// removed (a restore), else a brand-new one.
			var gone []*keyModel
			for _, m := range model {
				if !m.onSite && m.removed {
					gone = append(gone, m)
				}
			}
			if len(gone) == 0 {
				for _, m := range model {
					if !m.onSite {
						gone = append(gone, m)
					}
				}
			}
			slices.SortFunc(gone, func(a, b *keyModel) int { return strings.Compare(a.slug, b.slug) })
			var it faultsite.Item
			if len(gone) > 0 && rng.IntN(3) > 0 {
				g := gone[rng.IntN(len(gone))]
				it = faultsite.Item{Slug: g.slug, Title: "Back " + g.slug, Summary: "Back", Country: "Peru"}
			} else {
				fresh++
				it = faultsite.Item{Slug: fmt.Sprintf("new-%02d", fresh), Title: fmt.Sprintf("New %d", fresh), Summary: "New", Country: "Peru"}
			}
			r.site.Add(it)
			if model[keyOf(it.Slug)] == nil {
				model[keyOf(it.Slug)] = &keyModel{slug: it.Slug}
			}
			model[keyOf(it.Slug)].onSite = true
			log = append(log, fmt.Sprintf("night %d: put up %s", night, it.Slug))
		}
		// The night's faults.
		r.site.Heal()
		var what []string
		if rng.Float64() < 0.1 {
			r.site.SetRobots(faultsite.HTTPStatus(503))
			what = append(what, "robots.txt 503")
		}
		// A page's fault lasts into the next night half of the time (a
		// redesign stays; an outage can last), else the page is well.
		for p := range r.site.Pages() {
			f, faulty := lasting[p]
			switch {
			case faulty && rng.IntN(2) == 0:
			case !faulty && rng.Float64() < 0.25:
				f, faulty = faults[rng.IntN(len(faults))], true
			default:
				delete(lasting, p)
				continue
			}
			lasting[p] = f
			r.site.Set(p, f.fault)
			what = append(what, fmt.Sprintf("page %d %s", p, f.name))
		}
		run, _ := r.night()
		log = append(log, fmt.Sprintf("night %d: faults %v -> %s (%s)", night, what, counts(*run), run.Reason))
		check(night, run)
	}

	// The faults stop: missing_runs+1 complete nights settle the store.
	r.site.Heal()
	r.seed.Limits.Timeout = seeds.Duration(5 * time.Second)
	for night := propertyNights + 2; night <= propertyNights+2+k; night++ {
		run, _ := r.night()
		log = append(log, fmt.Sprintf("night %d: healed -> %s (%s)", night, counts(*run), run.Reason))
		if run.Status != store.StatusComplete {
			t.Fatalf("night %d: healed site, run %s (%s)\n%s", night, run.Status, run.Reason, strings.Join(log, "\n"))
		}
		check(night, run)
	}
	snap := r.snapshot()
	for key, m := range model {
		v, stored := snap[key]
		current := stored && !strings.HasSuffix(v, " removed")
		if current != m.onSite {
			t.Errorf("after healing: %s current=%v, on site=%v\n%s", m.slug, current, m.onSite, strings.Join(log, "\n"))
		}
	}
	return statuses, removals, restores
}
