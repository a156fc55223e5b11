package alerts

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// memOutbox is an in-memory Outbox following the interface's contract,
// for tests only (the real one lives in the store).
type memOutbox struct {
	mu     sync.Mutex
	nextID int64
	rows   []*memRow
	dueErr error
	// delivered, if set, receives the id of each delivery marked delivered.
	delivered chan int64
}

type memRow struct {
	d           Delivery
	next        time.Time
	deliveredAt time.Time
	dead        string
	lastErr     string
	fails       []memFail
}

type memFail struct {
	attempts int
	next     time.Time
	lastErr  string
}

func (o *memOutbox) add(evs ...Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range evs {
		o.nextID++
		o.rows = append(o.rows, &memRow{
			d:    Delivery{ID: o.nextID, EventID: e.ID, Subscription: e.Subscription, Payload: e.Payload, CreatedAt: e.CreatedAt},
			next: e.CreatedAt,
		})
	}
}

func (o *memOutbox) Due(_ context.Context, now time.Time, limit int) ([]Delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dueErr != nil {
		return nil, o.dueErr
	}
	var out []Delivery
	for _, r := range o.rows {
		if r.deliveredAt.IsZero() && r.dead == "" && !r.next.After(now) {
			out = append(out, r.d)
		}
	}
	slices.SortStableFunc(out, func(a, b Delivery) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (o *memOutbox) row(id int64) (*memRow, error) {
	for _, r := range o.rows {
		if r.d.ID == id {
			return r, nil
		}
	}
	return nil, fmt.Errorf("no delivery %d", id)
}

func (o *memOutbox) MarkDelivered(_ context.Context, id int64, at time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, err := o.row(id)
	if err != nil {
		return err
	}
	if !r.deliveredAt.IsZero() || r.dead != "" {
		return fmt.Errorf("delivery %d already settled", id)
	}
	r.deliveredAt = at
	r.d.Attempts++
	if o.delivered != nil {
		o.delivered <- id
	}
	return nil
}

func (o *memOutbox) MarkFailed(_ context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, err := o.row(id)
	if err != nil {
		return err
	}
	r.d.Attempts = attempts
	r.next = next
	r.lastErr = lastErr
	r.fails = append(r.fails, memFail{attempts, next, lastErr})
	return nil
}

func (o *memOutbox) MarkDead(_ context.Context, id int64, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, err := o.row(id)
	if err != nil {
		return err
	}
	r.dead = reason
	return nil
}

// snapshot returns copies of the rows, in insertion order.
func (o *memOutbox) snapshot() []memRow {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]memRow, len(o.rows))
	for i, r := range o.rows {
		out[i] = *r
		out[i].fails = slices.Clone(r.fails)
	}
	return out
}

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }
