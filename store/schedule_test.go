package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestScheduleClaimReleaseFinish(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	now := c.Now()
	sc, err := s.InitSchedule(ctx, "a", now.Add(time.Hour))
	if err != nil || !sc.NextDue.Equal(now.Add(time.Hour)) {
		t.Fatalf("init = %+v, %v", sc, err)
	}
	if sc, _ := s.InitSchedule(ctx, "a", now); !sc.NextDue.Equal(now.Add(time.Hour)) {
		t.Fatalf("a second init moved next_due to %v", sc.NextDue)
	}
	if ok, _, err := s.ClaimSource(ctx, "a", "p1", now, time.Minute, false); ok || err != nil {
		t.Fatalf("claim before due = %v, %v", ok, err)
	}
	if ok, _, err := s.ClaimSource(ctx, "a", "p1", now, time.Minute, true); !ok || err != nil {
		t.Fatalf("forced claim = %v, %v", ok, err)
	}
	if ok, sc, _ := s.ClaimSource(ctx, "a", "p2", now.Add(30*time.Second), time.Minute, true); ok || sc.LeaseOwner != "p1" {
		t.Fatalf("claim of a held lease = %v (%+v)", ok, sc)
	}
	if err := s.RenewLease(ctx, "a", "p1", now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := s.ClaimSource(ctx, "a", "p2", now.Add(90*time.Second), time.Minute, true); ok {
		t.Fatal("claimed a renewed lease")
	}
	// p1 vanishes; its lease expires and p2 takes over.
	if ok, _, _ := s.ClaimSource(ctx, "a", "p2", now.Add(3*time.Minute), time.Minute, true); !ok {
		t.Fatal("an expired lease was not taken over")
	}
	err = s.FinishSource(ctx, "a", "p1", ScheduleUpdate{NextDue: now.Add(24 * time.Hour)})
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("finish by the old owner: err = %v, want ErrLeaseLost", err)
	}
	if err := s.RenewLease(ctx, "a", "p1", now.Add(time.Hour)); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renew by the old owner: err = %v", err)
	}
	u := ScheduleUpdate{NextDue: now.Add(24 * time.Hour), LastRunAt: now.Add(3 * time.Minute), LastRunID: 7,
		LastStatus: "failed", ConsecutiveFailures: 3, BackoffUntil: now.Add(48 * time.Hour), Note: "backing off"}
	if err := s.FinishSource(ctx, "a", "p2", u); err != nil {
		t.Fatal(err)
	}
	got, err := s.Schedule(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	want := SourceSchedule{Source: "a", NextDue: u.NextDue, LastRunAt: u.LastRunAt, LastRunID: 7, LastStatus: "failed",
		ConsecutiveFailures: 3, BackoffUntil: u.BackoffUntil, Note: "backing off"}
	if fmt.Sprint(*got) != fmt.Sprint(want) {
		t.Fatalf("schedule after finish =\n%+v\nwant\n%+v", *got, want)
	}
	// A source never seen gets a row at claim time, due at once.
	if ok, _, err := s.ClaimSource(ctx, "new", "p1", now, time.Minute, false); !ok || err != nil {
		t.Fatalf("claim of a new source = %v, %v", ok, err)
	}
	if err := s.ReleaseSource(ctx, "new", "p1"); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.Schedules(ctx); len(all) != 2 || all[1].Source != "new" || all[1].LeaseOwner != "" {
		t.Fatalf("schedules = %+v", all)
	}
	if err := s.SetNextDue(ctx, "new", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNextDue(ctx, "none", now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("set next due of an unknown source: %v", err)
	}
}

// Two processes (two Store handles on one file) racing for one due
// source: exactly one claim wins each round.
func TestClaimIsExclusiveAcrossHandles(t *testing.T) {
	c := newClock()
	s1, path := newStore(t, Options{Now: c.Now})
	s2, err := Open(context.Background(), path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	closeAtCleanup(t, s2)
	ctx := context.Background()
	now := c.Now()
	for round := 0; round < 5; round++ {
		var mu sync.Mutex
		var winners []string
		var winnerStore []*Store
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			st := s1
			if i%2 == 1 {
				st = s2
			}
			wg.Add(1)
			go func(owner string) {
				defer wg.Done()
				ok, _, err := st.ClaimSource(ctx, "a", owner, now, time.Hour, false)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					winners, winnerStore = append(winners, owner), append(winnerStore, st)
					mu.Unlock()
				}
			}(fmt.Sprintf("p%d-%d", round, i))
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d claims won (%v), want exactly 1", round, len(winners), winners)
		}
		// The winner finishes, leaving the source due again.
		if err := winnerStore[0].FinishSource(ctx, "a", winners[0], ScheduleUpdate{NextDue: now}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRunsBeforeAndLastSuccess(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	var ids []int64
	for i := 0; i < 5; i++ {
		st := StatusComplete
		if i == 4 {
			st = StatusFailed
		}
		in := input("a", st, recs(2))
		in.FinishedAt = c.Now().Add(time.Duration(i) * time.Hour)
		ids = append(ids, apply(t, s, c, in).Run.ID)
	}
	apply(t, s, c, input("b", StatusComplete, recs(1)))
	page, err := s.RunsBefore(ctx, "a", ids[3], 2)
	if err != nil || len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] {
		t.Fatalf("runs before %d = %+v, %v", ids[3], page, err)
	}
	if all, _ := s.RunsBefore(ctx, "", 0, 0); len(all) != 6 {
		t.Fatalf("all runs = %d", len(all))
	}
	ls, err := s.LastSuccess(ctx)
	if err != nil || len(ls) != 2 {
		t.Fatalf("last success = %v, %v", ls, err)
	}
	if r, _, _ := s.Run(ctx, ids[3]); !ls["a"].Equal(r.FinishedAt) {
		t.Errorf("last success of a = %v, want %v (the failed run does not count)", ls["a"], r.FinishedAt)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}
