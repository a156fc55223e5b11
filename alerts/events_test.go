package alerts

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/store"
)

var t0 = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)

func change(id int64, kind string, r record.Record) store.Change {
	if r.Source == "" {
		r.Source = "iom-trafficking"
	}
	if r.Key == "" {
		r.Key = fmt.Sprintf("https://example.int/pub/%d", id)
		r.URL = r.Key
	}
	return store.Change{ID: id, RunID: 7, Source: r.Source, Key: r.Key, Kind: kind, At: t0, Record: r}
}

func TestMatches(t *testing.T) {
	mx := record.Record{
		Title:      "Trata de personas en México",
		Summary:    "A study of TRAFFICKING routes.",
		Countries:  []string{"Mexico", "Guatemala"},
		Categories: []string{"Trafficking"},
		Year:       2024,
	}
	tests := []struct {
		name string
		f    Filter
		c    store.Change
		want bool
	}{
		{"empty filter takes added", Filter{}, change(1, "added", mx), true},
		{"empty filter skips updated", Filter{}, change(1, "updated", mx), false},
		{"kinds any of", Filter{Kinds: []string{"updated", "removed"}}, change(1, "removed", mx), true},
		{"kinds miss", Filter{Kinds: []string{"updated"}}, change(1, "restored", mx), false},
		{"source", Filter{Sources: []string{"other", "iom-trafficking"}}, change(1, "added", mx), true},
		{"source miss", Filter{Sources: []string{"other"}}, change(1, "added", mx), false},
		{"keyword in summary, any case", Filter{Keywords: []string{"Trafficking"}}, change(1, "added", mx), true},
		{"keyword in title with accent", Filter{Keywords: []string{"MÉXICO"}}, change(1, "added", mx), true},
		{"keyword accent as-is", Filter{Keywords: []string{"mexico"}}, change(1, "added", mx), false},
		{"keyword decomposed form is NFC-normalised", Filter{Keywords: []string{"Me\u0301xico"}}, change(1, "added", mx), true},
		{"keyword any of", Filter{Keywords: []string{"smuggling", "routes"}}, change(1, "added", mx), true},
		{"keyword miss", Filter{Keywords: []string{"smuggling"}}, change(1, "added", mx), false},
		{"country case-insensitive", Filter{Countries: []string{"guatemala"}}, change(1, "added", mx), true},
		{"country is whole value", Filter{Countries: []string{"Guate"}}, change(1, "added", mx), false},
		{"category", Filter{Categories: []string{"trafficking"}}, change(1, "added", mx), true},
		{"category miss", Filter{Categories: []string{"Migration"}}, change(1, "added", mx), false},
		{"year", Filter{Years: []int{2023, 2024}}, change(1, "added", mx), true},
		{"year miss", Filter{Years: []int{2023}}, change(1, "added", mx), false},
		{"year unknown", Filter{Years: []int{2024}}, change(1, "added", record.Record{Title: "x"}), false},
		{"all parts must match", Filter{Countries: []string{"Mexico"}, Years: []int{2020}}, change(1, "added", mx), false},
		{"all parts match", Filter{Sources: []string{"iom-trafficking"}, Kinds: []string{"added"}, Keywords: []string{"trata"},
			Countries: []string{"MEXICO"}, Categories: []string{"Trafficking"}, Years: []int{2024}}, change(1, "added", mx), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Subscription{Name: "s", Filter: tt.f}
			if got := s.Matches(&tt.c); got != tt.want {
				t.Fatalf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
	op := Subscription{Name: "ops", Operator: true}
	c := change(1, "added", mx)
	if op.Matches(&c) {
		t.Error("an operator subscription matched a change")
	}
}

type payload struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("payload is not JSON: %v\n%s", err, b)
	}
}

func TestBuildEventsEach(t *testing.T) {
	subs := []Subscription{
		{Name: "mexico", Format: FormatJSON, Mode: ModeEach, Filter: Filter{Countries: []string{"Mexico"}, Kinds: []string{"added", "updated"}}},
		{Name: "all-added", Format: FormatJSON, Mode: ModeEach},
	}
	run := store.Run{ID: 7, Source: "iom-trafficking", Status: store.StatusComplete}
	upd := change(2, "updated", record.Record{Title: "B", Countries: []string{"Mexico"}, Year: 2025})
	upd.Fields = []record.FieldChange{{Field: "year", Old: "2024", New: "2025"}}
	changes := []store.Change{
		change(1, "added", record.Record{Title: "A", Countries: []string{"Mexico"}, Summary: "s", Extra: map[string]string{"pdf": "https://example.int/a.pdf"}}),
		upd,
		change(3, "added", record.Record{Title: "C", Countries: []string{"Peru"}}),
	}
	now := t0.Add(time.Minute)
	evs := BuildEvents(subs, run, changes, now)
	var got []string
	for _, e := range evs {
		got = append(got, e.Subscription+":"+e.ID)
		if !e.CreatedAt.Equal(now) {
			t.Errorf("%s: CreatedAt %v, want %v", e.ID, e.CreatedAt, now)
		}
	}
	mx, all := subHash("mexico"), subHash("all-added")
	want := []string{"mexico:chg_1_" + mx, "mexico:chg_2_" + mx, "all-added:chg_1_" + all, "all-added:chg_3_" + all}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events\n%v\nwant\n%v", got, want)
	}

	var p payload
	decode(t, evs[0].Payload, &p)
	if p.Type != "publication.added" || p.Timestamp != "2026-03-01T02:00:00Z" {
		t.Errorf("added envelope: %+v", p)
	}
	var d struct {
		Source, Key, URL, Title, Summary string
		Countries                        []string
		Extra                            map[string]string
		RunID                            int64 `json:"run_id"`
		ChangeID                         int64 `json:"change_id"`
		Changes                          []record.FieldChange
	}
	decode(t, p.Data, &d)
	if d.Source != "iom-trafficking" || d.Key != "https://example.int/pub/1" || d.URL != d.Key || d.Title != "A" || d.Summary != "s" ||
		len(d.Countries) != 1 || d.Extra["pdf"] != "https://example.int/a.pdf" || d.RunID != 7 || d.ChangeID != 1 {
		t.Errorf("added data: %+v", d)
	}
	decode(t, evs[1].Payload, &p)
	d.Changes = nil
	decode(t, p.Data, &d)
	if p.Type != "publication.updated" || len(d.Changes) != 1 || d.Changes[0].New != "2025" {
		t.Errorf("updated payload: %s", evs[1].Payload)
	}

	// The same run built again gives the same events: the outbox can
	// de-duplicate on the id, a receiver on webhook-id.
	again := BuildEvents(subs, run, changes, now)
	for i := range evs {
		if evs[i].ID != again[i].ID || string(evs[i].Payload) != string(again[i].Payload) {
			t.Fatalf("event %d differs when built twice", i)
		}
	}

	// Nothing matching, nothing built.
	if evs := BuildEvents(subs, run, nil, now); len(evs) != 0 {
		t.Errorf("no changes gave %d events", len(evs))
	}
}

func TestBuildEventsDigest(t *testing.T) {
	subs := []Subscription{{Name: "daily", Format: FormatJSON, Mode: ModeDigest, Filter: Filter{Kinds: []string{"added", "removed"}}}}
	run := store.Run{ID: 9, Source: "iom-trafficking", Status: store.StatusPartial, FinishedAt: t0}
	var changes []store.Change
	for i := 1; i <= DigestLimit+5; i++ {
		changes = append(changes, change(int64(i), "added", record.Record{Title: fmt.Sprintf("P%d", i)}))
	}
	changes = append(changes, change(500, "updated", record.Record{Title: "not listed"}))
	evs := BuildEvents(subs, run, changes, t0)
	if len(evs) != 1 {
		t.Fatalf("digest gave %d events, want 1", len(evs))
	}
	if evs[0].ID != "run_9_digest_"+subHash("daily") {
		t.Errorf("digest id %s", evs[0].ID)
	}
	var p payload
	decode(t, evs[0].Payload, &p)
	var d struct {
		RunID        int64 `json:"run_id"`
		Source       string
		Status       string
		Total        int
		Omitted      int
		Publications []struct{ Title, Kind string }
	}
	decode(t, p.Data, &d)
	if p.Type != "run.digest" || d.RunID != 9 || d.Source != "iom-trafficking" || d.Status != "partial" ||
		d.Total != DigestLimit+5 || d.Omitted != 5 || len(d.Publications) != DigestLimit ||
		d.Publications[0].Title != "P1" || d.Publications[0].Kind != "added" {
		t.Errorf("digest: type %s, data %+v", p.Type, d)
	}
	if evs := BuildEvents(subs, run, changes[len(changes)-1:], t0); len(evs) != 0 {
		t.Errorf("a run with no matching change gave a digest")
	}
}

func TestBuildEventsOperator(t *testing.T) {
	subs := []Subscription{
		{Name: "ops", Operator: true, Format: FormatJSON},
		{Name: "ops-other", Operator: true, Format: FormatJSON, Filter: Filter{Sources: []string{"other"}}},
		{Name: "pubs", Format: FormatJSON, Mode: ModeEach},
	}
	changes := []store.Change{change(1, "added", record.Record{Title: "A"})}
	for _, st := range []store.Status{store.StatusFailed, store.StatusSuspect, store.StatusBlocked} {
		run := store.Run{ID: 11, Source: "iom-trafficking", Status: st, Reason: "zero items where the last run had 345", RunCounts: store.RunCounts{Held: 3}}
		evs := BuildEvents(subs, run, changes, t0)
		// ops: one run event; ops-other: none (other source); pubs: the change.
		if len(evs) != 2 || evs[0].Subscription != "ops" || evs[1].Subscription != "pubs" {
			t.Fatalf("%s: events %+v", st, evs)
		}
		if want := fmt.Sprintf("run_11_%s_%s", st, subHash("ops")); evs[0].ID != want {
			t.Errorf("%s: id %s, want %s", st, evs[0].ID, want)
		}
		var p payload
		decode(t, evs[0].Payload, &p)
		var d struct {
			RunID          int64 `json:"run_id"`
			Source, Status string
			Reason         string
			Held           int
		}
		decode(t, p.Data, &d)
		if p.Type != "run."+string(st) || d.RunID != 11 || d.Source != "iom-trafficking" || d.Status != string(st) ||
			d.Reason != run.Reason || d.Held != 3 {
			t.Errorf("%s: payload %s", st, evs[0].Payload)
		}
	}
	for _, st := range []store.Status{store.StatusComplete, store.StatusPartial} {
		evs := BuildEvents(subs[:2], store.Run{ID: 12, Source: "iom-trafficking", Status: st}, changes, t0)
		if len(evs) != 0 {
			t.Errorf("%s run gave operator events: %+v", st, evs)
		}
	}
}

func TestSlackPayloads(t *testing.T) {
	r := record.Record{Title: "Rights & <wrongs> of migrants", URL: "https://example.int/p?a=1&b=2|3", Key: "k1"}
	c := change(1, "added", r)
	each := Subscription{Name: "slack", Format: FormatSlack, Mode: ModeEach}
	evs := BuildEvents([]Subscription{each}, store.Run{ID: 3, Source: "iom-trafficking"}, []store.Change{c}, t0)
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	var m map[string]string
	decode(t, evs[0].Payload, &m)
	if len(m) != 1 {
		t.Errorf("slack payload has keys other than text: %s", evs[0].Payload)
	}
	want := "New publication in iom-trafficking:\n• <https://example.int/p?a=1&amp;b=2%7C3|Rights &amp; &lt;wrongs&gt; of migrants> (iom-trafficking)"
	if m["text"] != want {
		t.Errorf("slack text\n%q\nwant\n%q", m["text"], want)
	}

	dig := Subscription{Name: "slack-digest", Format: FormatSlack, Mode: ModeDigest}
	c2 := change(2, "added", record.Record{Title: "Second"})
	evs = BuildEvents([]Subscription{dig}, store.Run{ID: 3, Source: "iom-trafficking"}, []store.Change{c, c2}, t0)
	decode(t, evs[0].Payload, &m)
	lines := strings.Split(m["text"], "\n")
	if len(lines) != 3 || lines[0] != "harvest: 2 changes in iom-trafficking (run 3)" ||
		!strings.HasPrefix(lines[1], "New: • <https://example.int/p?a=1&amp;b=2%7C3|Rights &amp; &lt;wrongs&gt;") ||
		lines[2] != "New: • <https://example.int/pub/2|Second> (iom-trafficking)" {
		t.Errorf("slack digest text:\n%s", m["text"])
	}

	ops := Subscription{Name: "slack-ops", Format: FormatSlack, Operator: true}
	evs = BuildEvents([]Subscription{ops}, store.Run{ID: 4, Source: "s", Status: store.StatusBlocked, Reason: "robots.txt disallows /resources & <all>"}, nil, t0)
	decode(t, evs[0].Payload, &m)
	if m["text"] != "harvest: run 4 of s is blocked: robots.txt disallows /resources &amp; &lt;all&gt;" {
		t.Errorf("slack operator text: %q", m["text"])
	}
}

func TestChangeWithoutIDGetsStableID(t *testing.T) {
	s := []Subscription{{Name: "a", Mode: ModeEach}}
	c1 := change(0, "added", record.Record{Key: "k1", URL: "https://x/1"})
	c2 := change(0, "added", record.Record{Key: "k2", URL: "https://x/2"})
	e := BuildEvents(s, store.Run{ID: 7}, []store.Change{c1, c2}, t0)
	e2 := BuildEvents(s, store.Run{ID: 7}, []store.Change{c1, c2}, t0.Add(time.Hour))
	if len(e) != 2 || e[0].ID == e[1].ID || e[0].ID != e2[0].ID || !strings.HasPrefix(e[0].ID, "chg_r7_") {
		t.Fatalf("ids %v / %v", e, e2)
	}
}
