package export

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/harvest-dev/harvest/store"
)

// FeedFiles names the feed files WriteFeedFiles keeps in an output
// directory: OUT/<source>/feed.{atom,json} for one source and
// OUT/feed.{atom,json} for all sources.
var FeedFiles = []string{"feed.atom", "feed.json"}

// HaveFeedFiles tells whether every feed file WriteFeedFiles keeps for
// source is in outDir.
func HaveFeedFiles(outDir, source string) bool {
	if checkPathPart(source) != nil {
		return false
	}
	for _, dir := range []string{filepath.Join(outDir, source), outDir} {
		for _, name := range FeedFiles {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || !fi.Mode().IsRegular() {
				return false
			}
		}
	}
	return true
}

// WriteFeedFiles refreshes the feeds of newly added publications after a
// run of source: OUT/<source>/feed.atom and feed.json, and the feeds of
// all sources OUT/feed.atom and feed.json. Each file is written to a
// temporary name and renamed, so a reader never sees half a feed. The
// refresh holds the lock on outDir's feeds (OUT/.feeds.lock) from its
// first read of src to its last write, so that runs finishing together
// in one process or several leave the newest feeds, whatever the order.
func WriteFeedFiles(ctx context.Context, outDir, source string, src ChangeSource, now time.Time) error {
	if err := checkPathPart(source); err != nil {
		return fmt.Errorf("feed files: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(outDir, source), 0o755); err != nil {
		return fmt.Errorf("feed files: %w", err)
	}
	unlock, err := lockFeeds(ctx, outDir)
	if err != nil {
		return fmt.Errorf("feed files: %w", err)
	}
	defer unlock()
	kinds := []string{store.KindAdded, store.KindRestored}
	type feed struct {
		dir   string
		info  FeedInfo
		scope []string
	}
	feeds := []feed{
		{filepath.Join(outDir, source), FeedInfo{Title: "harvest: new publications in " + source, ID: "urn:harvest:feed:" + source, Updated: now}, []string{source}},
		{outDir, FeedInfo{Title: "harvest: new publications", ID: "urn:harvest:feed:all", Updated: now}, nil},
	}
	for _, fd := range feeds {
		f := store.ChangeFilter{Sources: fd.scope, Kinds: kinds}
		if err := AtomicWriteFile(filepath.Join(fd.dir, "feed.atom"), func(w io.Writer) error {
			return WriteAtom(ctx, w, src, f, fd.info)
		}); err != nil {
			return fmt.Errorf("feed files: %w", err)
		}
		if err := AtomicWriteFile(filepath.Join(fd.dir, "feed.json"), func(w io.Writer) error {
			return WriteJSONFeed(ctx, w, src, f, fd.info)
		}); err != nil {
			return fmt.Errorf("feed files: %w", err)
		}
	}
	return nil
}
