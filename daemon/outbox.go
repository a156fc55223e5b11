package daemon

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/harvest-dev/harvest/alerts"
	"github.com/harvest-dev/harvest/store"
)

// Outbox is the store's outbox seen as an alerts.Outbox, for an
// alerts.Sender. (The store cannot implement the interface itself: alerts
// imports store.)
type Outbox struct {
	Store *store.Store
	// Now stamps dead rows; default time.Now.
	Now func() time.Time
}

var _ alerts.Outbox = (*Outbox)(nil)

// Due returns the deliveries due at now, oldest first (see alerts.Outbox).
func (o *Outbox) Due(ctx context.Context, now time.Time, limit int) ([]alerts.Delivery, error) {
	rows, err := o.Store.OutboxDue(ctx, now, limit)
	if err != nil {
		return nil, err
	}
	out := make([]alerts.Delivery, len(rows))
	for i, r := range rows {
		out[i] = alerts.Delivery{ID: r.ID, EventID: r.EventID, Subscription: r.Subscription, Payload: r.Payload,
			Attempts: r.Attempts, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// MarkDelivered records a 2xx answer.
func (o *Outbox) MarkDelivered(ctx context.Context, id int64, at time.Time) error {
	return o.Store.OutboxMarkDelivered(ctx, id, at)
}

// MarkFailed records a failed attempt and when to try again.
func (o *Outbox) MarkFailed(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	return o.Store.OutboxMarkFailed(ctx, id, attempts, next, lastErr)
}

// MarkDead gives a delivery up for good.
func (o *Outbox) MarkDead(ctx context.Context, id int64, reason string) error {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	return o.Store.OutboxMarkDead(ctx, id, now(), reason)
}

// AlertHook returns a store.Options.OnRun hook that writes the webhook
// events of each applied run (alerts.BuildEvents over the run's changes
// and the subscriptions) to the outbox inside the run's transaction: the
// events are committed with the run or not at all, so a run killed
// mid-way sends nothing for changes it never committed. now stamps the
// events (nil: time.Now). With no subscriptions it returns nil.
func AlertHook(subs []alerts.Subscription, now func() time.Time) func(ctx context.Context, tx *sql.Tx, r *store.Run) error {
	if len(subs) == 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context, tx *sql.Tx, r *store.Run) error {
		var changes []store.Change
		if r.Added+r.Updated+r.Removed+r.Restored > 0 {
			cs, err := store.RunChangesTx(ctx, tx, r.ID)
			if err != nil {
				return fmt.Errorf("alerts: %w", err)
			}
			changes = cs
		}
		evs := alerts.BuildEvents(subs, *r, changes, now())
		if len(evs) == 0 {
			return nil
		}
		rows := make([]store.OutboxEvent, len(evs))
		for i, e := range evs {
			rows[i] = store.OutboxEvent{EventID: e.ID, Subscription: e.Subscription, Payload: e.Payload, CreatedAt: e.CreatedAt}
		}
		if _, err := store.EnqueueTx(ctx, tx, r.ID, rows); err != nil {
			return fmt.Errorf("alerts: run %d of %s: %w", r.ID, r.Source, err)
		}
		return nil
	}
}
