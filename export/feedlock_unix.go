//go:build unix && !aix

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
//
// Where the lock cannot be had at all (a lock file another user made and
// this one may not open, a file system without flock such as NFS with no
// lock service), the refresh goes on without it, as before there was a
// lock: feeds that may lag a run are better than no feeds.
func lockFeeds(ctx context.Context, outDir string) (unlock func(), err error) {
	path := filepath.Join(outDir, feedsLockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		// flock does not need write access on a local file system.
		if f, err = os.Open(path); err != nil {
			return func() {}, ctx.Err()
		}
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
			f.Close() // ENOLCK, EOPNOTSUPP, ...: no lock to be had here
			return func() {}, ctx.Err()
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
