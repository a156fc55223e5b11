package demo_test

import (
	"context"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/demo"
	"github.com/harvest-dev/harvest/store"
)

// TestDemoNightsAreDaysApart: the demo's three nights are a day apart for
// the runs and for their changes alike, so that `export changes --since`
// a night's date returns that night's changes.
func TestDemoNightsAreDaysApart(t *testing.T) {
	ctx := context.Background()
	rep, err := demo.Run(ctx, demo.Options{Out: t.TempDir(), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, rep.DB, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(ctx, store.RunFilter{})
	if err != nil || len(runs) != demo.Nights {
		t.Fatalf("runs: %d, %v; want %d", len(runs), err, demo.Nights)
	}
	for _, r := range runs {
		changes, err := st.RunChanges(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) == 0 {
			t.Fatalf("run %d changed nothing", r.ID)
		}
		for _, c := range changes {
			if c.At.Before(r.StartedAt) || c.At.Sub(r.StartedAt) > time.Hour {
				t.Errorf("run %d started %v, but its change of %s is at %v", r.ID, r.StartedAt, c.Key, c.At)
			}
		}
	}
	for i := 1; i < len(runs); i++ {
		a, b := runs[i-1].StartedAt, runs[i].StartedAt
		if b.Before(a) {
			a, b = b, a
		}
		if d := b.Sub(a); d < 23*time.Hour || d > 25*time.Hour {
			t.Errorf("runs %d and %d started %v apart; want a day", runs[i-1].ID, runs[i].ID, d)
		}
	}
}
