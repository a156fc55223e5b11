package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/runner"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

func TestJitterIsDeterministicAndBounded(t *testing.T) {
	day := 24 * time.Hour
	seen := map[time.Duration]bool{}
	for i := 0; i < 100; i++ {
		id := fmt.Sprintf("source-%d", i)
		j := Jitter(id, day, 15*time.Minute)
		if j != Jitter(id, day, 15*time.Minute) {
			t.Fatalf("jitter of %s not stable", id)
		}
		if j < 0 || j >= 15*time.Minute {
			t.Fatalf("jitter of %s = %s, want in [0, 15m)", id, j)
		}
		if h := Jitter(id, time.Hour, 15*time.Minute); h < 0 || h >= 6*time.Minute {
			t.Fatalf("hourly jitter of %s = %s, want under 10%% of an hour", id, h)
		}
		seen[j.Truncate(time.Minute)] = true
	}
	if len(seen) < 10 {
		t.Errorf("100 daily sources fall on only %d distinct minutes: jitter does not spread them", len(seen))
	}
	if Jitter("a", day, -1) != 0 {
		t.Error("a negative cap must disable jitter")
	}
}

func TestRunOnceRunsWhatIsDueAndARestartNeitherSkipsNorDoubles(t *testing.T) {
	f := newFixture(t, 6, "@daily")
	st := f.open(store.Options{})
	d1 := f.daemon(st, nil)

	// A source never run is due at once.
	outs := runOnce(t, d1)
	if len(outs) != 1 || outs[0].Run.Status != store.StatusComplete || outs[0].Run.Added != 6 {
		t.Fatalf("first RunOnce = %+v", outs)
	}
	hits := f.lib.listHits()
	sc := schedule(t, st, "lib")
	wantDue := time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC).Add(Jitter("lib", 24*time.Hour, DefaultMaxJitter))
	if !sc.NextDue.Equal(wantDue) || sc.LastStatus != "complete" || sc.LastRunID != outs[0].Run.ID || sc.LeaseOwner != "" {
		t.Fatalf("schedule after the run = %+v, want next_due %s and the lease released", sc, wantDue)
	}
	if outs := runOnce(t, d1); len(outs) != 0 {
		t.Fatalf("RunOnce right after a run ran %d sources", len(outs))
	}

	// "Restart": a new daemon over a new handle on the same file.
	st2 := f.open(store.Options{})
	f.clock.Advance(time.Hour)
	d2 := f.daemon(st2, nil)
	if outs := runOnce(t, d2); len(outs) != 0 || f.lib.listHits() != hits {
		t.Fatalf("a restart before the due time ran %d sources", len(outs))
	}
	f.clock.Set(wantDue.Add(-time.Second))
	if outs := runOnce(t, d2); len(outs) != 0 {
		t.Fatal("ran a second before its due time")
	}
	f.clock.Set(wantDue)
	if outs := runOnce(t, d2); len(outs) != 1 {
		t.Fatalf("at the due time: %d runs, want 1", len(outs))
	}

	// Down for three days: on start, one run (not three), then the next
	// slot after now.
	f.clock.Advance(3*24*time.Hour + 5*time.Hour)
	d3 := f.daemon(f.open(store.Options{}), nil)
	if outs := runOnce(t, d3); len(outs) != 1 {
		t.Fatalf("after three missed days: %d runs, want 1", len(outs))
	}
	if outs := runOnce(t, d3); len(outs) != 0 {
		t.Fatalf("missed slots were run again: %d", len(outs))
	}
	sc = schedule(t, st, "lib")
	if want := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC).Add(Jitter("lib", 24*time.Hour, DefaultMaxJitter)); !sc.NextDue.Equal(want) {
		t.Errorf("next due after catching up = %s, want %s", sc.NextDue, want)
	}
	runs, _ := st.Runs(context.Background(), store.RunFilter{})
	if len(runs) != 3 {
		t.Errorf("runs stored = %d, want 3", len(runs))
	}
}

func TestEditedScheduleMovesTheNextRunEarlier(t *testing.T) {
	f := newFixture(t, 2, "@daily")
	st := f.open(store.Options{})
	runOnce(t, f.daemon(st, nil))
	// The seed now says hourly: a restart must not wait for tomorrow.
	hourly := f.newSeed("lib", "@hourly")
	f.clock.Advance(90 * time.Minute)
	d := f.daemon(st, nil, hourly)
	if outs := runOnce(t, d); len(outs) != 1 {
		t.Fatalf("after the schedule became hourly: %d runs, want 1", len(outs))
	}
	sc := schedule(t, st, "lib")
	if want := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC).Add(Jitter("lib", time.Hour, DefaultMaxJitter)); !sc.NextDue.Equal(want) {
		t.Errorf("next due = %s, want %s", sc.NextDue, want)
	}
}

func TestFailingSourceBacksOffAndSaysWhy(t *testing.T) {
	f := newFixture(t, 3, "@hourly")
	f.lib.set(func(l *library) { l.status = 500 })
	st := f.open(store.Options{})
	d := f.daemon(st, nil)
	ctx := context.Background()
	jit := Jitter("lib", time.Hour, DefaultMaxJitter)

	var sc store.SourceSchedule
	for i := 1; i <= 2; i++ {
		outs := runOnce(t, d)
		if len(outs) != 1 || outs[0].Run.Status != store.StatusFailed {
			t.Fatalf("run %d = %+v", i, outs)
		}
		sc = schedule(t, st, "lib")
		if sc.ConsecutiveFailures != i || !sc.BackoffUntil.IsZero() || !strings.Contains(sc.Note, "last run failed") {
			t.Fatalf("after %d failures: %+v", i, sc)
		}
		if want := f.clock.Now().Truncate(time.Hour).Add(time.Hour + jit); !sc.NextDue.Equal(want) {
			t.Fatalf("after %d failures next due = %s, want the normal %s", i, sc.NextDue, want)
		}
		f.clock.Set(sc.NextDue)
	}
	// Third failure in a row: wait two intervals; fourth: four.
	for i, mult := range []time.Duration{2, 4} {
		started := f.clock.Now()
		runOnce(t, d)
		sc = schedule(t, st, "lib")
		want := started.Add(mult*time.Hour + jit)
		if sc.ConsecutiveFailures != 3+i || !sc.NextDue.Equal(want) || !sc.BackoffUntil.Equal(want) {
			t.Fatalf("failure %d: %+v, want next due %s", 3+i, sc, want)
		}
		if !strings.Contains(sc.Note, fmt.Sprintf("backing off: %d failed runs in a row", 3+i)) || !strings.Contains(sc.Note, "500") {
			t.Errorf("note = %q", sc.Note)
		}
		status, err := d.Status(ctx)
		if err != nil || status[0].State != "backing off" || status[0].Note != sc.Note {
			t.Errorf("status = %+v, %v", status, err)
		}
		f.clock.Set(want.Add(-time.Minute))
		if outs := runOnce(t, d); len(outs) != 0 {
			t.Fatal("a backing-off source ran before its time")
		}
		f.clock.Set(want)
	}
	// The site recovers: the streak and the backoff end.
	f.lib.set(func(l *library) { l.status = 0 })
	outs := runOnce(t, d)
	if len(outs) != 1 || outs[0].Run.Status != store.StatusComplete {
		t.Fatalf("recovery run = %+v", outs)
	}
	sc = schedule(t, st, "lib")
	if sc.ConsecutiveFailures != 0 || !sc.BackoffUntil.IsZero() || sc.Note != "" {
		t.Errorf("after recovery: %+v", sc)
	}
}

func TestBackoffIsCapped(t *testing.T) {
	d := &Daemon{cfg: Config{FailuresBeforeBackoff: 3, MaxBackoff: 24 * time.Hour}}
	for _, c := range []struct {
		every    time.Duration
		failures int
		want     time.Duration
	}{
		{time.Hour, 2, 0},
		{time.Hour, 3, 2 * time.Hour},
		{time.Hour, 5, 8 * time.Hour},
		{time.Hour, 40, 24 * time.Hour},
		{48 * time.Hour, 3, 48 * time.Hour}, // the cap never goes below one interval
	} {
		if got := d.backoff(c.every, c.failures); got != c.want {
			t.Errorf("backoff(%s, %d) = %s, want %s", c.every, c.failures, got, c.want)
		}
	}
}

// Two daemons sharing one database (as two serve processes would) race
// for the same due sources: each source runs exactly once, and a source
// running in one is refused by the other.
func TestTwoDaemonsNeverRunOneSourceAtOnce(t *testing.T) {
	f := newFixture(t, 3, "@daily")
	var ss []*seeds.Seed
	for i := 0; i < 4; i++ {
		ss = append(ss, f.newSeed(fmt.Sprintf("lib-%d", i), "@daily"))
	}
	d1 := f.daemon(f.open(store.Options{}), func(c *Config) { c.Owner = "one" }, ss...)
	d2 := f.daemon(f.open(store.Options{}), func(c *Config) { c.Owner = "two" }, ss...)
	var wg sync.WaitGroup
	outs := make([][]Outcome, 2)
	for i, d := range []*Daemon{d1, d2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = runOnce(t, d)
		}()
	}
	wg.Wait()
	count := map[string]int{}
	for _, os := range outs {
		for _, o := range os {
			count[o.Source]++
		}
	}
	for _, s := range ss {
		if count[s.ID] != 1 {
			t.Errorf("%s ran %d times, want exactly once: %v", s.ID, count[s.ID], count)
		}
	}

	// One daemon holds a run in flight: the other neither runs nor
	// triggers it. (Daemons of one source only: the crawler limits
	// requests per host, which all these seeds share.)
	d3 := f.daemon(f.open(store.Options{}), func(c *Config) { c.Owner = "three" }, ss[0])
	d4 := f.daemon(f.open(store.Options{}), func(c *Config) { c.Owner = "four" }, ss[0])
	f.lib.set(func(l *library) { l.hold[0] = make(chan struct{}) })
	f.clock.Advance(48 * time.Hour)
	f.lib.drain()
	done := make(chan []Outcome)
	go func() { done <- runOnce(t, d3) }()
	<-f.lib.arrived // d3 is fetching
	if err := d4.Trigger(context.Background(), "lib-0"); !errors.Is(err, ErrRunning) {
		t.Errorf("trigger in the other daemon during a run: %v, want ErrRunning", err)
	}
	if outs, err := d4.RunOnce(context.Background()); err != nil || len(outs) != 0 {
		t.Errorf("RunOnce in the other daemon during a run: %v, %v; want nothing run", outs, err)
	}
	if err := d3.Trigger(context.Background(), "lib-0"); !errors.Is(err, ErrRunning) {
		t.Errorf("trigger in the same daemon during a run: %v, want ErrRunning", err)
	}
	f.lib.set(func(l *library) { close(l.hold[0]) })
	if got := <-done; len(got) != 1 || got[0].Run.Status != store.StatusComplete {
		t.Fatalf("d3 ran %+v, want one complete run", got)
	}
	if outs, err := d4.RunOnce(context.Background()); err != nil || len(outs) != 0 {
		t.Fatalf("d4 after d3's run: %v, %v", outs, err)
	}
}

func TestRunLoopOnTicksAndTrigger(t *testing.T) {
	f := newFixture(t, 2, "@daily")
	st := f.open(store.Options{})
	tick := make(chan time.Time)
	done := make(chan string, 10)
	d := f.daemon(st, func(c *Config) {
		c.Tick = tick
		c.OnRunDone = func(source string, res *runner.Result, err error) { done <- source }
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- d.Run(ctx) }()
	<-done // the first pass runs the new source at once
	tick <- f.clock.Now()
	tick <- f.clock.Now() // the loop has taken the tick: nothing was due
	select {
	case s := <-done:
		t.Fatalf("%s ran again before it was due", s)
	default:
	}
	f.clock.Set(schedule(t, st, "lib").NextDue)
	tick <- f.clock.Now()
	<-done
	if err := d.Trigger(ctx, "lib"); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := d.Trigger(ctx, "nope"); !errors.Is(err, ErrUnknownSource) {
		t.Errorf("trigger of an unknown source: %v", err)
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if err := d.Trigger(context.Background(), "lib"); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("trigger after shutdown: %v", err)
	}
	runs, _ := st.Runs(context.Background(), store.RunFilter{})
	if len(runs) != 3 {
		t.Errorf("runs = %d, want 3 (first pass, due tick, trigger)", len(runs))
	}
}

// On shutdown a run that outlives the grace period is cancelled and
// stored as partial; it removes nothing and its source stays due.
func TestShutdownCancelsRunsAfterGrace(t *testing.T) {
	f := newFixture(t, 8, "@daily")
	st := f.open(store.Options{})
	runOnce(t, f.daemon(st, nil)) // 8 records over 2 pages
	f.clock.Set(schedule(t, st, "lib").NextDue)
	due := schedule(t, st, "lib").NextDue

	f.lib.drain()
	f.lib.set(func(l *library) { l.hold[1] = make(chan struct{}) }) // page 2 hangs
	d := f.daemon(st, func(c *Config) { c.Grace = 20 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	outc := make(chan []Outcome)
	go func() {
		outs, _ := d.RunOnce(ctx)
		outc <- outs
	}()
	for p := range f.lib.arrived {
		if p == 1 {
			break
		}
	}
	cancel()
	outs := <-outc
	if len(outs) != 1 || outs[0].Run == nil || outs[0].Run.Status != store.StatusPartial || outs[0].Run.Removed != 0 {
		t.Fatalf("cancelled run = %+v", outs)
	}
	if !strings.Contains(outs[0].Run.Reason, "cancel") {
		t.Errorf("reason = %q", outs[0].Run.Reason)
	}
	sc := schedule(t, st, "lib")
	if !sc.NextDue.Equal(due) || sc.LeaseOwner != "" || sc.ConsecutiveFailures != 0 {
		t.Errorf("after a cut-short run: %+v, want still due at %s, no lease", sc, due)
	}
	n := 0
	if err := st.EachRecord(context.Background(), store.RecordFilter{}, func(*record.Record) error { n++; return nil }); err != nil || n != 8 {
		t.Errorf("current records after the cut-short run = %d, %v; want all 8 kept", n, err)
	}
}

// Schedules are read in the clock's time zone, and a restart (which reads
// UTC times back from the store) must not move them.
func TestScheduleInLocalZoneSurvivesRestart(t *testing.T) {
	f := newFixture(t, 2, "@daily")
	est := time.FixedZone("EST", -5*3600)
	f.clock.Set(time.Date(2026, 1, 5, 10, 0, 0, 0, est))
	st := f.open(store.Options{})
	runOnce(t, f.daemon(st, nil))
	want := time.Date(2026, 1, 6, 0, 0, 0, 0, est).Add(Jitter("lib", 24*time.Hour, DefaultMaxJitter))
	if sc := schedule(t, st, "lib"); !sc.NextDue.Equal(want) {
		t.Fatalf("next due = %s, want local midnight %s", sc.NextDue, want)
	}
	f.clock.Advance(time.Hour)
	if outs := runOnce(t, f.daemon(f.open(store.Options{}), nil)); len(outs) != 0 {
		t.Fatalf("restart ran %d sources", len(outs))
	}
	if sc := schedule(t, st, "lib"); !sc.NextDue.Equal(want) {
		t.Fatalf("after a restart next due = %s, want still %s", sc.NextDue, want)
	}
}
