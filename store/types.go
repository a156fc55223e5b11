package store

import (
	"time"

	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
)

// Status is how a run ended.
type Status string

// Run statuses, as DESIGN.md "Runs and change semantics" defines them.
const (
	StatusComplete Status = "complete" // every page fetched and parsed
	StatusPartial  Status = "partial"  // some page failed, was truncated, or pagination was cut
	StatusFailed   Status = "failed"   // nothing usable was fetched
	StatusBlocked  Status = "blocked"  // robots.txt unavailable or disallowing, a challenge page
	StatusSuspect  Status = "suspect"  // parsed but looks wrong; removals held
)

// Change kinds.
const (
	KindAdded    = "added"
	KindUpdated  = "updated"
	KindRemoved  = "removed"
	KindRestored = "restored"
)

// PageOutcome is what happened to one fetched page of a run.
type PageOutcome struct {
	URL          string        `json:"url"`
	Status       int           `json:"status"` // HTTP status, 0 when no response
	Bytes        int           `json:"bytes"`
	Duration     time.Duration `json:"duration_ns"`
	Items        int           `json:"items"`
	Err          string        `json:"error,omitempty"`
	NotModified  bool          `json:"not_modified,omitempty"` // 304 or identical body: items counted from PageState
	ETag         string        `json:"-"`
	LastModified string        `json:"-"`
	BodyHash     string        `json:"-"`
	Keys         []string      `json:"-"` // keys of the items on this page (saved as PageState)
	Next         []string      `json:"-"` // next-page links found on this page (saved as PageState)
}

// PageState is what the store remembers of a listing URL between runs,
// for conditional requests: validators, body hash and the item keys the
// page held when last parsed.
type PageState struct {
	URL          string
	ETag         string
	LastModified string
	BodyHash     string
	Keys         []string
	Next         []string // next-page links the page held, so a 304 still paginates
}

// RunInput is everything one run of one source observed. The store
// applies it as one transaction.
type RunInput struct {
	Source     string
	StartedAt  time.Time
	FinishedAt time.Time
	// Status is the crawl's verdict (complete, partial, failed, blocked,
	// or suspect when the run itself saw something wrong). The store may
	// turn a complete run into suspect (zero items where the last complete
	// run had some; too many removals at once).
	Status Status
	Reason string
	// Records seen on parsed pages, normalised and keyed. A key seen twice
	// keeps its first occurrence.
	Records []record.Record
	// SeenKeys are keys counted as seen without a new record (pages not
	// modified since the last run): they are neither updated nor missed.
	SeenKeys []string
	Pages    []PageOutcome
	Dropped  int // items skipped for a missing required field
	Warnings []string
	Guards   seeds.Guards
	// IgnoreChanges are fields excluded from change detection.
	IgnoreChanges []string
	// ExtraFields are the extra fields the source's seed configures. They
	// join the extra field names the store keeps per source (ExtraNames)
	// whatever the run's records hold, so that an export that knows no
	// seed has a column for each from the first run, not from the first
	// record that has a value.
	ExtraFields []string
}

// Run is one visit of one source, as stored.
type Run struct {
	ID         int64     `json:"id"`
	Source     string    `json:"source"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Status     Status    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	RunCounts            // flattened into the run's JSON
}

// RunCounts are a run's numbers: what it fetched, saw and changed.
type RunCounts struct {
	Pages       int `json:"pages"`
	PagesFailed int `json:"pages_failed"`
	Seen        int `json:"seen"`
	Added       int `json:"added"`
	Updated     int `json:"updated"`
	Removed     int `json:"removed"`
	Restored    int `json:"restored"`
	Held        int `json:"held"` // removals held back by the removal guard
	Dropped     int `json:"dropped"`
	Warnings    int `json:"warnings"`
}

// Change is one added, updated, removed or restored record.
type Change struct {
	ID     int64                `json:"id"`
	RunID  int64                `json:"run_id"`
	Source string               `json:"source"`
	Key    string               `json:"key"`
	Kind   string               `json:"kind"`
	At     time.Time            `json:"at"`
	Fields []record.FieldChange `json:"fields,omitempty"` // updates: each changed field
	Record record.Record        `json:"record"`           // the record after the change (removed: its last version)
}

// RunResult is the stored run and the changes it made.
type RunResult struct {
	Run     Run
	Changes []Change
}

// RecordFilter selects records.
type RecordFilter struct {
	Sources        []string // empty: all
	Keys           []string // empty: all
	IncludeRemoved bool
}

// ChangeFilter selects changes. Zero values select everything.
type ChangeFilter struct {
	Sources   []string
	Kinds     []string
	AfterID   int64     // changes with id > AfterID (a consumer's cursor)
	SinceRun  int64     // changes made by runs with id >= SinceRun
	SinceTime time.Time // changes at or after
	RunID     int64     // only this run's changes
	// Last, when positive, keeps only the last Last matching changes (the
	// newest by id), still yielded in id order: a feed of the newest 100
	// reads 100 rows, not the whole history.
	Last int
}

// RunFilter selects runs, newest first.
type RunFilter struct {
	Source string
	Before int64 // only runs with id < Before (a page of a list paginated by id)
	Limit  int
}
