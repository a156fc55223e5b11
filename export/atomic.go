package export

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/harvest-dev/harvest/store"
)

// AtomicWriteFile writes path so that a reader never sees half a file:
// write fills a temporary file in the same directory (named
// ".NAME.*.tmp"), which is flushed, fsynced, made mode 0644 and renamed
// over path; the directory is then fsynced. When write or any step fails,
// the temporary file is removed and path is left as it was.
func AtomicWriteFile(path string, write func(io.Writer) error) error {
	_, err := atomicWrite(path, false, true, write)
	return err
}

// fileInfo is what atomicWrite learnt of the file it wrote.
type fileInfo struct {
	bytes  int64
	sha256 string // when asked for
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// atomicWrite is AtomicWriteFile that counts the bytes and, with sum,
// takes their SHA-256 (a manifest's checksums) on the way. Without
// dirSync the rename is not made durable: the caller syncs the directory
// once after a group of files (syncDir), before the file that vouches for
// them (a manifest).
func atomicWrite(path string, sum, dirSync bool, write func(io.Writer) error) (fi fileInfo, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fi, fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var cnt countWriter
	var h hash.Hash
	dst := io.MultiWriter(tmp, &cnt)
	if sum {
		h = sha256.New()
		dst = io.MultiWriter(tmp, h, &cnt)
	}
	bw := bufio.NewWriterSize(dst, 64<<10)
	if err = write(bw); err != nil {
		return fi, fmt.Errorf("write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fi, fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fi, fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fi, fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fi, fmt.Errorf("write %s: close: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fi, fmt.Errorf("write %s: rename into place: %w", path, err)
	}
	if dirSync {
		syncDir(dir)
	}
	fi.bytes = cnt.n
	if sum {
		fi.sha256 = hex.EncodeToString(h.Sum(nil))
	}
	return fi, nil
}

// syncDir makes the renames into dir durable: a rename is only once the
// directory entry is on disk. Failing to sync a directory (some file
// systems refuse) leaves complete files, so it is not an error.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ReadCursor reads a consumer's cursor file: the id of the newest change
// it has exported, as a decimal number (surrounding white space allowed).
// A missing file is cursor 0, meaning "nothing exported yet".
func ReadCursor(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor %s: %w", path, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("read cursor %s: %q is not a change id (a non-negative integer)", path, s)
	}
	return id, nil
}

// WriteCursor writes id to the cursor file at path atomically, as a
// decimal number and a newline.
func WriteCursor(path string, id int64) error {
	if err := AtomicWriteFile(path, func(w io.Writer) error {
		_, err := io.WriteString(w, strconv.FormatInt(id, 10)+"\n")
		return err
	}); err != nil {
		return fmt.Errorf("write cursor: %w", err)
	}
	return nil
}

// maxIDSource passes changes through and remembers the highest id seen.
type maxIDSource struct {
	src ChangeSource
	max int64
}

func (m *maxIDSource) EachChange(ctx context.Context, f store.ChangeFilter, fn func(*store.Change) error) error {
	return m.src.EachChange(ctx, f, func(c *store.Change) error {
		if err := fn(c); err != nil {
			return err
		}
		if c.ID > m.max {
			m.max = c.ID
		}
		return nil
	})
}

// ExportSinceCursor exports the changes newer than a consumer's cursor and
// then advances the cursor, in this order:
//
//  1. read the cursor from cursorPath (missing: 0);
//  2. write the changes src yields for f with id > cursor (f.AfterID is
//     raised to the cursor when lower) to outPath in o.Format, atomically;
//  3. only once outPath is in place, write the newest exported change id
//     to cursorPath, atomically.
//
// A crash or error before step 3 leaves the cursor where it was, so the
// next call exports the same changes again: a consumer may see a change
// twice, never miss one. With nothing new, outPath still gets an empty
// export (a CSV header, an empty JSON document or an empty file) and the
// cursor is left unchanged. It returns how many changes were exported and
// the cursor now in force.
func ExportSinceCursor(ctx context.Context, outPath, cursorPath string, src ChangeSource, f store.ChangeFilter, o Options) (n int, newCursor int64, err error) {
	cur, err := ReadCursor(cursorPath)
	if err != nil {
		return 0, 0, err
	}
	if f.AfterID < cur {
		f.AfterID = cur
	}
	m := &maxIDSource{src: src}
	err = AtomicWriteFile(outPath, func(w io.Writer) error {
		var err error
		n, err = WriteChanges(ctx, w, m, f, o)
		return err
	})
	if err != nil {
		return 0, cur, fmt.Errorf("export changes after cursor %d: %w", cur, err)
	}
	if n == 0 || m.max <= cur {
		return n, cur, nil
	}
	if err := WriteCursor(cursorPath, m.max); err != nil {
		return n, cur, fmt.Errorf("changes exported to %s, but the cursor was not advanced (the next export repeats them): %w", outPath, err)
	}
	return n, m.max, nil
}
