package alerts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/store"
)

// attempt is one request a receiver saw.
type attempt struct {
	id, ts, contentType string
	verifyErr           error
	body                string
}

// receiver is a webhook endpoint on loopback that verifies each request
// with Verify against the test clock and answers with status(n), n being
// the number of requests so far (1 for the first).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	attempts []attempt
	status   func(n int, w http.ResponseWriter) int
}

func newReceiver(t *testing.T, secret string, clk *clock, status func(n int, w http.ResponseWriter) int) *receiver {
	rc := &receiver{status: status}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var verr error
		if secret != "" {
			verr = Verify(secret, r.Header, body, clk.Now(), time.Minute)
		} else if r.Header.Get("webhook-signature") != "" {
			verr = errors.New("unsigned subscription sent a signature")
		}
		rc.mu.Lock()
		rc.attempts = append(rc.attempts, attempt{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("content-type"), verr, string(body)})
		n := len(rc.attempts)
		rc.mu.Unlock()
		code := http.StatusNoContent
		if rc.status != nil {
			code = rc.status(n, w)
		}
		if verr != nil {
			code = http.StatusUnauthorized
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d", code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) seen() []attempt {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.attempts)
}

func threeChanges() []store.Change {
	return []store.Change{
		change(1, "added", record.Record{Title: "A", Countries: []string{"Mexico"}}),
		change(2, "added", record.Record{Title: "B", Countries: []string{"Peru"}}),
		change(3, "added", record.Record{Title: "C", Countries: []string{"Mexico"}}),
	}
}

func half() float64 { return 0.5 } // jitter factor exactly 1

func TestSenderDeliversSigned(t *testing.T) {
	clk := &clock{t: t0}
	whsec := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	rcA := newReceiver(t, whsec, clk, nil)
	rcB := newReceiver(t, "raw secret", clk, nil)
	rcS := newReceiver(t, "", clk, nil)
	subs := []Subscription{
		{Name: "a", URL: rcA.URL + "/hook", Secret: Secret(whsec), Format: FormatJSON, Mode: ModeEach, AllowPrivateNetworks: true},
		{Name: "b", URL: rcB.URL, Secret: "raw secret", Format: FormatJSON, Mode: ModeEach, AllowPrivateNetworks: true,
			Filter: Filter{Countries: []string{"mexico"}}},
		{Name: "slack", URL: rcS.URL, Format: FormatSlack, Mode: ModeDigest, AllowPrivateNetworks: true},
	}
	ob := &memOutbox{}
	evs := BuildEvents(subs, store.Run{ID: 7, Source: "iom-trafficking"}, threeChanges(), clk.Now())
	ob.add(evs...)
	s := NewSender(SenderConfig{Outbox: ob, Subscriptions: subs, Now: clk.Now, Rand: half})
	sent, failed, err := s.SendDue(context.Background())
	if err != nil || sent != 6 || failed != 0 {
		t.Fatalf("SendDue = %d, %d, %v; want 6 sent (3 to a, 2 to b, 1 digest)", sent, failed, err)
	}
	for name, rc := range map[string]*receiver{"a": rcA, "b": rcB, "slack": rcS} {
		for _, a := range rc.seen() {
			if a.verifyErr != nil {
				t.Errorf("%s: %s did not verify: %v", name, a.id, a.verifyErr)
			}
			if a.contentType != "application/json" || a.ts != fmt.Sprint(t0.Unix()) {
				t.Errorf("%s: content-type %q, timestamp %q", name, a.contentType, a.ts)
			}
		}
	}
	ids := func(rc *receiver) (out []string) {
		for _, a := range rc.seen() {
			out = append(out, a.id)
		}
		return out
	}
	if got, want := ids(rcA), []string{evs[0].ID, evs[1].ID, evs[2].ID}; !slices.Equal(got, want) {
		t.Errorf("a received %v, want %v", got, want)
	}
	if got := ids(rcB); len(got) != 2 || !strings.HasPrefix(got[0], "chg_1_") || !strings.HasPrefix(got[1], "chg_3_") {
		t.Errorf("b received %v, want changes 1 and 3", got)
	}
	if a := rcS.seen(); len(a) != 1 || !strings.Contains(a[0].body, `"text":"harvest: 3 changes in iom-trafficking (run 7)`) {
		t.Errorf("slack received %+v", a)
	}
	for _, r := range ob.snapshot() {
		if r.deliveredAt.IsZero() || r.d.Attempts != 1 {
			t.Errorf("delivery %s: delivered at %v after %d attempts", r.d.EventID, r.deliveredAt, r.d.Attempts)
		}
	}
	// Nothing left: a second pass posts nothing.
	if sent, failed, err := s.SendDue(context.Background()); sent+failed != 0 || err != nil {
		t.Errorf("second pass: %d, %d, %v", sent, failed, err)
	}
	if n := len(rcA.seen()); n != 3 {
		t.Errorf("a saw %d requests after the second pass", n)
	}
}

func TestSenderRetriesUntilReceiverIsBack(t *testing.T) {
	clk := &clock{t: t0}
	var mu sync.Mutex
	down := true
	rc := newReceiver(t, "s3cret", clk, func(int, http.ResponseWriter) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	subs := []Subscription{{Name: "a", URL: rc.URL, Secret: "s3cret", Format: FormatJSON, Mode: ModeEach, AllowPrivateNetworks: true}}
	ob := &memOutbox{}
	ob.add(BuildEvents(subs, store.Run{ID: 7}, threeChanges(), clk.Now())...)
	s := NewSender(SenderConfig{Outbox: ob, Subscriptions: subs, Now: clk.Now, Rand: half})
	ctx := context.Background()

	// Three passes with the receiver down, 30s, then 60s, then 120s apart.
	// Each pass tries the oldest event only and holds the others back to
	// the same time: a receiver that is down costs one request per pass.
	for i, wait := range []time.Duration{30 * time.Second, 60 * time.Second, 120 * time.Second} {
		sent, failed, err := s.SendDue(ctx)
		if err != nil || sent != 0 || failed != 3 {
			t.Fatalf("pass %d: %d sent, %d failed, %v", i, sent, failed, err)
		}
		for j, r := range ob.snapshot() {
			f := r.fails[len(r.fails)-1]
			wantAttempts, wantErr := i+1, "503 Service Unavailable"
			if j > 0 {
				wantAttempts, wantErr = 0, "not attempted, an earlier delivery failed: POST "+rc.URL+": 503"
			}
			if f.attempts != wantAttempts || !f.next.Equal(clk.Now().Add(wait)) || !strings.Contains(f.lastErr, wantErr) {
				t.Fatalf("pass %d, delivery %d: MarkFailed(attempts %d, next now+%s, %q); want attempts %d, next now+%s, %q",
					i, j, f.attempts, f.next.Sub(clk.Now()), f.lastErr, wantAttempts, wait, wantErr)
			}
		}
		if n := len(rc.seen()); n != i+1 {
			t.Fatalf("pass %d: receiver saw %d requests in all, want %d", i, n, i+1)
		}
		// Not due before its time.
		clk.Advance(wait - time.Second)
		if sent, failed, _ := s.SendDue(ctx); sent+failed != 0 {
			t.Fatalf("pass %d: a delivery was retried before its backoff", i)
		}
		clk.Advance(time.Second)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	if sent, failed, err := s.SendDue(ctx); sent != 3 || failed != 0 || err != nil {
		t.Fatalf("receiver back: %d sent, %d failed, %v", sent, failed, err)
	}
	if sent, failed, _ := s.SendDue(ctx); sent+failed != 0 {
		t.Fatal("delivered events were sent again")
	}

	// Every event reached the receiver exactly once with a 2xx; the oldest
	// after four attempts with the same webhook-id and a fresh, valid
	// signature each.
	perID := map[string][]attempt{}
	for _, a := range rc.seen() {
		if a.verifyErr != nil {
			t.Errorf("%s at %s: %v", a.id, a.ts, a.verifyErr)
		}
		perID[a.id] = append(perID[a.id], a)
	}
	if len(perID) != 3 {
		t.Fatalf("receiver saw ids %v", perID)
	}
	for j, r := range ob.snapshot() {
		as := perID[r.d.EventID]
		want := 1
		if j == 0 {
			want = 4
		}
		if len(as) != want || r.d.Attempts != want || r.deliveredAt.IsZero() || r.dead != "" {
			t.Errorf("%s: %d requests, attempts %d, delivered %v, dead %q; want %d attempts, delivered",
				r.d.EventID, len(as), r.d.Attempts, r.deliveredAt, r.dead, want)
		}
		ts := map[string]bool{}
		for _, a := range as {
			ts[a.ts] = true
		}
		if len(ts) != len(as) {
			t.Errorf("%s: timestamps %v, want a fresh one per attempt", r.d.EventID, ts)
		}
	}
}

// A receiver that is down does not hold up another subscription's
// deliveries, and only its oldest is tried.
func TestSenderLanesAreIndependent(t *testing.T) {
	clk := &clock{t: t0}
	down := newReceiver(t, "k", clk, func(int, http.ResponseWriter) int { return http.StatusBadGateway })
	up := newReceiver(t, "k", clk, nil)
	subs := []Subscription{
		{Name: "down", URL: down.URL, Secret: "k", Mode: ModeEach, AllowPrivateNetworks: true},
		{Name: "up", URL: up.URL, Secret: "k", Mode: ModeEach, AllowPrivateNetworks: true},
	}
	ob := &memOutbox{}
	ob.add(BuildEvents(subs, store.Run{ID: 1}, threeChanges(), clk.Now())...)
	s := NewSender(SenderConfig{Outbox: ob, Subscriptions: subs, Now: clk.Now, Rand: half, Batch: 4})
	// Batch 4 holds the three "down" events and the first "up" one.
	if sent, failed, err := s.SendDue(context.Background()); sent != 1 || failed != 3 || err != nil {
		t.Fatalf("pass 1: %d sent, %d failed, %v", sent, failed, err)
	}
	if sent, failed, err := s.SendDue(context.Background()); sent != 2 || failed != 0 || err != nil {
		t.Fatalf("pass 2 (down's deliveries wait for their backoff): %d sent, %d failed, %v", sent, failed, err)
	}
	if len(down.seen()) != 1 || len(up.seen()) != 3 {
		t.Errorf("down saw %d requests, up %d; want 1 and 3", len(down.seen()), len(up.seen()))
	}
}

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		rand     float64
		attempts int
		want     time.Duration
	}{
		{0.5, 1, 30 * time.Second},
		{0.5, 2, time.Minute},
		{0.5, 7, 32 * time.Minute},
		{0.5, 8, time.Hour},
		{0.5, 50, time.Hour},
		{0, 1, 24 * time.Second},
		{0.999999, 8, time.Duration(float64(time.Hour) * (0.8 + 0.4*0.999999))},
		{0, 8, 48 * time.Minute},
	} {
		s := NewSender(SenderConfig{Outbox: &memOutbox{}, Rand: func() float64 { return tt.rand }})
		if got := s.backoff(tt.attempts); got != tt.want {
			t.Errorf("backoff(%d) with rand %v = %s, want %s", tt.attempts, tt.rand, got, tt.want)
		}
	}
}

func TestSenderRetryAfter(t *testing.T) {
	clk := &clock{t: t0}
	rc := newReceiver(t, "k", clk, func(_ int, w http.ResponseWriter) int {
		w.Header().Set("Retry-After", "300")
		return http.StatusTooManyRequests
	})
	subs := []Subscription{{Name: "a", URL: rc.URL, Secret: "k", Mode: ModeEach, AllowPrivateNetworks: true}}
	ob := &memOutbox{}
	ob.add(BuildEvents(subs, store.Run{ID: 1}, threeChanges()[:1], clk.Now())...)
	s := NewSender(SenderConfig{Outbox: ob, Subscriptions: subs, Now: clk.Now, Rand: half})
	if _, failed, err := s.SendDue(context.Background()); failed != 1 || err != nil {
		t.Fatalf("failed %d, %v", failed, err)
	}
	if f := ob.snapshot()[0].fails[0]; !f.next.Equal(t0.Add(5*time.Minute)) || !strings.Contains(f.lastErr, "429") {
		t.Errorf("next %v, lastErr %q; want Retry-After's 5m honoured", f.next.Sub(t0), f.lastErr)
	}

	// Retry-After as an HTTP date, on a 503.
	rc2 := newReceiver(t, "k", clk, func(_ int, w http.ResponseWriter) int {
		w.Header().Set("Retry-After", t0.Add(10*time.Minute).Format(http.TimeFormat))
		return http.StatusServiceUnavailable
	})
	subs[0].URL = rc2.URL
	ob = &memOutbox{}
	ob.add(BuildEvents(subs, store.Run{ID: 1}, threeChanges()[:1], clk.Now())...)
	s = NewSender(SenderConfig{Outbox: ob, Subscriptions: subs, Now: clk.Now, Rand: half})
	s.SendDue(context.Background())
	if f := ob.snapshot()[0].fails[0]; !f.next.Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("next %v; want the Retry-After date (10m)", f.next.Sub(t0))
	}
}

func TestSenderGoneDisablesSubscription(t *testing.T) {
	clk := &clock{t: t0}
	gone := newReceiver(t, "k", clk, func(int, http.ResponseWriter) int { return http.StatusGone })
	ok := newReceiver(t, "k", clk, nil)
	subs := []Subscription{
		{Name: "gone", URL: gone.URL, Secret: "k", Mode: ModeEach, AllowPrivateNetworks: true},
		{Name: "ok", URL: ok.URL, Secret: "k", Mode: ModeEach, AllowPrivateNetworks: true},
	}
	ob := &memOutbox{}
	ob.add(BuildEvents(subs, store.Run{ID: 1}, threeChanges(), clk.Now())...)
	var disabled []string
	s := NewSender(SenderConfig{Outbox: ob, Subscriptions: subs, Now: clk.Now, Rand: half,
		OnDisable: func(name, reason string) { disabled = append(disabled, name+": "+reason) }})
	sent, failed, err := s.SendDue(context.Background())
	if err != nil || sent != 3 || failed != 3 {
		t.Fatalf("SendDue = %d, %d, %v; want 3 sent to ok, 3 dead for gone", sent, failed, err)
	}
	if n := len(gone.seen()); n != 1 {
		t.Errorf("the gone receiver was asked %d times; want once, then the subscription is disabled", n)
	}
	if got := s.Disabled(); !slices.Equal(got, []string{"gone"}) {
		t.Errorf("Disabled() = %v", got)
	}
	if len(disabled) != 1 || !strings.Contains(disabled[0], "gone: "+gone.URL+" answered 410 Gone") {
		t.Errorf("OnDisable calls: %v", disabled)
	}
	for _, r := range ob.snapshot() {
		switch r.d.Subscription {
		case "gone":
			if r.dead == "" || !strings.Contains(r.dead, "410 Gone") || !r.deliveredAt.IsZero() {
				t.Errorf("gone delivery %s: dead %q", r.d.EventID, r.dead)
			}
		case "ok":
			if r.deliveredAt.IsZero() {
				t.Errorf("ok delivery %s not delivered", r.d.EventID)
			}
		}
	}
	// New events for the disabled subscription die without a request.
	ob.add(BuildEvents(subs[:1], store.Run{ID: 2}, []store.Change{change(9, "added", record.Record{Title: "Z"})}, clk.Now())...)
	s.SendDue(context.Background())
	if n := len(gone.seen()); n != 1 {
		t.Errorf("disabled subscription was posted to again (%d requests)", n)
	}
}

func TestSenderGivesUpAfterMaxAge(t *testing.T) {
	clk := &clock{t: t0}
	rc := newReceiver(t, "k", clk, func(int, http.ResponseWriter) int { return http.StatusInternalServerError })
	subs := []Subscription{{Name: "a", URL: rc.URL, Secret: "k", Mode: ModeEach, AllowPrivateNetworks: true}}
	ob := &memOutbox{}
	ob.add(BuildEvents(subs, store.Run{ID: 1}, threeChanges()[:1], clk.Now())...)
	s := NewSender(SenderConfig{Outbox: ob, Subscriptions: subs, Now: clk.Now, Rand: half, MaxAge: 2 * time.Hour})
	var times []time.Time
	for pass := 0; pass < 50; pass++ {
		r := ob.snapshot()[0]
		if r.dead != "" {
			break
		}
		clk.Set(r.next)
		times = append(times, clk.Now())
		if _, _, err := s.SendDue(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	r := ob.snapshot()[0]
	if r.dead == "" || !strings.Contains(r.dead, "max age 2h0m0s") || !strings.Contains(r.dead, "500 Internal Server Error") {
		t.Fatalf("dead reason %q", r.dead)
	}
	// 30s, 1m, 2m, ... 32m apart, then the last attempt exactly at the
	// deadline: 9 attempts.
	if len(rc.seen()) != 9 || len(times) != 9 || !times[8].Equal(t0.Add(2*time.Hour)) {
		t.Errorf("%d requests at %v", len(rc.seen()), times)
	}
	if !r.deliveredAt.IsZero() {
		t.Error("a dead delivery is marked delivered")
	}
}

func TestSenderRefusesPrivateAddresses(t *testing.T) {
	clk := &clock{t: t0}
	rc := newReceiver(t, "k", clk, nil)
	subs := []Subscription{{Name: "internal", URL: rc.URL, Secret: "k", Mode: ModeEach}} // allow_private_networks: false
	ob := &memOutbox{}
	ob.add(BuildEvents(subs, store.Run{ID: 1}, threeChanges()[:1], clk.Now())...)
	s := NewSender(SenderConfig{Outbox: ob, Subscriptions: subs, Now: clk.Now, Rand: half})
	if _, failed, err := s.SendDue(context.Background()); failed != 1 || err != nil {
		t.Fatalf("failed %d, %v", failed, err)
	}
	if n := len(rc.seen()); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}
	lastErr := ob.snapshot()[0].lastErr
	for _, want := range []string{"webhook internal", "127.0.0.1", "loopback address", "allow_private_networks: true"} {
		if !strings.Contains(lastErr, want) {
			t.Errorf("error %q does not say %q", lastErr, want)
		}
	}

	_, err := NewClient(false, time.Second).Post(rc.URL, "application/json", strings.NewReader("{}"))
	var ae *AddressError
	if !errors.As(err, &ae) || ae.Reason != "loopback address" {
		t.Errorf("NewClient(false) to loopback: %v", err)
	}
	res, err := NewClient(true, time.Second).Post(rc.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("NewClient(true) to loopback: %v", err)
	}
	res.Body.Close()
}

func TestSenderDoesNotFollowRedirects(t *testing.T) {
	clk := &clock{t: t0}
	target := newReceiver(t, "k", clk, nil)
	redir := newReceiver(t, "k", clk, func(_ int, w http.ResponseWriter) int {
		w.Header().Set("Location", target.URL)
		return http.StatusFound
	})
	subs := []Subscription{{Name: "a", URL: redir.URL, Secret: "k", Mode: ModeEach, AllowPrivateNetworks: true}}
	ob := &memOutbox{}
	ob.add(BuildEvents(subs, store.Run{ID: 1}, threeChanges()[:1], clk.Now())...)
	s := NewSender(SenderConfig{Outbox: ob, Subscriptions: subs, Now: clk.Now, Rand: half})
	if sent, failed, _ := s.SendDue(context.Background()); sent != 0 || failed != 1 {
		t.Fatalf("a 302 counted as sent=%d failed=%d", sent, failed)
	}
	if len(target.seen()) != 0 || !strings.Contains(ob.snapshot()[0].lastErr, "302") {
		t.Errorf("redirect followed or not reported: %q", ob.snapshot()[0].lastErr)
	}
}

func TestSenderUnknownSubscriptionAndOutboxErrors(t *testing.T) {
	clk := &clock{t: t0}
	ob := &memOutbox{}
	ob.add(Event{ID: "chg_1_x", Subscription: "removed-from-file", Payload: []byte("{}"), CreatedAt: t0})
	s := NewSender(SenderConfig{Outbox: ob, Now: clk.Now})
	if _, failed, err := s.SendDue(context.Background()); failed != 1 || err != nil {
		t.Fatalf("failed %d, %v", failed, err)
	}
	if d := ob.snapshot()[0].dead; !strings.Contains(d, `"removed-from-file" is not in the alerts file`) {
		t.Errorf("dead reason %q", d)
	}
	ob.dueErr = errors.New("database is locked")
	if _, _, err := s.SendDue(context.Background()); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Errorf("outbox error not returned: %v", err)
	}
}

func TestSenderRun(t *testing.T) {
	clk := &clock{t: t0}
	rc := newReceiver(t, "k", clk, nil)
	subs := []Subscription{{Name: "a", URL: rc.URL, Secret: "k", Mode: ModeEach, AllowPrivateNetworks: true}}
	ob := &memOutbox{delivered: make(chan int64, 10)}
	ob.add(BuildEvents(subs, store.Run{ID: 1}, threeChanges(), clk.Now())...)
	// Batch 2: the first pass is full, so Run goes again at once without
	// waiting for the (hour-long) interval.
	s := NewSender(SenderConfig{Outbox: ob, Subscriptions: subs, Now: clk.Now, Rand: half, Batch: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, time.Hour); close(done) }()
	for i := 0; i < 3; i++ {
		select {
		case <-ob.delivered:
		case <-time.After(10 * time.Second):
			t.Fatalf("Run delivered %d of 3 events", i)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for _, r := range ob.snapshot() {
		if r.deliveredAt.IsZero() {
			t.Errorf("%s not marked delivered", r.d.EventID)
		}
	}
}
