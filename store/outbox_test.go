package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// outboxHook enqueues one event per change of a run from inside the
// run's transaction, and fails the run after enqueueing when *fail.
func outboxHook(fail *bool) func(ctx context.Context, tx *sql.Tx, r *Run) error {
	return func(ctx context.Context, tx *sql.Tx, r *Run) error {
		cs, err := RunChangesTx(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		var evs []OutboxEvent
		for _, c := range cs {
			evs = append(evs, OutboxEvent{EventID: fmt.Sprintf("chg_%d", c.ID), Subscription: "sub",
				Payload: []byte(`{"kind":"` + c.Kind + `","title":"` + c.Record.Title + `"}`), CreatedAt: c.At})
		}
		if _, err := EnqueueTx(ctx, tx, r.ID, evs); err != nil {
			return err
		}
		if *fail {
			return errors.New("boom after enqueue")
		}
		return nil
	}
}

func TestOutboxRowsCommitWithTheRunOrNotAtAll(t *testing.T) {
	c := newClock()
	fail := true
	s, _ := newStore(t, Options{Now: c.Now, OnRun: outboxHook(&fail)})
	ctx := context.Background()
	c.Advance(time.Hour)
	if _, err := s.ApplyRun(ctx, input("a", StatusComplete, recs(3))); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("failing hook: err = %v", err)
	}
	if got, _ := s.OutboxEntries(ctx, 0); len(got) != 0 {
		t.Fatalf("a rolled-back run left %d outbox rows", len(got))
	}
	if n := len(changes(t, s, ChangeFilter{})); n != 0 {
		t.Fatalf("a rolled-back run left %d changes", n)
	}

	fail = false
	res := apply(t, s, c, input("a", StatusComplete, recs(3)))
	got, err := s.OutboxEntries(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("outbox rows = %d, want 3 (one per added record)", len(got))
	}
	for i, e := range got {
		if e.RunID != res.Run.ID || e.EventID != fmt.Sprintf("chg_%d", res.Changes[i].ID) || e.Attempts != 0 {
			t.Errorf("row %d = %+v", i, e)
		}
		if !strings.Contains(string(e.Payload), res.Changes[i].Record.Title) {
			t.Errorf("row %d payload %s lacks the title %q", i, e.Payload, res.Changes[i].Record.Title)
		}
	}
	// An unchanged re-run makes no change and no event.
	apply(t, s, c, input("a", StatusComplete, recs(3)))
	if st, _ := s.OutboxStats(ctx); st.Pending != 3 {
		t.Errorf("after an unchanged re-run: %+v, want 3 pending", st)
	}
}

func TestOutboxDueAndMarks(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, Options{Now: c.Now})
	ctx := context.Background()
	t0 := c.Now()
	evs := []OutboxEvent{
		{EventID: "e2", Subscription: "s", Payload: []byte("2"), CreatedAt: t0.Add(time.Second)},
		{EventID: "e1", Subscription: "s", Payload: []byte("1"), CreatedAt: t0},
		{EventID: "e3", Subscription: "s", Payload: []byte("3"), CreatedAt: t0.Add(2 * time.Second)},
	}
	if n, err := s.Enqueue(ctx, evs); err != nil || n != 3 {
		t.Fatalf("enqueue = %d, %v", n, err)
	}
	if n, err := s.Enqueue(ctx, evs[:1]); err != nil || n != 0 {
		t.Fatalf("enqueue of a known event id = %d, %v; want skipped", n, err)
	}
	due, err := s.OutboxDue(ctx, t0.Add(time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 || due[0].EventID != "e1" || due[1].EventID != "e2" || string(due[0].Payload) != "1" {
		t.Fatalf("due at t0+1s = %+v, want e1, e2 oldest first", due)
	}
	if due, _ := s.OutboxDue(ctx, t0.Add(time.Hour), 1); len(due) != 1 || due[0].EventID != "e1" {
		t.Fatalf("limit 1 = %+v", due)
	}

	byID := map[string]int64{}
	all, _ := s.OutboxEntries(ctx, 0)
	for _, e := range all {
		byID[e.EventID] = e.ID
	}
	if err := s.OutboxMarkDelivered(ctx, byID["e1"], t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.OutboxMarkFailed(ctx, byID["e2"], 1, t0.Add(time.Hour), "POST x: 503"); err != nil {
		t.Fatal(err)
	}
	if err := s.OutboxMarkDead(ctx, byID["e3"], t0.Add(time.Minute), "410 Gone"); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.OutboxDue(ctx, t0.Add(59*time.Minute), 10); len(due) != 0 {
		t.Fatalf("due before the retry time = %+v, want none", due)
	}
	due, _ = s.OutboxDue(ctx, t0.Add(time.Hour), 10)
	if len(due) != 1 || due[0].EventID != "e2" || due[0].Attempts != 1 || due[0].LastError != "POST x: 503" {
		t.Fatalf("due at the retry time = %+v, want e2 once with 1 attempt", due)
	}
	st, err := s.OutboxStats(ctx)
	if err != nil || st != (OutboxStats{Pending: 1, Delivered: 1, Dead: 1}) {
		t.Fatalf("stats = %+v, %v", st, err)
	}
	if err := s.OutboxMarkDelivered(ctx, 999, t0); err == nil || !strings.Contains(err.Error(), "999") {
		t.Errorf("marking an unknown row: err = %v", err)
	}
	if _, err := s.Enqueue(ctx, []OutboxEvent{{EventID: "", Subscription: "s"}}); err == nil {
		t.Error("an event without id was accepted")
	}
}
