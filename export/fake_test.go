package export_test

import (
	"context"
	"slices"
	"time"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/store"
)

// The real store satisfies the sources export reads from.
var (
	_ export.RecordSource = (*store.Store)(nil)
	_ export.ChangeSource = (*store.Store)(nil)
)

// memStore is an in-memory RecordSource and ChangeSource over slices,
// honouring the filter fields the store honours.
type memStore struct {
	records []record.Record
	changes []store.Change
}

func (m *memStore) EachRecord(ctx context.Context, f store.RecordFilter, fn func(*record.Record) error) error {
	for i := range m.records {
		r := m.records[i] // a copy: callers must not keep the pointer
		if len(f.Sources) > 0 && !slices.Contains(f.Sources, r.Source) {
			continue
		}
		if r.RemovedAt != nil && !f.IncludeRemoved {
			continue
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) EachChange(ctx context.Context, f store.ChangeFilter, fn func(*store.Change) error) error {
	var sel []store.Change
	for i := range m.changes {
		c := m.changes[i]
		switch {
		case len(f.Sources) > 0 && !slices.Contains(f.Sources, c.Source),
			len(f.Kinds) > 0 && !slices.Contains(f.Kinds, c.Kind),
			c.ID <= f.AfterID,
			f.RunID > 0 && c.RunID != f.RunID,
			f.SinceRun > 0 && c.RunID < f.SinceRun,
			!f.SinceTime.IsZero() && c.At.Before(f.SinceTime):
			continue
		}
		sel = append(sel, c)
	}
	if f.Last > 0 && len(sel) > f.Last {
		sel = sel[len(sel)-f.Last:]
	}
	for i := range sel {
		c := sel[i] // a copy: callers must not keep the pointer
		if err := fn(&c); err != nil {
			return err
		}
	}
	return nil
}

var (
	t0      = time.Date(2026, 1, 2, 3, 4, 5, 678, time.FixedZone("CET", 3600))
	t0UTC   = "2026-01-02T02:04:05Z"
	trouble = "Tom & Jerry <b>\"x\"</b> — Müller — עברית"
)

func fixtureRecords() []record.Record {
	removed := t0.Add(48 * time.Hour)
	return []record.Record{
		{
			Source: "iom", Key: "https://example.int/a", URL: "https://example.int/a",
			Title:     `=HYPERLINK("http://evil.example","click")`,
			Summary:   "-5 percent; and more",
			Countries: []string{"México", "Côte d'Ivoire"},
			Authors:   []string{"Smith; John", `Back\slash`, "Lee"},
			Year:      2024, Categories: []string{"Trafficking"}, Language: "es",
			Extra:     map[string]string{"pdf": "https://example.int/a.pdf", "note": "@admin"},
			FirstSeen: t0, LastSeen: t0.Add(time.Hour), LastChanged: t0, ContentHash: "abc123",
		},
		{
			Source: "iom", Key: "https://example.int/b", URL: "https://example.int/b",
			Title: trouble, Summary: "plain", FirstSeen: t0, LastSeen: t0, LastChanged: t0, ContentHash: "def456",
		},
		{
			Source: "other", Key: "h:0123", Title: "Gone", RemovedAt: &removed, FirstSeen: t0, LastSeen: t0, LastChanged: t0,
		},
	}
}

func fixtureChanges() []store.Change {
	recs := fixtureRecords()
	upd := recs[1]
	upd.Title = "New title"
	return []store.Change{
		{ID: 1, RunID: 1, Source: "iom", Key: recs[0].Key, Kind: store.KindAdded, At: t0, Record: recs[0]},
		{ID: 2, RunID: 1, Source: "iom", Key: recs[1].Key, Kind: store.KindAdded, At: t0, Record: recs[1]},
		{ID: 3, RunID: 2, Source: "iom", Key: recs[1].Key, Kind: store.KindUpdated, At: t0.Add(time.Hour), Record: upd,
			Fields: []record.FieldChange{
				{Field: "title", Old: trouble, New: "New title"},
				{Field: "countries", Old: "A; B", New: ""},
			}},
		{ID: 4, RunID: 2, Source: "other", Key: "h:0123", Kind: store.KindRemoved, At: t0.Add(time.Hour), Record: recs[2]},
	}
}

func fixedNow() time.Time { return t0 }
