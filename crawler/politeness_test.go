package crawler

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// twoSources opens a session for each of two sources of the same host.
func twoSources(t *testing.T, cr *Crawler, base, politeness string) (*Session, *Session) {
	t.Helper()
	var out []*Session
	for _, id := range []string{"source-a", "source-b"} {
		s, err := cr.Open(context.Background(), parseSeed(t, fmt.Sprintf(`id: %s
start_urls: [%q]
allow_private_networks: true
politeness: %s
items: "div.item"
fields: {title: "h3"}
`, id, base+"/list", politeness)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out[0], out[1]
}

func TestHostConcurrencySharedAcrossSources(t *testing.T) {
	st := newSite(t)
	h := holdRequests(st, "/p")
	cr := New(Config{Sleep: (&sleeps{}).sleep})
	a, b := twoSources(t, cr, st.URL, "{delay: 0s, concurrency: 2}")
	pick := func(i int) *Session {
		if i%2 == 1 {
			return b
		}
		return a
	}
	if p := h.peakOf(t, 12, pick, st.URL); p != 2 {
		t.Errorf("peak concurrent requests to the host = %d, want 2: two sources of one host share politeness.concurrency", p)
	}
}

func TestHostDelaySharedAcrossSources(t *testing.T) {
	st := newSite(t)
	st.html("/list", "<p>ok</p>")
	sl := &sleeps{}
	cr := New(Config{Sleep: sl.sleep, Now: func() time.Time { return t0 }}) // frozen clock
	a, b := twoSources(t, cr, st.URL, "{delay: 1s}")
	for _, s := range []*Session{a, b, a, b} {
		if _, err := s.Fetch(context.Background(), st.URL+"/list", Validators{}); err != nil {
			t.Fatal(err)
		}
	}
	// One host: the four requests start 1s apart, whichever source asks.
	if got := fmt.Sprint(sl.all()); got != "[1s 2s 3s]" {
		t.Errorf("waits = %s, want [1s 2s 3s] (per-source pacing would give [1s 1s])", got)
	}

	// Another crawler is another process: it shares nothing.
	sl2 := &sleeps{}
	cr2 := New(Config{Sleep: sl2.sleep, Now: func() time.Time { return t0 }})
	c, _ := twoSources(t, cr2, st.URL, "{delay: 1s}")
	if _, err := c.Fetch(context.Background(), st.URL+"/list", Validators{}); err != nil {
		t.Fatal(err)
	}
	if got := sl2.all(); len(got) != 0 {
		t.Errorf("a fresh crawler waited %v before its first request", got)
	}
}

func TestHostConcurrencyWaitHonoursCancel(t *testing.T) {
	st := newSite(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	st.handle("/slow", func(w http.ResponseWriter, _ *http.Request) {
		started <- struct{}{}
		<-release
	})
	defer close(release)
	cr := New(Config{Sleep: (&sleeps{}).sleep})
	a, b := twoSources(t, cr, st.URL, "{delay: 0s, concurrency: 1}")
	go a.Fetch(context.Background(), st.URL+"/slow", Validators{})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := b.Fetch(ctx, st.URL+"/slow", Validators{})
	wantKindSource(t, err, KindTransient, "source-b")
	if n := st.requests.Load(); n != 1 {
		t.Errorf("requests = %d; the second source must wait for the host's only slot", n)
	}
}

func wantKindSource(t *testing.T, err error, k Kind, source string) {
	t.Helper()
	if KindOf(err) != k || !strings.Contains(fmt.Sprint(err), source) {
		t.Errorf("err = %v, want a %s error of %s", err, k, source)
	}
}

func TestContactInUserAgent(t *testing.T) {
	if DefaultUserAgent != "harvest/0.1 (+https://github.com/harvest-dev/harvest)" || UserAgentFor("") != DefaultUserAgent {
		t.Errorf("DefaultUserAgent = %q, UserAgentFor(\"\") = %q", DefaultUserAgent, UserAgentFor(""))
	}
	st := newSite(t)
	st.html("/list", "<p>ok</p>")
	var robotsUA atomic.Value
	st.robots.Store(func(w http.ResponseWriter, r *http.Request) {
		robotsUA.Store(r.UserAgent())
		fmt.Fprint(w, "User-agent: *\nAllow: /\n")
	})
	for _, tc := range []struct {
		cfg  Config
		seed string
		want string
	}{
		{Config{Contact: "https://data.example.org/crawler"}, "", "harvest/0.1 (+https://data.example.org/crawler)"},
		{Config{Contact: "mailto:ops@example.org"}, "", "harvest/0.1 (+mailto:ops@example.org)"},
		{Config{}, "", DefaultUserAgent},
		{Config{Contact: "https://x.example", UserAgent: "custom/1"}, "", "custom/1"},
		{Config{Contact: "https://x.example"}, "seedbot/2 (+https://seed.example)", "seedbot/2 (+https://seed.example)"},
	} {
		tc.cfg.Sleep = (&sleeps{}).sleep
		pol := "politeness: {delay: 0s}"
		if tc.seed != "" {
			pol = fmt.Sprintf("politeness: {delay: 0s, user_agent: %q}", tc.seed)
		}
		s, err := New(tc.cfg).Open(context.Background(), seedFor(t, st.URL, pol))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Fetch(context.Background(), st.URL+"/list", Validators{}); err != nil {
			t.Fatal(err)
		}
		if ua := st.ua.Load(); ua != tc.want || robotsUA.Load() != tc.want {
			t.Errorf("%+v: page UA %q, robots.txt UA %q, want %q", tc.cfg, ua, robotsUA.Load(), tc.want)
		}
	}
}
