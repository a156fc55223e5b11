package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/record"
)

// reviewModel is the change semantics of DESIGN.md written out plainly,
// to compare ApplyRun and run sessions (pages staged in turn, keys seen
// without content in between) against.
type reviewModel struct {
	recs map[string]*reviewRec
}

type reviewRec struct {
	title, summary string
	removed        bool
	missed         int
	lastSeen       time.Time
}

type reviewRun struct {
	records []record.Record
	seen    []string
	status  Status
	ignore  []string
}

func (m *reviewModel) hash(title, summary string, ignore []string) string {
	if slices.Contains(ignore, "summary") {
		return title
	}
	return title + "\x00" + summary
}

// apply applies the run at time now and returns its final status and
// its changes as "kind key".
func (m *reviewModel) apply(r reviewRun, now time.Time) (Status, []string) {
	var out []string
	nBefore := 0
	for _, c := range m.recs {
		if !c.removed {
			nBefore++
		}
	}
	seen := map[string]bool{}
	withRec := map[string]bool{}
	for _, rc := range r.records {
		if withRec[rc.Key] {
			continue
		}
		withRec[rc.Key], seen[rc.Key] = true, true
		c, ok := m.recs[rc.Key]
		switch {
		case !ok:
			m.recs[rc.Key] = &reviewRec{title: rc.Title, summary: rc.Summary}
			out = append(out, KindAdded+" "+rc.Key)
		case c.removed:
			*c = reviewRec{title: rc.Title, summary: rc.Summary}
			out = append(out, KindRestored+" "+rc.Key)
		default:
			if m.hash(c.title, c.summary, r.ignore) != m.hash(rc.Title, rc.Summary, r.ignore) {
				out = append(out, KindUpdated+" "+rc.Key)
			}
			c.title, c.summary = rc.Title, rc.Summary
		}
	}
	for _, k := range r.seen {
		seen[k] = true
	}
	for k := range seen {
		if c, ok := m.recs[k]; ok && !c.removed {
			c.missed, c.lastSeen = 0, now
		}
	}
	status := r.status
	if status == StatusComplete && len(seen) == 0 && nBefore > 0 {
		status = StatusSuspect
	}
	if status == StatusComplete {
		var cands, missed []string
		for k, c := range m.recs {
			if c.removed || seen[k] {
				continue
			}
			if c.missed+1 >= DefaultMissingRuns {
				cands = append(cands, k)
			} else {
				missed = append(missed, k)
			}
		}
		if len(cands) > 0 && float64(len(cands)) > DefaultMaxRemovedShare*float64(nBefore) {
			status = StatusSuspect
		} else {
			for _, k := range missed {
				m.recs[k].missed++
			}
			for _, k := range cands {
				m.recs[k].missed++
				m.recs[k].removed = true
				out = append(out, KindRemoved+" "+k)
			}
		}
	}
	slices.Sort(out)
	return status, out
}

type reviewState struct {
	title, summary string
	removed        bool
	missed         int
	lastSeen       time.Time
}

func reviewDump(t *testing.T, s *Store) map[string]reviewState {
	t.Helper()
	out := map[string]reviewState{}
	err := s.EachRecord(context.Background(), RecordFilter{IncludeRemoved: true}, func(r *record.Record) error {
		out[r.Key] = reviewState{title: r.Title, summary: r.Summary, removed: r.RemovedAt != nil, lastSeen: r.LastSeen}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The missed count as the store means it (seen.go).
	rows, err := s.db.Query(`SELECT key, ` + effMissed(`COALESCE((SELECT run_id FROM source_sweeps s WHERE s.source = records.source), 0)`) + ` FROM records`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		st := out[k]
		st.missed = n
		out[k] = st
	}
	return out
}

// Runs applied through ApplyRun and through sessions staging page by
// page with seen keys in between (one with an OnChange hook, so that
// changes read their staged records) all agree with the model: statuses,
// changes, and every record's content, removal, missed count and
// last_seen, over runs that see most of the site (sweeps) and partial
// runs that see a tenth of it (no sweep).
//
// Some runs come after a night in which the site did not change: those
// that saw every current record know it from the digest of their keys
// alone (keyset.go), and the test makes sure that happened often enough
// to count.
func TestSessionsAgreeWithModel(t *testing.T) {
	var byDigest, runs int64
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			n, r := reviewScenario(t, seed, 40)
			byDigest, runs = byDigest+n, runs+r
		})
	}
	// Past the batch sizes (200 staged rows, 512 applied at a time).
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("large", seed), func(t *testing.T) {
			n, r := reviewScenario(t, seed, 1300)
			byDigest, runs = byDigest+n, runs+r
		})
	}
	if !t.Failed() && byDigest < runs/20 {
		t.Errorf("only %d of %d runs saw every current record by the key digest: the model exercises that path too little", byDigest, runs)
	}
	t.Logf("%d of %d runs settled by the key digest", byDigest, runs)
}

// reviewScenario runs one scenario and returns how many runs, over all
// its stores, found every current record seen by the key digest, and how
// many runs it applied.
func reviewScenario(t *testing.T, seed uint64, nKeys int) (byDigest, runs int64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	ctx := context.Background()
	c := newClock()
	var hooked []string
	stores := make([]*Store, 4)
	for i := range stores {
		opts := Options{Now: c.Now}
		if i == 1 {
			opts.OnChange = func(ctx context.Context, tx *sql.Tx, ch *Change) error {
				if ch.Kind != KindRemoved && ch.Record.Title == "" {
					return fmt.Errorf("change %s %s without its record", ch.Kind, ch.Key)
				}
				hooked = append(hooked, ch.Kind+" "+ch.Key)
				return nil
			}
		}
		stores[i], _ = newStore(t, opts)
		if i == 2 {
			stores[i].keysPerRead = 7 // many reads of the stored keys
		}
	}
	m := &reviewModel{recs: map[string]*reviewRec{}}
	key := func(i int) string { return fmt.Sprintf("https://example.int/k/%04d", i) }
	titles := make([]string, nKeys)
	summaries := make([]string, nKeys)
	present := make([]bool, nKeys)
	for i := range nKeys {
		titles[i], summaries[i], present[i] = fmt.Sprintf("T%d", i), "S", rng.IntN(4) > 0
	}
	var ignore []string
	if rng.IntN(2) == 0 {
		ignore = []string{"summary"}
	}
	defer func() {
		for _, s := range stores {
			byDigest += s.keySetSweeps.Load()
		}
	}()
	for run := range 8 {
		runs += int64(len(stores))
		// The site changes a little, most nights.
		quiet := rng.IntN(2) == 0
		for i := range nKeys {
			if quiet {
				break
			}
			switch rng.IntN(12) {
			case 0:
				present[i] = !present[i]
			case 1:
				titles[i] += "'"
			case 2:
				summaries[i] += "'"
			}
		}
		var in reviewRun
		in.ignore = ignore
		in.status = []Status{StatusComplete, StatusComplete, StatusComplete, StatusPartial, StatusSuspect}[rng.IntN(5)]
		order := rng.Perm(nKeys)
		for _, i := range order {
			if !present[i] {
				continue
			}
			if rng.IntN(5) == 0 {
				in.seen = append(in.seen, key(i)) // on a page not modified
				continue
			}
			r := rec(key(i), titles[i])
			r.Summary = summaries[i]
			in.records = append(in.records, r)
			if rng.IntN(6) == 0 { // also on a page not modified
				in.seen = slices.Insert(in.seen, rng.IntN(len(in.seen)+1), key(i))
			}
			if rng.IntN(8) == 0 { // a later repeat of the key: ignored
				d := rec(key(i), titles[i]+" (repeat)")
				in.records = append(in.records, d)
			}
		}
		switch rng.IntN(10) {
		case 0: // a run that saw nothing
			in.records, in.seen = nil, nil
		case 1: // a partial run that saw a tenth of the site
			in.records, in.seen = in.records[:len(in.records)/10], in.seen[:len(in.seen)/10]
			in.status = StatusPartial
		}
		c.Advance(1)
		wantStatus, want := m.apply(in, c.Now())

		// 0: ApplyRun.
		res, err := stores[0].ApplyRun(ctx, RunInput{Source: "a", Status: in.status, Records: in.records, SeenKeys: in.seen, IgnoreChanges: ignore})
		if err != nil {
			t.Fatal(err)
		}
		check := func(name string, s *Store, r *RunResult) {
			t.Helper()
			var got []string
			for _, ch := range changes(t, s, ChangeFilter{RunID: r.Run.ID}) {
				got = append(got, ch.Kind+" "+ch.Key)
			}
			slices.Sort(got)
			if r.Run.Status != wantStatus || !slices.Equal(got, want) {
				t.Fatalf("run %d, %s: status %s (%s), changes %v; want %s, %v", run+1, name, r.Run.Status, r.Run.Reason, got, wantStatus, want)
			}
		}
		check("ApplyRun", stores[0], res)

		// 1 to 3: sessions, pages of up to 7 records with seen keys in
		// between; 1 with a change hook, 3 with colliding key hashes.
		for i := 1; i <= 3; i++ {
			sess, err := stores[i].BeginRun(ctx, "a", ignore)
			if err != nil {
				t.Fatal(err)
			}
			if i == 3 {
				sess.hashOf = func(k string) keyHash { return keyHash{uint64(len(k) + int(k[len(k)-1])%3)} }
			}
			recs, seen := in.records, in.seen
			for len(recs) > 0 || len(seen) > 0 {
				n := min(len(recs), rng.IntN(8+nKeys/4))
				if n > 0 {
					if _, err := sess.AddRecords(ctx, recs[:n]); err != nil {
						t.Fatal(err)
					}
					recs = recs[n:]
				}
				n = min(len(seen), rng.IntN(3))
				if len(recs) == 0 {
					n = len(seen)
				}
				if n > 0 {
					// Reserved, not AddSeen: the model lets a record beat a
					// key seen without content, which is what a reserved key
					// is (AddSeen's keys are of stored records, and a later
					// record of one is a duplicate: TestSessionUnchangedListingWins).
					if _, err := sess.ReserveKeys(ctx, seen[:n]); err != nil {
						t.Fatal(err)
					}
					seen = seen[n:]
				}
			}
			hooked = nil
			res, err := sess.Finish(ctx, RunInput{Source: "a", Status: in.status, IgnoreChanges: ignore})
			if err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("session %d", i), stores[i], res)
			if i == 1 {
				slices.Sort(hooked)
				if !slices.Equal(hooked, want) {
					t.Fatalf("run %d: OnChange saw %v, want %v", run+1, hooked, want)
				}
			}
		}
		for i, s := range stores {
			got := reviewDump(t, s)
			for k, w := range m.recs {
				g, ok := got[k]
				if !ok || g != (reviewState{w.title, w.summary, w.removed, w.missed, w.lastSeen}) {
					t.Fatalf("run %d, store %d: %s = %+v, want %+v", run+1, i, k, g, *w)
				}
			}
			if len(got) != len(m.recs) {
				t.Fatalf("run %d, store %d: %d records, want %d", run+1, i, len(got), len(m.recs))
			}
			checkKeySet(t, s, "a")
		}
	}
	return byDigest, runs
}

// checkKeySet fails unless the stored digest of source's current keys is
// that of the keys of its current records.
func checkKeySet(t *testing.T, s *Store, source string) {
	t.Helper()
	keys, err := queryStrings(context.Background(), s.db, `SELECT key FROM records WHERE source = ? AND removed_at IS NULL`, source)
	if err != nil {
		t.Fatal(err)
	}
	var want keySet
	for _, k := range keys {
		want.add(k)
	}
	got, err := readKeySet(context.Background(), s.db, source)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("source %s: stored key digest %+v, want %+v (of its %d current records)", source, got, want, want.n)
	}
}

// A session's page outcomes (more than one batch of them): every one is
// kept with the run in order, and only pages fetched and parsed without
// error replace the page state, whose keys and links come back as staged
// (plain or not).
func TestSessionPagesAndStates(t *testing.T) {
	s, _ := newStore(t, Options{Now: newClock().Now})
	ctx := context.Background()
	sess, err := s.BeginRun(ctx, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	want := map[string][]string{}
	for i := range 123 {
		u := fmt.Sprintf("https://a.int/list?page=%d", i)
		p := PageOutcome{URL: u, Status: 200, Items: 2, ETag: fmt.Sprint(i), BodyHash: "h"}
		p.Keys = []string{fmt.Sprintf("https://a.int/r?a=%d&b=<%d>", i, i), fmt.Sprintf(`https://a.int/"q\%d"`, i), "ünï\u2028"}
		p.Next = []string{fmt.Sprintf("https://a.int/list?page=%d", i+1)}
		switch i % 3 {
		case 1:
			p.Err = "boom"
		case 2:
			p.NotModified = true
		default:
			want[u] = p.Keys
		}
		if err := sess.AddPage(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	res, err := sess.Finish(ctx, RunInput{Source: "a", Status: StatusPartial})
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Pages != 123 || res.Run.PagesFailed != 41 {
		t.Errorf("pages %d failed %d, want 123, 41", res.Run.Pages, res.Run.PagesFailed)
	}
	_, pages, err := s.Run(ctx, res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pages {
		if p.URL != fmt.Sprintf("https://a.int/list?page=%d", i) {
			t.Fatalf("page %d is %s", i, p.URL)
		}
	}
	states, err := s.PageStates(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != len(want) {
		t.Errorf("%d page states, want %d", len(states), len(want))
	}
	for u, keys := range want {
		if st := states[u]; st == nil || !slices.Equal(st.Keys, keys) || len(st.Next) != 1 {
			t.Errorf("state of %s = %+v, want keys %q", u, st, keys)
		}
	}
}

// Sessions of several sources staged at once (the daemon) and finished
// concurrently: each run holds its own records, seen keys and misses.
func TestConcurrentSessions(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	srcs := []string{"a", "b", "c", "d"}
	for night := range 3 {
		c.Advance(time.Hour)
		errs := make(chan error, len(srcs))
		for _, src := range srcs {
			go func() {
				errs <- func() error {
					sess, err := s.BeginRun(ctx, src, nil)
					if err != nil {
						return err
					}
					defer sess.Close()
					for p := range 5 {
						var page []record.Record
						for i := range 100 {
							n := p*100 + i
							if night > 0 && n%10 == 0 {
								continue // gone since night 1
							}
							r := rec(fmt.Sprintf("https://%s.int/%d", src, n), fmt.Sprintf("%s %d", src, n))
							if night == 2 && n%10 == 1 {
								r.Title += " edited"
							}
							page = append(page, r)
						}
						if _, err := sess.AddRecords(ctx, page); err != nil {
							return err
						}
						if err := sess.AddPage(ctx, PageOutcome{URL: fmt.Sprintf("https://%s.int/list/%d", src, p), Status: 200, Items: len(page)}); err != nil {
							return err
						}
					}
					res, err := sess.Finish(ctx, RunInput{Source: src, Status: StatusComplete})
					if err != nil {
						return err
					}
					want := [3]string{"+500 ~0 -0", "+0 ~0 -0", "+0 ~50 -50"}[night]
					if got := fmt.Sprintf("+%d ~%d -%d", res.Run.Added, res.Run.Updated, res.Run.Removed); got != want || res.Run.Seen != 500-50*min(night, 1) {
						return fmt.Errorf("night %d source %s: %s seen %d, want %s", night+1, src, got, res.Run.Seen, want)
					}
					return nil
				}()
			}()
		}
		for range srcs {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}
}

// Sessions finished, failed or abandoned give their connections back
// closed (their temporary tables with them): none stays in use, and the
// pool holds no connection with a session's tables.
func TestSessionsLeaveNoConnections(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	for i := range 12 {
		c.Advance(time.Hour)
		sess, err := s.BeginRun(ctx, "a", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sess.AddRecords(ctx, recs(5)); err != nil {
			t.Fatal(err)
		}
		switch i % 4 {
		case 0:
			_, err = sess.Finish(ctx, RunInput{Source: "a", Status: StatusComplete})
		case 1:
			if _, err := sess.Finish(ctx, RunInput{Source: "b", Status: StatusComplete}); err == nil {
				t.Fatal("Finish with another source's input succeeded")
			}
		case 2:
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := sess.Finish(cctx, RunInput{Source: "a", Status: StatusComplete}); !errors.Is(err, context.Canceled) {
				t.Fatalf("Finish with a cancelled context: err = %v, want context.Canceled", err)
			}
		case 3:
			err = sess.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		sess.Close()
	}
	if st := s.db.Stats(); st.InUse != 0 {
		t.Errorf("%d connections still in use", st.InUse)
	}
	for range 4 {
		var n int
		if err := s.db.QueryRow(`SELECT COUNT(*) FROM temp.sqlite_master`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("a pooled connection holds %d temporary tables", n)
		}
	}
	if _, err := s.ApplyRun(ctx, RunInput{Source: "a", Status: StatusComplete, Records: recs(5)}); err != nil {
		t.Fatal(err)
	}
}
