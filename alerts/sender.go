package alerts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Delivery is one outbox row: an event waiting to reach its subscription.
type Delivery struct {
	ID           int64  // the outbox row id
	EventID      string // Event.ID, sent as webhook-id on every attempt
	Subscription string // the subscription's name
	Payload      []byte
	Attempts     int       // attempts made so far (0 before the first)
	CreatedAt    time.Time // when the event was created; MaxAge counts from here
}

// Outbox is where events wait for delivery. The store implements it: it
// writes one row per Event (in the transaction of the run that made it,
// due at once, Attempts 0; an Event whose ID is already in the outbox is
// not added again), and a Sender is the only writer afterwards.
//
// Contract:
//   - Due returns at most limit deliveries that are neither delivered nor
//     dead and whose next attempt is at or before now, oldest first
//     (CreatedAt, then ID). A delivery never attempted is due at once.
//   - MarkDelivered records that the receiver answered 2xx at the given
//     time (one more attempt); the Sender calls it only after a 2xx. The
//     row is never due again.
//   - MarkFailed reschedules a row: attempts is the number of attempts made
//     so far (the row's Attempts afterwards; unchanged when the row was
//     held back without a request because an earlier delivery to the same
//     subscription just failed), next is the earliest time Due may return
//     the row again, lastErr says what went wrong (status and a bit of the
//     body, or the connection error).
//   - MarkDead gives a row up for good, with the reason (410 Gone, too
//     old, subscription gone or disabled); it is never due again but
//     stays for inspection.
//
// A Sender calls one method at a time. A Mark naming an unknown id is an
// error.
type Outbox interface {
	Due(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	MarkDelivered(ctx context.Context, id int64, at time.Time) error
	MarkFailed(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error
	MarkDead(ctx context.Context, id int64, reason string) error
}

// Backoff parameters of failed deliveries: the wait after the n-th failed
// attempt is BaseBackoff * 2^(n-1), at most MaxBackoff, then ±20% jitter.
const (
	BaseBackoff = 30 * time.Second
	MaxBackoff  = time.Hour
)

// SenderConfig configures a Sender. Only Outbox is required.
type SenderConfig struct {
	Outbox        Outbox
	Subscriptions []Subscription
	// Client, when set, posts every delivery and must apply its own
	// address guard. When nil the Sender uses NewClient, guarded or not
	// per subscription's allow_private_networks, with Timeout.
	Client  *http.Client
	Timeout time.Duration    // per request when Client is nil; default 30s
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger     // default discards
	Rand    func() float64   // jitter source in [0,1); default math/rand/v2
	MaxAge  time.Duration    // give up this long after CreatedAt; default 24h
	Batch   int              // deliveries per SendDue pass; default 100
	// OnDisable, if set, is called once when a subscription is disabled
	// because its receiver answered 410 Gone, so the caller can record it.
	OnDisable func(name, reason string)
}

// Sender posts due deliveries to their webhooks. It is safe for one Run
// loop plus concurrent calls of Disabled.
type Sender struct {
	cfg     SenderConfig
	subs    map[string]Subscription
	guarded *http.Client
	open    *http.Client

	obMu sync.Mutex // one Outbox call at a time

	mu       sync.Mutex
	disabled map[string]string // name -> reason
}

// NewSender returns a Sender over cfg with its defaults applied.
func NewSender(cfg SenderConfig) *Sender {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	s := &Sender{cfg: cfg, subs: map[string]Subscription{}, disabled: map[string]string{}}
	for _, sub := range cfg.Subscriptions {
		s.subs[sub.Name] = sub
	}
	if cfg.Client == nil {
		s.guarded = NewClient(false, cfg.Timeout)
		s.open = NewClient(true, cfg.Timeout)
	}
	return s
}

// Disabled returns the subscriptions this Sender disabled (a 410 Gone
// from the receiver), by name, sorted. Their deliveries are marked dead.
// The state lasts as long as the Sender: remove the subscription from the
// alerts file to make it permanent.
func (s *Sender) Disabled() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.disabled))
	for n := range s.disabled {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (s *Sender) disabledReason(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.disabled[name]
	return r, ok
}

func (s *Sender) disable(name, reason string) {
	s.mu.Lock()
	_, was := s.disabled[name]
	s.disabled[name] = reason
	s.mu.Unlock()
	if !was {
		s.cfg.Logger.Warn("webhook subscription disabled", "subscription", name, "reason", reason)
		if s.cfg.OnDisable != nil {
			s.cfg.OnDisable(name, reason)
		}
	}
}

// SendDue makes one pass over the outbox: it takes up to Batch due
// deliveries, oldest first, and posts them, each subscription's in order
// and different subscriptions' in parallel. A 2xx marks a delivery
// delivered (sent); 410 Gone marks it dead and disables its subscription;
// any other answer or a connection error marks it failed with a jittered
// exponential backoff, or dead once MaxAge has passed since its CreatedAt.
// After a failure, the subscription's later deliveries in the batch are
// not posted in this pass but rescheduled to the same next attempt (their
// Attempts unchanged), so a receiver that is down costs one request per
// pass, not one per event. Deliveries of unknown or disabled subscriptions
// are marked dead. failed counts every delivery not delivered in the pass.
// err is an outbox error (that subscription's lane stops there) or ctx's.
func (s *Sender) SendDue(ctx context.Context) (sent, failed int, err error) {
	due, err := s.cfg.Outbox.Due(ctx, s.cfg.Now(), s.cfg.Batch)
	if err != nil {
		return 0, 0, fmt.Errorf("webhook outbox: list due deliveries: %w", err)
	}
	var order []string
	lanes := map[string][]Delivery{}
	for _, d := range due {
		if _, ok := lanes[d.Subscription]; !ok {
			order = append(order, d.Subscription)
		}
		lanes[d.Subscription] = append(lanes[d.Subscription], d)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, name := range order {
		wg.Add(1)
		go func(ds []Delivery) {
			defer wg.Done()
			n, f, err := s.lane(ctx, ds)
			mu.Lock()
			defer mu.Unlock()
			sent += n
			failed += f
			if err != nil {
				errs = append(errs, err)
			}
		}(lanes[name])
	}
	wg.Wait()
	return sent, failed, errors.Join(errs...)
}

// lane delivers one subscription's due deliveries in order.
func (s *Sender) lane(ctx context.Context, ds []Delivery) (sent, failed int, err error) {
	var deferTo time.Time // set after a failure: later deliveries wait with it
	var deferWhy string
	for _, d := range ds {
		if err := ctx.Err(); err != nil {
			return sent, failed, err
		}
		if !deferTo.IsZero() {
			failed++
			if err := s.postpone(ctx, d, deferTo, deferWhy); err != nil {
				return sent, failed, err
			}
			continue
		}
		ok, next, why, err := s.deliver(ctx, d)
		if err != nil {
			return sent, failed, err
		}
		if ok {
			sent++
			continue
		}
		failed++
		if !next.IsZero() {
			deferTo, deferWhy = next, why
		}
	}
	return sent, failed, nil
}

// postpone reschedules a delivery not attempted because an earlier one to
// the same subscription just failed, or gives it up when it is too old.
func (s *Sender) postpone(ctx context.Context, d Delivery, next time.Time, why string) error {
	if age := s.cfg.Now().Sub(d.CreatedAt); age >= s.cfg.MaxAge {
		return s.markDead(ctx, d, fmt.Sprintf("not delivered within the max age %s: %s", s.cfg.MaxAge, why))
	}
	if limit := d.CreatedAt.Add(s.cfg.MaxAge); next.After(limit) {
		next = limit
	}
	s.obMu.Lock()
	defer s.obMu.Unlock()
	if err := s.cfg.Outbox.MarkFailed(ctx, d.ID, d.Attempts, next, "not attempted, an earlier delivery failed: "+why); err != nil {
		return fmt.Errorf("webhook outbox: reschedule delivery %d (%s): %w", d.ID, d.EventID, err)
	}
	return nil
}

func (s *Sender) markDead(ctx context.Context, d Delivery, reason string) error {
	s.cfg.Logger.Warn("webhook delivery given up", "subscription", d.Subscription, "event", d.EventID,
		"delivery", d.ID, "reason", reason, "attempts", d.Attempts)
	s.obMu.Lock()
	defer s.obMu.Unlock()
	if err := s.cfg.Outbox.MarkDead(ctx, d.ID, reason); err != nil {
		return fmt.Errorf("webhook outbox: mark delivery %d (%s) dead: %w", d.ID, d.EventID, err)
	}
	return nil
}

// deliver attempts one delivery and records the outcome. ok reports a 2xx;
// after a failure to be retried, next is the retry time and why the error.
func (s *Sender) deliver(ctx context.Context, d Delivery) (ok bool, next time.Time, why string, err error) {
	log := s.cfg.Logger.With("subscription", d.Subscription, "event", d.EventID, "delivery", d.ID)
	sub, known := s.subs[d.Subscription]
	if !known {
		return false, time.Time{}, "", s.markDead(ctx, d, fmt.Sprintf("subscription %q is not in the alerts file", d.Subscription))
	}
	if reason, off := s.disabledReason(d.Subscription); off {
		return false, time.Time{}, "", s.markDead(ctx, d, "subscription disabled: "+reason)
	}

	status, detail, retryAfter, sendErr := s.post(ctx, sub, d)
	now := s.cfg.Now()
	attempts := d.Attempts + 1
	switch {
	case sendErr == nil && status >= 200 && status < 300:
		s.obMu.Lock()
		err := s.cfg.Outbox.MarkDelivered(ctx, d.ID, now)
		s.obMu.Unlock()
		if err != nil {
			return false, time.Time{}, "", fmt.Errorf("webhook outbox: mark delivery %d (%s) delivered: %w", d.ID, d.EventID, err)
		}
		log.Debug("webhook delivered", "status", status, "attempts", attempts)
		return true, time.Time{}, "", nil
	case sendErr == nil && status == http.StatusGone:
		reason := fmt.Sprintf("%s answered 410 Gone", sub.URL)
		s.disable(sub.Name, reason)
		d.Attempts = attempts
		return false, time.Time{}, "", s.markDead(ctx, d, reason)
	}
	if sendErr != nil && ctx.Err() != nil {
		// Shutting down mid-request: not the receiver's fault, leave the
		// row due as it was.
		return false, time.Time{}, "", ctx.Err()
	}
	lastErr := detail
	if sendErr != nil {
		lastErr = sendErr.Error()
	}
	if age := now.Sub(d.CreatedAt); age >= s.cfg.MaxAge {
		d.Attempts = attempts
		err := s.markDead(ctx, d, fmt.Sprintf("still failing after %d attempts over %s (max age %s): %s", attempts, age.Round(time.Second), s.cfg.MaxAge, lastErr))
		return false, now.Add(s.backoff(attempts)), lastErr, err
	}
	next = now.Add(max(s.backoff(attempts), retryAfter))
	if limit := d.CreatedAt.Add(s.cfg.MaxAge); next.After(limit) {
		next = limit // one last attempt at the deadline
	}
	log.Info("webhook delivery failed, will retry", "error", lastErr, "attempts", attempts, "next", next)
	s.obMu.Lock()
	err = s.cfg.Outbox.MarkFailed(ctx, d.ID, attempts, next, lastErr)
	s.obMu.Unlock()
	if err != nil {
		return false, time.Time{}, "", fmt.Errorf("webhook outbox: mark delivery %d (%s) failed: %w", d.ID, d.EventID, err)
	}
	return false, next, lastErr, nil
}

// backoff is the jittered wait after the attempts-th failed attempt.
func (s *Sender) backoff(attempts int) time.Duration {
	d := MaxBackoff
	if attempts >= 1 && attempts <= 8 { // 30s * 2^7 > 1h already
		d = min(BaseBackoff<<(attempts-1), MaxBackoff)
	}
	j := 0.8 + 0.4*s.cfg.Rand()
	return time.Duration(float64(d) * j)
}

// post sends one attempt. It returns the status and a short description
// of a non-2xx answer, the Retry-After wait if the receiver gave one, or
// the transport error.
func (s *Sender) post(ctx context.Context, sub Subscription, d Delivery) (status int, detail string, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, "", 0, fmt.Errorf("webhook %s: build request for %s: %w", sub.Name, sub.URL, err)
	}
	ts := s.cfg.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "harvest-webhooks/1")
	req.Header.Set(HeaderID, d.EventID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	if sub.Secret != "" {
		sig, err := Sign(string(sub.Secret), d.EventID, ts, d.Payload)
		if err != nil {
			return 0, "", 0, fmt.Errorf("webhook %s: sign: %w", sub.Name, err)
		}
		req.Header.Set(HeaderSignature, sig)
	}
	client := s.cfg.Client
	if client == nil {
		client = s.guarded
		if sub.AllowPrivateNetworks {
			client = s.open
		}
	}
	res, err := client.Do(req)
	if err != nil {
		// *url.Error names the method and URL; an *AddressError inside
		// says why a private target was refused.
		return 0, "", 0, fmt.Errorf("webhook %s: %w", sub.Name, err)
	}
	defer res.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // let the connection be reused
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return res.StatusCode, "", 0, nil
	}
	detail = fmt.Sprintf("POST %s: %s", sub.URL, res.Status)
	if t := strings.TrimSpace(strings.ToValidUTF8(string(snippet), "")); t != "" {
		detail += ": " + t
	}
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		v := strings.TrimSpace(res.Header.Get("Retry-After"))
		if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
			retryAfter = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			retryAfter = t.Sub(ts)
		}
		retryAfter = min(max(retryAfter, 0), MaxBackoff)
	}
	return res.StatusCode, detail, retryAfter, nil
}

// Run calls SendDue every interval until ctx is done, and at once again
// when a pass found a full batch. Outbox errors are logged, not fatal: the
// next pass tries again. It runs in its own goroutine, apart from any
// crawl.
func (s *Sender) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		sent, failed, err := s.SendDue(ctx)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("webhook sender pass failed", "error", err)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil && sent+failed >= s.cfg.Batch {
			continue // more may be due right now
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
