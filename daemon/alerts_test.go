package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/alerts"
	"github.com/harvest-dev/harvest/store"
)

// receiver is a webhook endpoint that checks every delivery's signature
// and counts, per webhook-id, the deliveries it accepted.
type receiver struct {
	t      *testing.T
	secret string
	now    func() time.Time

	mu       sync.Mutex
	down     bool
	posts    int
	accepted map[string]int
	types    map[string]string // webhook-id -> payload type
	titles   []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts++
	if rc.down {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	if err := alerts.Verify(rc.secret, r.Header, body, rc.now(), 0); err != nil {
		rc.t.Errorf("delivery %s: %v", r.Header.Get(alerts.HeaderID), err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			Title string `json:"title"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		rc.t.Errorf("delivery body %s: %v", body, err)
	}
	id := r.Header.Get(alerts.HeaderID)
	rc.accepted[id]++
	rc.types[id] = ev.Type
	if ev.Data.Title != "" {
		rc.titles = append(rc.titles, ev.Data.Title)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) set(f func(rc *receiver)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	f(rc)
}

// A run adds publications -> outbox rows committed with the run -> the
// sender posts them to a receiver that verifies signatures; the receiver
// is down for a while, then up: every event arrives exactly once per id.
func TestAlertsDeliveredExactlyOnceThroughAnOutage(t *testing.T) {
	f := newFixture(t, 5, "@daily")
	const secret = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM="
	rc := &receiver{t: t, secret: secret, now: f.clock.Now, accepted: map[string]int{}, types: map[string]string{}, down: true}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	subs := []alerts.Subscription{
		{Name: "new", URL: hook.URL + "/new", Secret: secret, AllowPrivateNetworks: true},
		{Name: "only-3", URL: hook.URL + "/3", Secret: secret, AllowPrivateNetworks: true,
			Filter: alerts.Filter{Keywords: []string{"publication 3"}}},
		{Name: "ops", URL: hook.URL + "/ops", Secret: secret, AllowPrivateNetworks: true, Operator: true},
	}
	st := f.open(store.Options{OnRun: AlertHook(subs, f.clock.Now)})
	d := f.daemon(st, nil)
	ctx := context.Background()
	sender := alerts.NewSender(alerts.SenderConfig{
		Outbox: &Outbox{Store: st, Now: f.clock.Now}, Subscriptions: subs,
		Now: f.clock.Now, Rand: func() float64 { return 0.5 }, // no jitter: 30s after the first failure
	})

	runOnce(t, d)
	rows, err := st.OutboxEntries(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 { // 5 for "new", 1 for "only-3", none for ops
		t.Fatalf("outbox rows after adding 5 publications = %d, want 6: %+v", len(rows), rows)
	}

	// Receiver down: every attempt fails and is kept for later.
	sent, failed, err := sender.SendDue(ctx)
	if err != nil || sent != 0 || failed != 6 {
		t.Fatalf("pass while down: sent %d failed %d err %v", sent, failed, err)
	}
	if sent, failed, _ := sender.SendDue(ctx); sent+failed != 0 {
		t.Fatal("a failed delivery was retried before its backoff")
	}
	f.clock.Advance(30 * time.Second)
	rc.set(func(rc *receiver) { rc.down = false })
	sent, failed, err = sender.SendDue(ctx)
	if err != nil || sent != 6 || failed != 0 {
		t.Fatalf("pass once up: sent %d failed %d err %v", sent, failed, err)
	}
	f.clock.Advance(time.Hour)
	if sent, failed, _ := sender.SendDue(ctx); sent+failed != 0 {
		t.Fatalf("delivered events were sent again: %d", sent+failed)
	}

	// Nothing changed on the site: no new events. One new publication:
	// one event per matching subscription.
	f.clock.Set(schedule(t, st, "lib").NextDue)
	runOnce(t, d)
	f.lib.set(func(l *library) { l.items = append(l.items, "Publication 3 bis") })
	f.clock.Set(schedule(t, st, "lib").NextDue)
	runOnce(t, d)
	if sent, _, _ := sender.SendDue(ctx); sent != 2 {
		t.Fatalf("after one new publication: %d sent, want 2 (new + only-3)", sent)
	}
	// The site fails: operators hear of it.
	f.lib.set(func(l *library) { l.status = 500 })
	f.clock.Set(schedule(t, st, "lib").NextDue)
	runOnce(t, d)
	if sent, _, _ := sender.SendDue(ctx); sent != 1 {
		t.Fatalf("after a failed run: %d sent, want 1 operator event", sent)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.accepted) != 9 {
		t.Errorf("distinct webhook ids accepted = %d, want 9", len(rc.accepted))
	}
	var ops int
	for id, n := range rc.accepted {
		if n != 1 {
			t.Errorf("webhook id %s accepted %d times, want once", id, n)
		}
		if rc.types[id] == alerts.TypeRunFailed {
			ops++
		}
	}
	if ops != 1 {
		t.Errorf("operator events = %d, want 1", ops)
	}
	if rc.posts != 2+9 {
		t.Errorf("POSTs = %d, want 11 (one per subscription refused while down, then 9 accepted)", rc.posts)
	}
	if n := strings.Count(strings.Join(rc.titles, "|"), "Publication 3"); n != 4 {
		t.Errorf("titles %q: want Publication 3 and Publication 3 bis to each reach both subscriptions", rc.titles)
	}
	if st, _ := st.OutboxStats(ctx); st != (store.OutboxStats{Delivered: 9}) {
		t.Errorf("outbox = %+v, want 9 delivered", st)
	}
}
