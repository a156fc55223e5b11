package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/harvest-dev/harvest/store"
)

// Manifest describes the files of one run, as manifest.json holds it.
type Manifest struct {
	SchemaVersion int             `json:"schema_version"`
	RunID         int64           `json:"run_id"`
	Source        string          `json:"source"`
	Status        store.Status    `json:"status"`
	Reason        string          `json:"reason"`
	StartedAt     time.Time       `json:"started_at"`
	FinishedAt    time.Time       `json:"finished_at"`
	GeneratedAt   time.Time       `json:"generated_at"`
	Counts        store.RunCounts `json:"counts"`
	Files         []FileEntry     `json:"files"`
}

// FileEntry is one file of a run directory: its name, data rows (CSV:
// without the header; JSON Lines: lines), size in bytes and SHA-256 (hex).
type FileEntry struct {
	Name   string `json:"name"`
	Rows   int    `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// runFileGroups are the per-run file stems and the change kinds each
// holds. Restored records go with added ones: for a consumer both are
// publications newly (again) on the site; the kind column tells them
// apart.
var runFileGroups = []struct {
	stem  string
	kinds []string
}{
	{"added", []string{store.KindAdded, store.KindRestored}},
	{"updated", []string{store.KindUpdated}},
	{"removed", []string{store.KindRemoved}},
}

// ManifestName is the name of the manifest file in a run directory.
const ManifestName = "manifest.json"

// LatestDir is the name of the directory, beside the run directories of a
// source, that holds a copy of the newest run's files.
const LatestDir = "latest"

// RunDir returns the directory WriteRunFiles writes a run's files to:
// OUT/<source>/<run-id>.
func RunDir(outDir, source string, runID int64) string {
	return filepath.Join(outDir, source, strconv.FormatInt(runID, 10))
}

// WriteRunFiles writes the changes of one run to OUT/<source>/<run-id>/:
// added.csv, added.jsonl (added and restored records), updated.csv,
// updated.jsonl, removed.csv, removed.jsonl, then manifest.json. Every
// file is written even when empty (a CSV then holds only its header, a
// JSON Lines file nothing), so a consumer can tell "nothing removed" from
// "files missing". Each file is written atomically (AtomicWriteFile) and
// the manifest last, so a manifest present means the files it lists are
// complete. The CSV files use the change columns (ChangeColumns with
// o.ExtraColumns) and honour o.Excel; o.Format is ignored.
//
// Then OUT/<source>/latest/ is refreshed with a copy of the same files,
// each replaced atomically and the manifest last; it is left alone when
// it already holds a newer run. The returned manifest is the run's.
func WriteRunFiles(ctx context.Context, outDir string, res *store.RunResult, o Options) (*Manifest, error) {
	return WriteRunFilesFrom(ctx, outDir, res.Run, changeSlice(res.Changes), o)
}

// WriteRunFilesFrom is WriteRunFiles with the run's changes read from src
// (a *store.Store: those with run id run.ID), for a run whose changes are
// not held in memory.
func WriteRunFilesFrom(ctx context.Context, outDir string, run store.Run, src ChangeSource, o Options) (*Manifest, error) {
	if err := checkPathPart(run.Source); err != nil {
		return nil, fmt.Errorf("run files of run %d: source: %w", run.ID, err)
	}
	dir := RunDir(outDir, run.Source, run.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run files of source %s run %d: %w", run.Source, run.ID, err)
	}
	m := &Manifest{
		SchemaVersion: SchemaVersion,
		RunID:         run.ID,
		Source:        run.Source,
		Status:        run.Status,
		Reason:        run.Reason,
		StartedAt:     utcSecond(run.StartedAt),
		FinishedAt:    utcSecond(run.FinishedAt),
		GeneratedAt:   utcSecond(o.now()),
		Counts:        run.RunCounts,
		Files:         []FileEntry{},
	}
	csvOpts := Options{Format: FormatCSV, Excel: o.Excel, ExtraColumns: o.ExtraColumns, Now: o.Now}
	jsonlOpts := Options{Format: FormatJSONL, Now: o.Now}
	for _, g := range runFileGroups {
		f := store.ChangeFilter{Kinds: g.kinds, RunID: run.ID}
		for _, fo := range []Options{csvOpts, jsonlOpts} {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("run files of source %s run %d: %w", run.Source, run.ID, err)
			}
			name := g.stem + "." + fo.Format
			var rows int
			fi, err := atomicWrite(filepath.Join(dir, name), true, false, func(w io.Writer) error {
				var err error
				rows, err = WriteChanges(ctx, w, src, f, fo)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("run files of source %s run %d: %w", run.Source, run.ID, err)
			}
			m.Files = append(m.Files, FileEntry{Name: name, Rows: rows, Bytes: fi.bytes, SHA256: fi.sha256})
		}
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("run files of source %s run %d: manifest: %w", run.Source, run.ID, err)
	}
	manifest = append(manifest, '\n')
	syncDir(dir) // the files are in place before the manifest vouches for them
	if err := writeBytes(filepath.Join(dir, ManifestName), manifest); err != nil {
		return nil, fmt.Errorf("run files of source %s run %d: %w", run.Source, run.ID, err)
	}
	if err := refreshLatest(ctx, filepath.Join(outDir, run.Source, LatestDir), dir, m); err != nil {
		return m, fmt.Errorf("run files of source %s run %d written to %s, but %s/ was not refreshed: %w",
			run.Source, run.ID, dir, LatestDir, err)
	}
	return m, nil
}

// refreshLatest puts the run's files into latest/, manifest last,
// unless latest/ holds a newer run. Each is a hard link to the run's own
// file (already synced), renamed over the old one; where the file system
// has no hard links, a copy.
func refreshLatest(ctx context.Context, latest, runDir string, m *Manifest) error {
	if err := os.MkdirAll(latest, 0o755); err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(latest, ManifestName)); err == nil {
		var old struct {
			RunID int64 `json:"run_id"`
		}
		if json.Unmarshal(b, &old) == nil && old.RunID > m.RunID {
			return nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, fe := range m.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := linkInto(filepath.Join(latest, fe.Name), filepath.Join(runDir, fe.Name)); err != nil {
			return err
		}
	}
	syncDir(latest) // the files are in place before the manifest
	if err := linkInto(filepath.Join(latest, ManifestName), filepath.Join(runDir, ManifestName)); err != nil {
		return err
	}
	syncDir(latest)
	return nil
}

// linkInto makes dst the file src is, atomically: a hard link under a
// temporary name, renamed over dst. Where that fails (a file system
// without hard links), dst becomes a copy of src. The caller syncs dst's
// directory.
func linkInto(dst, src string) error {
	dir, base := filepath.Split(dst)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp") // a fresh name
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	tmp.Close()
	os.Remove(tmp.Name())
	if err := os.Link(src, tmp.Name()); err != nil {
		return copyFile(dst, src)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: rename into place: %w", dst, err)
	}
	return nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = atomicWrite(dst, false, false, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
	return err
}

func writeBytes(path string, b []byte) error {
	return AtomicWriteFile(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// checkPathPart refuses a name that is not one plain path element.
func checkPathPart(s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `/\`) {
		return fmt.Errorf("%q cannot name a directory", s)
	}
	return nil
}

func utcSecond(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}

// changeSlice is a ChangeSource over changes in memory (one run's),
// honouring the filter's Kinds, Sources, AfterID and RunID (a change
// without a run id passes it).
type changeSlice []store.Change

func (s changeSlice) EachChange(ctx context.Context, f store.ChangeFilter, fn func(*store.Change) error) error {
	for i := range s {
		c := &s[i]
		if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, c.Kind) ||
			len(f.Sources) > 0 && !slices.Contains(f.Sources, c.Source) ||
			f.AfterID > 0 && c.ID <= f.AfterID ||
			f.RunID > 0 && c.RunID != 0 && c.RunID != f.RunID {
			continue
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}
