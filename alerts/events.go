package alerts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/store"
)

// Event types of the JSON payloads (Standard Webhooks style names).
const (
	TypeAdded      = "publication.added"
	TypeUpdated    = "publication.updated"
	TypeRemoved    = "publication.removed"
	TypeRestored   = "publication.restored"
	TypeDigest     = "run.digest"
	TypeRunFailed  = "run.failed"
	TypeRunSuspect = "run.suspect"
	TypeRunBlocked = "run.blocked"
)

// DigestLimit is the most publications one digest lists; the payload
// says how many more there were.
const DigestLimit = 100

// Event is one message for one subscription, ready for the outbox.
type Event struct {
	// ID is stable for one change (or run) and one subscription, so that
	// building the events of a run twice gives the same ids and a receiver
	// can de-duplicate on the webhook-id header:
	// "chg_<changeID>_<sub>", "run_<runID>_digest_<sub>",
	// "run_<runID>_<status>_<sub>", where <sub> is a hash of the
	// subscription name.
	ID           string
	Subscription string // the subscription's name
	Payload      []byte // the request body, JSON
	CreatedAt    time.Time
}

// Matches reports whether the change c passes the subscription's filter.
// Operator subscriptions never match changes.
//
// Every filter part is optional and every list is "any of": sources
// against the change's source; kinds (default [added]) against its kind;
// keywords as case-insensitive substrings of the record's title or
// summary (compared on NFC text, accents as they are: "migración" does not
// match "migracion"); countries and categories case-insensitively against
// the record's lists; years against the record's year.
func (s Subscription) Matches(c *store.Change) bool {
	if s.Operator || c == nil {
		return false
	}
	f := s.Filter
	kinds := f.Kinds
	if len(kinds) == 0 {
		kinds = []string{store.KindAdded}
	}
	if !slices.Contains(kinds, c.Kind) {
		return false
	}
	src := c.Source
	if src == "" {
		src = c.Record.Source
	}
	if len(f.Sources) > 0 && !slices.Contains(f.Sources, src) {
		return false
	}
	r := &c.Record
	if len(f.Keywords) > 0 {
		text := strings.ToLower(record.Text(r.Title)) + "\n" + strings.ToLower(record.Text(r.Summary))
		if !slices.ContainsFunc(f.Keywords, func(k string) bool {
			k = strings.ToLower(record.Text(k))
			return k != "" && strings.Contains(text, k)
		}) {
			return false
		}
	}
	if len(f.Countries) > 0 && !anyFold(f.Countries, r.Countries) {
		return false
	}
	if len(f.Categories) > 0 && !anyFold(f.Categories, r.Categories) {
		return false
	}
	if len(f.Years) > 0 && !slices.Contains(f.Years, r.Year) {
		return false
	}
	return true
}

// anyFold reports whether some value of want equals some value of have,
// case-insensitively on NFC text.
func anyFold(want, have []string) bool {
	for _, w := range want {
		w = record.Text(w)
		for _, h := range have {
			if strings.EqualFold(w, record.Text(h)) {
				return true
			}
		}
	}
	return false
}

// operatorStatus reports whether a run's status is one operators hear of.
func operatorStatus(st store.Status) bool {
	return st == store.StatusFailed || st == store.StatusSuspect || st == store.StatusBlocked
}

// BuildEvents returns the events one finished run gives rise to, in
// subscription order: for a mode each subscription, one event per
// matching change (in the order of changes); for a digest subscription,
// one event listing the run's matching changes (none when nothing
// matched); for an operator subscription whose sources filter admits the
// run's source, one event when the run failed, is suspect or was blocked.
// changes are the run's own changes; they should carry their store ids
// (Change.ID), which the event ids are made of. now stamps CreatedAt.
// Building the same run twice gives the same ids and payloads.
func BuildEvents(subs []Subscription, run store.Run, changes []store.Change, now time.Time) []Event {
	var out []Event
	for _, s := range subs {
		sh := subHash(s.Name)
		if s.Operator {
			if !operatorStatus(run.Status) || (len(s.Filter.Sources) > 0 && !slices.Contains(s.Filter.Sources, run.Source)) {
				continue
			}
			out = append(out, Event{
				ID:           fmt.Sprintf("run_%d_%s_%s", run.ID, run.Status, sh),
				Subscription: s.Name,
				Payload:      operatorPayload(s.Format, run, now),
				CreatedAt:    now,
			})
			continue
		}
		var matched []*store.Change
		for i := range changes {
			if s.Matches(&changes[i]) {
				matched = append(matched, &changes[i])
			}
		}
		if len(matched) == 0 {
			continue
		}
		if s.Mode == ModeDigest {
			out = append(out, Event{
				ID:           fmt.Sprintf("run_%d_digest_%s", run.ID, sh),
				Subscription: s.Name,
				Payload:      digestPayload(s.Format, run, matched, now),
				CreatedAt:    now,
			})
			continue
		}
		for _, c := range matched {
			out = append(out, Event{
				ID:           changeEventID(c, sh),
				Subscription: s.Name,
				Payload:      changePayload(s.Format, c, now),
				CreatedAt:    now,
			})
		}
	}
	return out
}

// subHash is a short, stable hash of a subscription name for event ids.
func subHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:6])
}

func changeEventID(c *store.Change, sh string) string {
	if c.ID > 0 {
		return fmt.Sprintf("chg_%d_%s", c.ID, sh)
	}
	// A change not yet stored: identify it by run, source, key and kind.
	sum := sha256.Sum256([]byte(c.Source + "\x00" + c.Key + "\x00" + c.Kind))
	return fmt.Sprintf("chg_r%d_%s_%s", c.RunID, hex.EncodeToString(sum[:8]), sh)
}

// envelope is the JSON payload of every event (Standard Webhooks style).
type envelope struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// publication is the data of a publication.* event and one entry of a
// digest.
type publication struct {
	Kind       string               `json:"kind"`
	Source     string               `json:"source"`
	Key        string               `json:"key"`
	URL        string               `json:"url"`
	Title      string               `json:"title"`
	Summary    string               `json:"summary"`
	Countries  []string             `json:"countries"`
	Regions    []string             `json:"regions"`
	Authors    []string             `json:"authors"`
	Year       int                  `json:"year,omitempty"`
	Categories []string             `json:"categories"`
	Language   string               `json:"language,omitempty"`
	Extra      map[string]string    `json:"extra,omitempty"`
	Changes    []record.FieldChange `json:"changes,omitempty"` // updated: each changed field
	ChangeID   int64                `json:"change_id,omitempty"`
	RunID      int64                `json:"run_id"`
	At         string               `json:"at,omitempty"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func toPublication(c *store.Change) publication {
	r := &c.Record
	src := c.Source
	if src == "" {
		src = r.Source
	}
	key := c.Key
	if key == "" {
		key = r.Key
	}
	p := publication{
		Kind: c.Kind, Source: src, Key: key, URL: r.URL, Title: r.Title, Summary: r.Summary,
		Countries: nonNil(r.Countries), Regions: nonNil(r.Regions), Authors: nonNil(r.Authors),
		Year: r.Year, Categories: nonNil(r.Categories), Language: r.Language, Extra: r.Extra,
		Changes: c.Fields, ChangeID: c.ID, RunID: c.RunID,
	}
	if !c.At.IsZero() {
		p.At = timestamp(c.At)
	}
	return p
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func kindType(kind string) string {
	switch kind {
	case store.KindUpdated:
		return TypeUpdated
	case store.KindRemoved:
		return TypeRemoved
	case store.KindRestored:
		return TypeRestored
	}
	return TypeAdded
}

// mustJSON encodes a payload without HTML escaping (receivers decode
// JSON; "<" need not become "\u003c").
func mustJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only strings, numbers and string maps go in: this cannot fail.
		panic(fmt.Sprintf("alerts: marshal payload: %v", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// eventTime is the time an event is about: t when known, else now.
func eventTime(t, now time.Time) string {
	if t.IsZero() {
		t = now
	}
	return timestamp(t)
}

func changePayload(format string, c *store.Change, now time.Time) []byte {
	if format == FormatSlack {
		p := toPublication(c)
		return slackText(slackEscape(kindWord(c.Kind)+" publication in "+p.Source+":") + "\n" + slackLine(p))
	}
	return mustJSON(envelope{Type: kindType(c.Kind), Timestamp: eventTime(c.At, now), Data: toPublication(c)})
}

// digest is the data of a run.digest event.
type digest struct {
	RunID        int64         `json:"run_id"`
	Source       string        `json:"source"`
	Status       store.Status  `json:"status"`
	FinishedAt   string        `json:"finished_at,omitempty"`
	Total        int           `json:"total"`   // matching changes in the run
	Omitted      int           `json:"omitted"` // beyond DigestLimit, not listed
	Publications []publication `json:"publications"`
}

func digestPayload(format string, run store.Run, matched []*store.Change, now time.Time) []byte {
	d := digest{RunID: run.ID, Source: run.Source, Status: run.Status, Total: len(matched), Publications: []publication{}}
	if !run.FinishedAt.IsZero() {
		d.FinishedAt = timestamp(run.FinishedAt)
	}
	for i, c := range matched {
		if i == DigestLimit {
			d.Omitted = len(matched) - DigestLimit
			break
		}
		d.Publications = append(d.Publications, toPublication(c))
	}
	if format == FormatSlack {
		var b strings.Builder
		b.WriteString(slackEscape(fmt.Sprintf("harvest: %d %s in %s (run %d)", d.Total, plural(d.Total, "change", "changes"), run.Source, run.ID)))
		for _, p := range d.Publications {
			b.WriteString("\n")
			b.WriteString(slackEscape(kindWord(p.Kind) + ": "))
			b.WriteString(slackLine(p))
		}
		if d.Omitted > 0 {
			b.WriteString(slackEscape(fmt.Sprintf("\n… and %d more", d.Omitted)))
		}
		return slackText(b.String())
	}
	return mustJSON(envelope{Type: TypeDigest, Timestamp: eventTime(run.FinishedAt, now), Data: d})
}

// runData is the data of a run.failed/suspect/blocked event.
type runData struct {
	RunID       int64        `json:"run_id"`
	Source      string       `json:"source"`
	Status      store.Status `json:"status"`
	Reason      string       `json:"reason"`
	StartedAt   string       `json:"started_at,omitempty"`
	FinishedAt  string       `json:"finished_at,omitempty"`
	Pages       int          `json:"pages"`
	PagesFailed int          `json:"pages_failed"`
	Seen        int          `json:"seen"`
	Added       int          `json:"added"`
	Updated     int          `json:"updated"`
	Removed     int          `json:"removed"`
	Held        int          `json:"held"`
}

func operatorPayload(format string, run store.Run, now time.Time) []byte {
	if format == FormatSlack {
		msg := fmt.Sprintf("harvest: run %d of %s is %s", run.ID, run.Source, run.Status)
		if run.Reason != "" {
			msg += ": " + run.Reason
		}
		if run.Held > 0 {
			msg += fmt.Sprintf(" (%d removals held)", run.Held)
		}
		return slackText(slackEscape(msg))
	}
	d := runData{
		RunID: run.ID, Source: run.Source, Status: run.Status, Reason: run.Reason,
		Pages: run.Pages, PagesFailed: run.PagesFailed, Seen: run.Seen,
		Added: run.Added, Updated: run.Updated, Removed: run.Removed, Held: run.Held,
	}
	if !run.StartedAt.IsZero() {
		d.StartedAt = timestamp(run.StartedAt)
	}
	if !run.FinishedAt.IsZero() {
		d.FinishedAt = timestamp(run.FinishedAt)
	}
	return mustJSON(envelope{Type: "run." + string(run.Status), Timestamp: eventTime(run.FinishedAt, now), Data: d})
}

// slackEscape escapes the three characters Slack's mrkdwn reserves for
// its control sequences (& < >), as Slack asks.
var slackReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackEscape(s string) string { return slackReplacer.Replace(s) }

// slackLine is one readable line for a publication: a link with the title
// as its text, then the source.
func slackLine(p publication) string {
	title := p.Title
	if title == "" {
		title = p.Key
	}
	var link string
	if p.URL != "" {
		// Inside <url|text> a "|" would end the URL: percent-encode it.
		u := strings.ReplaceAll(p.URL, "|", "%7C")
		link = "<" + slackEscape(u) + "|" + slackEscape(title) + ">"
	} else {
		link = slackEscape(title)
	}
	return "• " + link + " (" + slackEscape(p.Source) + ")"
}

func slackText(text string) []byte {
	return mustJSON(struct {
		Text string `json:"text"`
	}{text})
}

func kindWord(kind string) string {
	switch kind {
	case store.KindUpdated:
		return "Updated"
	case store.KindRemoved:
		return "Removed"
	case store.KindRestored:
		return "Restored"
	}
	return "New"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
