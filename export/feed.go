package export

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/harvest-dev/harvest/store"
)

// DefaultFeedLimit is how many entries a feed holds when FeedInfo.Limit
// is not set.
const DefaultFeedLimit = 100

// FeedInfo describes a feed of newly added publications.
type FeedInfo struct {
	// Title of the feed, e.g. "harvest: new publications".
	Title string
	// ID is the feed's permanent identifier (an IRI); FeedURL, then
	// HomeURL, then "urn:harvest:feed" stand in when it is empty.
	ID string
	// HomeURL is the web page the feed belongs to (optional).
	HomeURL string
	// FeedURL is where the feed itself is served (optional).
	FeedURL string
	// Updated is the feed's time when it has no entries; with entries,
	// the newest entry's time is used, so that generating the same feed
	// twice gives the same document.
	Updated time.Time
	// Limit is how many entries, newest first, the feed keeps
	// (DefaultFeedLimit when zero or less).
	Limit int
}

// EntryID returns the permanent id of the feed entry of one publication:
// a name-based (version 5) UUID URN of "harvest:SOURCE/KEY". It is the
// same in every generation of every feed, and the same when a removed
// publication is restored, so a feed reader never shows one publication
// twice.
func EntryID(source, key string) string {
	// RFC 9562 namespace for URLs.
	ns := [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte("harvest:" + source + "/" + key))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	x := hex.EncodeToString(u[:])
	return "urn:uuid:" + x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// feedEntries asks src for the newest limit changes of f (f.Last), in id
// order, and keeps the newest limit added or restored ones in a ring
// buffer (a source that ignores f.Last still gives the right entries); it
// returns them newest first, one per publication (the newest wins).
func feedEntries(ctx context.Context, src ChangeSource, f store.ChangeFilter, limit int) ([]store.Change, error) {
	if limit <= 0 {
		limit = DefaultFeedLimit
	}
	if len(f.Kinds) == 0 {
		f.Kinds = []string{store.KindAdded, store.KindRestored}
	}
	if f.Last <= 0 || f.Last > limit {
		f.Last = limit
	}
	ring := make([]store.Change, 0, limit)
	next := 0 // where the next change goes once the ring is full
	err := src.EachChange(ctx, f, func(c *store.Change) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if c.Kind != store.KindAdded && c.Kind != store.KindRestored {
			return nil
		}
		// The source may reuse what c points to: keep a copy.
		cp := *c
		cp.Fields = nil
		cp.Record.Countries = slices.Clone(c.Record.Countries)
		cp.Record.Regions = slices.Clone(c.Record.Regions)
		cp.Record.Authors = slices.Clone(c.Record.Authors)
		cp.Record.Categories = slices.Clone(c.Record.Categories)
		cp.Record.Extra = nil
		if len(ring) < limit {
			ring = append(ring, cp)
		} else {
			ring[next] = cp
			next = (next + 1) % limit
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("feed: list changes: %w", err)
	}
	// Oldest is at next once the ring has wrapped; walk it backwards.
	out := make([]store.Change, 0, len(ring))
	seen := make(map[string]bool, len(ring))
	for i := range ring {
		c := ring[(next-1-i+2*len(ring))%len(ring)]
		id := EntryID(c.Source, c.Key)
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, c)
	}
	return out, nil
}

func (fi FeedInfo) feedID() string {
	for _, s := range []string{fi.ID, fi.FeedURL, fi.HomeURL} {
		if s != "" {
			return s
		}
	}
	return "urn:harvest:feed"
}

func feedUpdated(fi FeedInfo, entries []store.Change) time.Time {
	if len(entries) > 0 {
		return entries[0].At
	}
	return fi.Updated
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Href string `xml:"href,attr"`
	Type string `xml:"type,attr,omitempty"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomCategory struct {
	Term   string `xml:"term,attr"`
	Scheme string `xml:"scheme,attr,omitempty"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      atomText       `xml:"title"`
	Updated    string         `xml:"updated"`
	Published  string         `xml:"published"`
	Links      []atomLink     `xml:"link"`
	Authors    []atomPerson   `xml:"author"`
	Categories []atomCategory `xml:"category"`
	Summary    *atomText      `xml:"summary"`
	Content    *atomText      `xml:"content"`
}

type atomFeed struct {
	XMLName   xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID        string      `xml:"id"`
	Title     atomText    `xml:"title"`
	Updated   string      `xml:"updated"`
	Links     []atomLink  `xml:"link"`
	Author    atomPerson  `xml:"author"`
	Generator string      `xml:"generator"`
	Entries   []atomEntry `xml:"entry"`
}

// CategoryScheme and CountryScheme are the Atom category schemes of a
// publication's categories and countries.
const (
	CategoryScheme = "urn:harvest:category"
	CountryScheme  = "urn:harvest:country"
)

// WriteAtom writes an Atom 1.0 feed (RFC 4287) of the publications added
// or restored among the changes src yields for f (other kinds are
// skipped; an empty f.Kinds selects added and restored), newest first, at
// most feed.Limit entries. Entry ids come from EntryID; text is escaped by
// encoding/xml.
func WriteAtom(ctx context.Context, w io.Writer, src ChangeSource, f store.ChangeFilter, feed FeedInfo) error {
	entries, err := feedEntries(ctx, src, f, feed.Limit)
	if err != nil {
		return fmt.Errorf("atom: %w", err)
	}
	af := atomFeed{
		ID:        feed.feedID(),
		Title:     atomText{Type: "text", Body: feed.Title},
		Updated:   atomTime(feedUpdated(feed, entries)),
		Author:    atomPerson{Name: "harvest"},
		Generator: "harvest",
	}
	if feed.FeedURL != "" {
		af.Links = append(af.Links, atomLink{Rel: "self", Href: feed.FeedURL, Type: "application/atom+xml"})
	}
	if feed.HomeURL != "" {
		af.Links = append(af.Links, atomLink{Rel: "alternate", Href: feed.HomeURL})
	}
	for i := range entries {
		c := &entries[i]
		r := &c.Record
		e := atomEntry{
			ID:        EntryID(c.Source, c.Key),
			Title:     atomText{Type: "text", Body: r.Title},
			Updated:   atomTime(c.At),
			Published: atomTime(c.At),
		}
		if e.Title.Body == "" {
			e.Title.Body = c.Key
		}
		if r.URL != "" {
			e.Links = append(e.Links, atomLink{Rel: "alternate", Href: r.URL})
		} else {
			// An entry with no alternate link must have content.
			e.Content = &atomText{Type: "text", Body: firstNonEmpty(r.Summary, r.Title, c.Key)}
		}
		for _, a := range r.Authors {
			e.Authors = append(e.Authors, atomPerson{Name: a})
		}
		for _, cat := range r.Categories {
			e.Categories = append(e.Categories, atomCategory{Term: cat, Scheme: CategoryScheme})
		}
		for _, ctry := range r.Countries {
			e.Categories = append(e.Categories, atomCategory{Term: ctry, Scheme: CountryScheme})
		}
		if r.Summary != "" {
			e.Summary = &atomText{Type: "text", Body: r.Summary}
		}
		af.Entries = append(af.Entries, e)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("atom: write: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(af); err != nil {
		return fmt.Errorf("atom: write: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("atom: write: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("atom: write: %w", err)
	}
	return nil
}

// atomTime formats a time for Atom and JSON Feed: RFC 3339, UTC.
func atomTime(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Format(time.RFC3339)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

type jsonFeedAuthor struct {
	Name string `json:"name"`
}

// jsonFeedHarvest is the "_harvest" extension object of an item.
type jsonFeedHarvest struct {
	Source    string   `json:"source"`
	Key       string   `json:"key"`
	Kind      string   `json:"kind"`
	ChangeID  int64    `json:"change_id"`
	Countries []string `json:"countries"`
	Regions   []string `json:"regions"`
	Year      *int     `json:"year"`
}

type jsonFeedItem struct {
	ID            string           `json:"id"`
	URL           string           `json:"url,omitempty"`
	Title         string           `json:"title"`
	ContentText   string           `json:"content_text"`
	Summary       string           `json:"summary,omitempty"`
	DatePublished string           `json:"date_published"`
	DateModified  string           `json:"date_modified"` // the Atom entry's updated
	Authors       []jsonFeedAuthor `json:"authors,omitempty"`
	Tags          []string         `json:"tags,omitempty"`
	Language      string           `json:"language,omitempty"`
	Harvest       jsonFeedHarvest  `json:"_harvest"`
}

type jsonFeed struct {
	Version     string           `json:"version"`
	Title       string           `json:"title"`
	HomePageURL string           `json:"home_page_url,omitempty"`
	FeedURL     string           `json:"feed_url,omitempty"`
	Authors     []jsonFeedAuthor `json:"authors"`
	Items       []jsonFeedItem   `json:"items"`
}

// WriteJSONFeed writes a JSON Feed 1.1 of the same entries as WriteAtom:
// added or restored publications, newest first, at most feed.Limit, with
// EntryID ids. Each item carries an "_harvest" extension object with the
// source, key, change kind and id, countries, regions and year.
func WriteJSONFeed(ctx context.Context, w io.Writer, src ChangeSource, f store.ChangeFilter, feed FeedInfo) error {
	entries, err := feedEntries(ctx, src, f, feed.Limit)
	if err != nil {
		return fmt.Errorf("json feed: %w", err)
	}
	jf := jsonFeed{
		Version:     "https://jsonfeed.org/version/1.1",
		Title:       feed.Title,
		HomePageURL: feed.HomeURL,
		FeedURL:     feed.FeedURL,
		Authors:     []jsonFeedAuthor{{Name: "harvest"}},
		Items:       make([]jsonFeedItem, 0, len(entries)),
	}
	for i := range entries {
		c := &entries[i]
		r := &c.Record
		it := jsonFeedItem{
			ID:            EntryID(c.Source, c.Key),
			URL:           r.URL,
			Title:         firstNonEmpty(r.Title, c.Key),
			ContentText:   firstNonEmpty(r.Summary, r.Title, c.Key),
			Summary:       r.Summary,
			DatePublished: atomTime(c.At),
			DateModified:  atomTime(c.At),
			Tags:          r.Categories,
			Language:      r.Language,
			Harvest: jsonFeedHarvest{
				Source: c.Source, Key: c.Key, Kind: c.Kind, ChangeID: c.ID,
				Countries: orEmpty(r.Countries), Regions: orEmpty(r.Regions),
			},
		}
		if r.Year != 0 {
			y := r.Year
			it.Harvest.Year = &y
		}
		for _, a := range r.Authors {
			it.Authors = append(it.Authors, jsonFeedAuthor{Name: a})
		}
		jf.Items = append(jf.Items, it)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(jf); err != nil {
		return fmt.Errorf("json feed: write: %w", err)
	}
	return nil
}
