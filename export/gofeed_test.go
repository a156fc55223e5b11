package export_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// The feeds are read here by a second real consumer besides feedparser
// (consumers_test.go): gofeed, a Go feed parser that reads Atom and, unlike
// Debian's feedparser, JSON Feed too. The checks are what a feed reader's
// user sees: the feed is recognised and read without error, its title,
// the entries newest first with their titles exactly as written, links,
// ids that stay the same from one generation to the next, and times.

// gofeedFormats are the feed formats harvest writes and what gofeed must
// take each for.
var gofeedFormats = []struct {
	file     string // file name, as WriteFeedFiles names it
	feedType string // gofeed's Feed.FeedType
	version  string // gofeed's Feed.FeedVersion
}{
	{"feed.atom", "atom", "1.0"},
	{"feed.json", "json", "https://jsonfeed.org/version/1.1"},
}

// gofeedParse reads the feed at path with gofeed, failing the test when it
// does not detect the format of file or reports any error.
func gofeedParse(t *testing.T, path string) *gofeed.Feed {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	feed, err := gofeed.NewParser().Parse(f)
	if err != nil {
		t.Fatalf("gofeed cannot read %s: %v", path, err)
	}
	for _, ft := range gofeedFormats {
		if filepath.Base(path) == ft.file && (feed.FeedType != ft.feedType || feed.FeedVersion != ft.version) {
			t.Errorf("%s: gofeed read it as %q version %q, want %q version %q", path, feed.FeedType, feed.FeedVersion, ft.feedType, ft.version)
		}
	}
	return feed
}

// writeFeedPair writes dir/feed.atom and dir/feed.json of the publications
// added or restored in src; each feed's FeedURL is info.FeedURL + its file
// name.
func writeFeedPair(t *testing.T, dir string, src export.ChangeSource, info export.FeedInfo) {
	t.Helper()
	f := store.ChangeFilter{Kinds: []string{store.KindAdded, store.KindRestored}}
	for _, ft := range gofeedFormats {
		fi := info
		fi.FeedURL = info.FeedURL + ft.file
		err := export.AtomicWriteFile(filepath.Join(dir, ft.file), func(w io.Writer) error {
			if ft.feedType == "atom" {
				return export.WriteAtom(context.Background(), w, src, f, fi)
			}
			return export.WriteJSONFeed(context.Background(), w, src, f, fi)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// gofeedWant is one entry as a feed reader should show it.
type gofeedWant struct {
	title, link, id string
	at              time.Time // published and (Atom) updated
}

// checkGofeedItems checks the entries gofeed read against want, in order.
func checkGofeedItems(t *testing.T, name string, feed *gofeed.Feed, want []gofeedWant) {
	t.Helper()
	if len(feed.Items) != len(want) {
		var got []string
		for _, it := range feed.Items {
			got = append(got, it.Title)
		}
		t.Fatalf("%s: %d entries %q, want %d", name, len(feed.Items), got, len(want))
	}
	for i, w := range want {
		it := feed.Items[i]
		if it.Title != w.title {
			t.Errorf("%s: entry %d title %q, want %q", name, i, it.Title, w.title)
		}
		if it.Link != w.link || !slices.Equal(it.Links, []string{w.link}) {
			t.Errorf("%s: entry %d (%s) link %q links %q, want %q", name, i, w.title, it.Link, it.Links, w.link)
		}
		if it.GUID != w.id || !uuidURN.MatchString(it.GUID) {
			t.Errorf("%s: entry %d (%s) id %q, want %q", name, i, w.title, it.GUID, w.id)
		}
		wantAt := w.at.UTC().Truncate(time.Second).Format(time.RFC3339)
		if it.PublishedParsed == nil || !it.PublishedParsed.Equal(w.at.Truncate(time.Second)) {
			t.Errorf("%s: entry %d (%s) published %q (parsed %v), want %s", name, i, w.title, it.Published, it.PublishedParsed, wantAt)
		}
		// Both formats carry the entry's updated time (Atom's updated,
		// JSON Feed's date_modified): a reader refreshing by it sees it.
		if it.UpdatedParsed == nil || !it.UpdatedParsed.Equal(w.at.Truncate(time.Second)) {
			t.Errorf("%s: entry %d (%s) updated %q (parsed %v), want %s", name, i, w.title, it.Updated, it.UpdatedParsed, wantAt)
		}
		if i > 0 && it.PublishedParsed != nil && feed.Items[i-1].PublishedParsed != nil && it.PublishedParsed.After(*feed.Items[i-1].PublishedParsed) {
			t.Errorf("%s: entry %d (%s) is newer than entry %d", name, i, w.title, i-1)
		}
	}
	seen := map[string]bool{}
	for i, it := range feed.Items {
		if seen[it.GUID] {
			t.Errorf("%s: entry %d id %s repeated", name, i, it.GUID)
		}
		seen[it.GUID] = true
	}
	// The feed's own time is its newest entry's: Atom's <updated>, and
	// gofeed's reading of a JSON Feed, whose head has no time, mirrors
	// the first item's.
	if len(want) > 0 {
		newest := want[0].at.Truncate(time.Second)
		got := feed.UpdatedParsed
		if got == nil || !got.Equal(newest) {
			t.Errorf("%s: feed time %v, want the newest entry's %s", name, got, newest.UTC().Format(time.RFC3339))
		}
	}
}

// gofeedFeedTitle has what breaks naive feed writers: markup characters,
// quotes, accents and right-to-left text.
const gofeedFeedTitle = `Nouveautés & <new> "iom" 'papers' — עברית العربية`

// TestGofeedReadsFeeds writes the Atom feed and the JSON Feed of a real
// store, then of the same store after a run added a publication, and reads
// all four documents with gofeed as a feed reader would.
func TestGofeedReadsFeeds(t *testing.T) {
	ctx := context.Background()
	st := consumerStore(t)
	info := export.FeedInfo{
		Title:   gofeedFeedTitle,
		ID:      "tag:harvest,2026:iom",
		HomeURL: "https://harvest.example/?source=iom&lang=fr",
		FeedURL: "https://harvest.example/feeds/iom?x=1&f=",
		Updated: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}

	// What the store holds: the change time of each publication.
	at := map[string]time.Time{}
	err := st.EachChange(ctx, store.ChangeFilter{}, func(c *store.Change) error {
		at[c.Key] = c.At
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// consumerStore adds a, b, c, d in one run, all at one time (its clock
	// stands still, as it does for the runs below): newest first is the
	// reverse of the order they were added in, d first. Entries with
	// distinct times are TestGofeedReadsFeedFiles's.
	keys := []string{"https://ex.int/d", "https://ex.int/c", "https://ex.int/b", "https://ex.int/a"}
	var want1 []gofeedWant
	for i, k := range keys {
		if at[k].IsZero() {
			t.Fatalf("the store has no change of %s", k)
		}
		want1 = append(want1, gofeedWant{title: consumerTitles[len(keys)-1-i], link: k, id: export.EntryID("iom", k), at: at[k]})
	}

	dir1 := t.TempDir()
	writeFeedPair(t, dir1, st, info)
	first := map[string]*gofeed.Feed{}
	for _, ft := range gofeedFormats {
		feed := gofeedParse(t, filepath.Join(dir1, ft.file))
		first[ft.file] = feed
		if feed.Title != gofeedFeedTitle {
			t.Errorf("%s: feed title %q, want %q", ft.file, feed.Title, gofeedFeedTitle)
		}
		if feed.Link != info.HomeURL || feed.FeedLink != info.FeedURL+ft.file {
			t.Errorf("%s: feed link %q, feed link %q; want %q and %q", ft.file, feed.Link, feed.FeedLink, info.HomeURL, info.FeedURL+ft.file)
		}
		if len(feed.Authors) != 1 || feed.Authors[0].Name != "harvest" {
			t.Errorf("%s: feed authors %v", ft.file, feed.Authors)
		}
		checkGofeedItems(t, ft.file, feed, want1)
	}
	// gofeed (like feedparser) gives an Atom title of type "html" as the
	// same string as one of type "text", but a reader renders it as HTML
	// (the <b> of trouble in bold): every title must say it is text.
	raw, err := os.ReadFile(filepath.Join(dir1, "feed.atom"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(raw, []byte(`<title type="text">`)); n != 1+len(want1) {
		t.Errorf("feed.atom: %d titles of type text, want %d (the feed's and each entry's)", n, 1+len(want1))
	}

	// Another run adds a publication and sees the others unchanged.
	newRec := record.Record{Key: "https://ex.int/e?id=5&lang=ar", URL: "https://ex.int/e?id=5&lang=ar",
		Title: `تقرير «الهجرة» & <i>'sí'</i> — Ærø "naïve"`, Year: 2026}
	newRec.Normalize()
	res, err := st.ApplyRun(ctx, store.RunInput{Source: "iom", Status: store.StatusComplete, Records: []record.Record{newRec}, SeenKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Kind != store.KindAdded {
		t.Fatalf("the second run made %+v, want one addition", res.Changes)
	}
	want2 := append([]gofeedWant{{title: newRec.Title, link: newRec.URL, id: export.EntryID("iom", newRec.Key), at: res.Changes[0].At}}, want1...)

	dir2 := t.TempDir()
	writeFeedPair(t, dir2, st, info)
	for _, ft := range gofeedFormats {
		feed := gofeedParse(t, filepath.Join(dir2, ft.file))
		checkGofeedItems(t, ft.file+" after the second run", feed, want2)
		// What a reader keeps between two fetches: the ids of the
		// entries it has shown. Each must come back, in the same order,
		// after the new entry.
		old := first[ft.file].Items
		if len(feed.Items) != len(old)+1 {
			continue // reported above
		}
		for i, it := range old {
			if got := feed.Items[i+1]; got.GUID != it.GUID || got.Title != it.Title {
				t.Errorf("%s: entry %q had id %s, now %q has %s", ft.file, it.Title, it.GUID, got.Title, got.GUID)
			}
			if feed.Items[0].GUID == it.GUID {
				t.Errorf("%s: the new entry has the id %s of %q", ft.file, it.GUID, it.Title)
			}
		}
	}

	// A run misses the new publication, which is removed, and the next
	// one lists it again: restored, it is one entry again, under the id
	// it had, first, and the feed reads as it did before.
	apply := func(recs []record.Record, seen []string) *store.RunResult {
		t.Helper()
		res, err := st.ApplyRun(ctx, store.RunInput{Source: "iom", Status: store.StatusComplete, Records: recs, SeenKeys: seen,
			Guards: seeds.Guards{MissingRuns: 1, MaxRemovedShare: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := apply(nil, keys); res.Run.Removed != 1 {
		t.Fatalf("the third run removed %d, want 1", res.Run.Removed)
	}
	res = apply([]record.Record{newRec}, keys)
	if len(res.Changes) != 1 || res.Changes[0].Kind != store.KindRestored {
		t.Fatalf("the fourth run made %+v, want one restoration", res.Changes)
	}
	want2[0].at = res.Changes[0].At
	dir3 := t.TempDir()
	writeFeedPair(t, dir3, st, info)
	for _, ft := range gofeedFormats {
		checkGofeedItems(t, ft.file+" after a restoration", gofeedParse(t, filepath.Join(dir3, ft.file)), want2)
	}

	// Both formats show a publication under the same id.
	fromAtom, fromJSON := first["feed.atom"], first["feed.json"]
	for i := range min(len(fromAtom.Items), len(fromJSON.Items)) {
		if fromAtom.Items[i].GUID != fromJSON.Items[i].GUID {
			t.Errorf("entry %d: Atom id %s, JSON Feed id %s", i, fromAtom.Items[i].GUID, fromJSON.Items[i].GUID)
		}
	}
}

// TestGofeedReadsFeedFiles reads with gofeed the four files WriteFeedFiles
// keeps, over 150 publications added a minute apart and one of them
// removed and restored later: the newest 100, newest first, each with its
// own time, title, author and category.
func TestGofeedReadsFeedFiles(t *testing.T) {
	dir := t.TempDir()
	src := &memStore{changes: feedChanges()}
	if err := export.WriteFeedFiles(context.Background(), dir, "iom", src, t0); err != nil {
		t.Fatal(err)
	}
	// Newest first: k003 restored, then k150 (titled trouble) to k052.
	k3 := "https://example.int/k003"
	want := []gofeedWant{{title: "Publication 3", link: k3, id: export.EntryID("iom", k3), at: t0.Add(400 * time.Minute)}}
	for i := 150; i > 51; i-- {
		key := fmt.Sprintf("https://example.int/k%03d", i)
		title := fmt.Sprintf("Publication %d", i)
		if i == 150 {
			title = trouble
		}
		want = append(want, gofeedWant{title: title, link: key, id: export.EntryID("iom", key), at: t0.Add(time.Duration(i) * time.Minute)})
	}
	for _, sub := range []struct{ dir, title string }{
		{filepath.Join(dir, "iom"), "harvest: new publications in iom"},
		{dir, "harvest: new publications"},
	} {
		for _, ft := range gofeedFormats {
			path := filepath.Join(sub.dir, ft.file)
			feed := gofeedParse(t, path)
			if feed.Title != sub.title {
				t.Errorf("%s: feed title %q, want %q", path, feed.Title, sub.title)
			}
			checkGofeedItems(t, path, feed, want)
			for i, it := range feed.Items {
				if len(it.Authors) != 1 || it.Authors[0].Name != "Ana Pérez" || !slices.Contains(it.Categories, "Trafficking") {
					t.Errorf("%s: entry %d authors %v categories %q", path, i, it.Authors, it.Categories)
					break
				}
			}
		}
	}
}
