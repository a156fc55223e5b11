package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// feedChanges: 150 added publications (ids 1..150, key k001..k150), an
// update, and publication k003 removed and then restored (newest).
func feedChanges() []store.Change {
	var cs []store.Change
	for i := 1; i <= 150; i++ {
		key := fmt.Sprintf("https://example.int/k%03d", i)
		cs = append(cs, store.Change{ID: int64(i), RunID: 1, Source: "iom", Key: key, Kind: store.KindAdded,
			At: t0.Add(time.Duration(i) * time.Minute),
			Record: record.Record{Source: "iom", Key: key, URL: key, Title: fmt.Sprintf("Publication %d", i),
				Summary: "About " + fmt.Sprint(i), Authors: []string{"Ana Pérez"}, Categories: []string{"Trafficking"},
				Countries: []string{"Mexico"}, Year: 2025}})
	}
	cs[149].Record.Title = trouble // the newest added one
	k3 := cs[2]
	cs = append(cs,
		store.Change{ID: 151, RunID: 2, Source: "iom", Key: cs[10].Key, Kind: store.KindUpdated, At: t0.Add(200 * time.Minute), Record: cs[10].Record},
		store.Change{ID: 152, RunID: 3, Source: "iom", Key: k3.Key, Kind: store.KindRemoved, At: t0.Add(300 * time.Minute), Record: k3.Record},
		store.Change{ID: 153, RunID: 4, Source: "iom", Key: k3.Key, Kind: store.KindRestored, At: t0.Add(400 * time.Minute), Record: k3.Record},
	)
	return cs
}

type atomDoc struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Author  string   `xml:"author>name"`
	Entries []struct {
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Updated string `xml:"updated"`
		Link    struct {
			Href string `xml:"href,attr"`
		} `xml:"link"`
		Summary    string `xml:"summary"`
		Categories []struct {
			Term   string `xml:"term,attr"`
			Scheme string `xml:"scheme,attr"`
		} `xml:"category"`
	} `xml:"entry"`
}

func genAtom(t *testing.T, src export.ChangeSource, info export.FeedInfo) ([]byte, atomDoc) {
	t.Helper()
	var buf bytes.Buffer
	if err := export.WriteAtom(context.Background(), &buf, src, store.ChangeFilter{}, info); err != nil {
		t.Fatal(err)
	}
	var doc atomDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("Atom does not parse: %v\n%s", err, buf.Bytes())
	}
	return buf.Bytes(), doc
}

var uuidURN = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestAtomFeed(t *testing.T) {
	src := &memStore{changes: feedChanges()}
	info := export.FeedInfo{Title: "New & noteworthy", ID: "tag:harvest:all", FeedURL: "https://h.example/feed.atom", Updated: t0}
	raw, doc := genAtom(t, src, info)
	if !bytes.HasPrefix(raw, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("no XML declaration: %.60s", raw)
	}
	if doc.Title != "New & noteworthy" || doc.ID != "tag:harvest:all" || doc.Author != "harvest" {
		t.Errorf("feed head: %+v", doc)
	}
	if len(doc.Entries) != export.DefaultFeedLimit {
		t.Fatalf("%d entries, want the newest %d", len(doc.Entries), export.DefaultFeedLimit)
	}
	// Newest first: the restored k003, then k150 down to k052; the
	// earlier "added" of k003 is outside the window anyway, and the
	// update is not a feed entry.
	if doc.Entries[0].Link.Href != "https://example.int/k003" || doc.Updated != "2026-01-02T08:44:05Z" {
		t.Errorf("first entry %s, feed updated %s", doc.Entries[0].Link.Href, doc.Updated)
	}
	if doc.Entries[1].Title != trouble {
		t.Errorf("escaping: title came back as %q, want %q", doc.Entries[1].Title, trouble)
	}
	if !bytes.Contains(raw, []byte("Tom &amp; Jerry &lt;b&gt;")) {
		t.Errorf("title not XML-escaped in:\n%s", raw[:600])
	}
	if doc.Entries[99].Link.Href != "https://example.int/k052" {
		t.Errorf("last entry %s, want k052", doc.Entries[99].Link.Href)
	}
	seen := map[string]bool{}
	for i, e := range doc.Entries {
		if !uuidURN.MatchString(e.ID) || seen[e.ID] {
			t.Errorf("entry %d id %q: not a v5 UUID URN, or repeated", i, e.ID)
		}
		seen[e.ID] = true
		if i > 0 && e.Updated > doc.Entries[i-1].Updated {
			t.Errorf("entry %d is newer than entry %d", i, i-1)
		}
	}
	e := doc.Entries[2]
	if e.Summary != "About 149" || len(e.Categories) != 2 || e.Categories[0].Term != "Trafficking" || e.Categories[1].Scheme != export.CountryScheme {
		t.Errorf("entry body: %+v", e)
	}

	// A second generation with one more publication keeps every id.
	more := feedChanges()
	more = append(more, store.Change{ID: 154, RunID: 5, Source: "iom", Key: "https://example.int/new", Kind: store.KindAdded,
		At: t0.Add(500 * time.Minute), Record: record.Record{URL: "https://example.int/new", Title: "New"}})
	_, doc2 := genAtom(t, &memStore{changes: more}, info)
	if doc2.Entries[0].Title != "New" {
		t.Fatalf("second generation starts with %q", doc2.Entries[0].Title)
	}
	for i := range 99 {
		if doc2.Entries[i+1].ID != doc.Entries[i].ID {
			t.Fatalf("entry id of %s changed between generations", doc.Entries[i].Link.Href)
		}
	}
	// The id is of the publication, not the change: a restored
	// publication has the id it had when first added.
	if doc.Entries[0].ID != export.EntryID("iom", "https://example.int/k003") {
		t.Errorf("restored entry id %s", doc.Entries[0].ID)
	}
	if export.EntryID("iom", "a") == export.EntryID("iom2", "a") || export.EntryID("iom", "a") == export.EntryID("iom", "b") {
		t.Error("EntryID collides across sources or keys")
	}

	// Same data, same document: a feed reader or cache sees no change.
	raw3, _ := genAtom(t, src, info)
	if !bytes.Equal(raw, raw3) {
		t.Error("two generations over the same changes differ")
	}
}

func TestAtomFeedSmallAndEmpty(t *testing.T) {
	// Within the window, a publication added then restored appears once.
	cs := feedChanges()
	src := &memStore{changes: cs}
	_, doc := genAtom(t, src, export.FeedInfo{Title: "t", Limit: 200})
	if len(doc.Entries) != 150 {
		t.Errorf("%d entries, want 150 publications (k003 once)", len(doc.Entries))
	}
	_, doc = genAtom(t, &memStore{}, export.FeedInfo{Title: "empty", Updated: t0})
	if len(doc.Entries) != 0 || doc.Updated != t0UTC || doc.ID != "urn:harvest:feed" {
		t.Errorf("empty feed: %+v", doc)
	}
}

func TestJSONFeed(t *testing.T) {
	gen := func(src export.ChangeSource) map[string]any {
		var buf bytes.Buffer
		err := export.WriteJSONFeed(context.Background(), &buf, src, store.ChangeFilter{},
			export.FeedInfo{Title: "New", HomeURL: "https://h.example/", FeedURL: "https://h.example/feed.json", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		if err := json.Unmarshal(buf.Bytes(), &f); err != nil {
			t.Fatalf("JSON Feed does not parse: %v", err)
		}
		return f
	}
	f := gen(&memStore{changes: feedChanges()})
	if f["version"] != "https://jsonfeed.org/version/1.1" || f["title"] != "New" || f["feed_url"] != "https://h.example/feed.json" {
		t.Errorf("feed head: %v", f)
	}
	items := f["items"].([]any)
	if len(items) != 10 {
		t.Fatalf("%d items, want 10", len(items))
	}
	first, second := items[0].(map[string]any), items[1].(map[string]any)
	if first["url"] != "https://example.int/k003" || second["title"] != trouble {
		t.Errorf("order or escaping: first %v, second title %q", first["url"], second["title"])
	}
	if first["id"] != export.EntryID("iom", "https://example.int/k003") || first["content_text"] != "About 3" {
		t.Errorf("first item: %v", first)
	}
	h := first["_harvest"].(map[string]any)
	if h["kind"] != "restored" || h["change_id"] != 153.0 || h["year"] != 2025.0 {
		t.Errorf("_harvest: %v", h)
	}
	if a := first["authors"].([]any); a[0].(map[string]any)["name"] != "Ana Pérez" {
		t.Errorf("authors: %v", a)
	}
	for i := range items {
		it := items[i].(map[string]any)
		if i > 0 && strings.Compare(it["date_published"].(string), items[i-1].(map[string]any)["date_published"].(string)) > 0 {
			t.Errorf("item %d newer than item %d", i, i-1)
		}
	}
	f2 := gen(&memStore{changes: feedChanges()})
	if items2 := f2["items"].([]any); items2[5].(map[string]any)["id"] != items[5].(map[string]any)["id"] {
		t.Error("ids differ between two generations")
	}
}

// countingSource counts the changes a ChangeSource yields.
type countingSource struct {
	src     export.ChangeSource
	yielded int
}

func (c *countingSource) EachChange(ctx context.Context, f store.ChangeFilter, fn func(*store.Change) error) error {
	return c.src.EachChange(ctx, f, func(ch *store.Change) error {
		c.yielded++
		return fn(ch)
	})
}

// TestFeedReadsOnlyTheNewestChanges: over a real store, a feed of 100
// entries reads the newest 100 added or restored changes, not the whole
// history, and a publication added and later restored within them
// appears once, as its restoration.
func TestFeedReadsOnlyTheNewestChanges(t *testing.T) {
	ctx := context.Background()
	clock := t0
	st := openStore(t, func() time.Time { return clock })
	var recs []record.Record
	for i := range 150 {
		key := fmt.Sprintf("https://example.int/k%03d", i)
		recs = append(recs, record.Record{Key: key, URL: key, Title: fmt.Sprintf("Publication %d", i)})
	}
	apply := func(rs []record.Record) *store.RunResult {
		t.Helper()
		clock = clock.Add(time.Hour)
		res, err := st.ApplyRun(ctx, store.RunInput{Source: "iom", Status: store.StatusComplete, Records: rs,
			Guards: seeds.Guards{MissingRuns: 1, MaxRemovedShare: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	apply(recs)
	if res := apply(recs[:149]); res.Run.Removed != 1 {
		t.Fatalf("run 2 removed %d, want 1", res.Run.Removed)
	}
	if res := apply(recs); res.Run.Restored != 1 {
		t.Fatalf("run 3 restored %d, want 1", res.Run.Restored)
	}

	src := &countingSource{src: st}
	_, doc := genAtom(t, src, export.FeedInfo{Title: "t", Limit: 100})
	if src.yielded != 100 {
		t.Errorf("the feed read %d changes, want the newest 100", src.yielded)
	}
	// The newest 100 added/restored changes: k051..k149 added, k149
	// restored; k149 once.
	if len(doc.Entries) != 99 {
		t.Fatalf("%d entries, want 99", len(doc.Entries))
	}
	if doc.Entries[0].Title != "Publication 149" || doc.Entries[1].Title != "Publication 148" || doc.Entries[98].Title != "Publication 51" {
		t.Errorf("entries: first %q, second %q, last %q", doc.Entries[0].Title, doc.Entries[1].Title, doc.Entries[98].Title)
	}
	seen := map[string]bool{}
	for _, e := range doc.Entries {
		if seen[e.ID] {
			t.Errorf("entry %s (%s) twice", e.ID, e.Title)
		}
		seen[e.ID] = true
	}
}
