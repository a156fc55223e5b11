//go:build unix

package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// feedsLockName is the lock file of an output directory's feeds.
const feedsLockName = ".feeds.lock"

// lockFeeds takes the lock on the feeds of outDir, waiting for whoever
// holds it (a run of another source, in this process or another: each
// opens the lock file itself, and flock locks an open file, not a
// process) until ctx is done. unlock releases it.
//
// Every refresh reads the store and writes the files under the lock, so
// that a refresh from an older read never lands after one from a newer
// read: without it, two runs finishing together could leave the feed of
// all sources without the entries of the one that wrote first.
func lockFeeds(ctx context.Context, outDir string) (unlock func(), err error) {
	path := filepath.Join(outDir, feedsLockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock feeds: %w", err)
	}
	fd := int(f.Fd())
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() {
				unix.Flock(fd, unix.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock feeds %s: %w", path, err)
		}
		wait.Reset(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock feeds %s: %w", path, ctx.Err())
		case <-wait.C:
		}
	}
}
