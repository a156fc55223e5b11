package export_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/export"
	"github.com/harvest-dev/harvest/record"
	"github.com/harvest-dev/harvest/store"
)

func runResult(id int64, changes []store.Change) *store.RunResult {
	run := store.Run{ID: id, Source: "iom", StartedAt: t0, FinishedAt: t0.Add(time.Minute), Status: store.StatusComplete,
		RunCounts: store.RunCounts{Pages: 3, Seen: 40}}
	for i := range changes {
		changes[i].RunID = id
		switch changes[i].Kind {
		case store.KindAdded:
			run.Added++
		case store.KindUpdated:
			run.Updated++
		case store.KindRemoved:
			run.Removed++
		case store.KindRestored:
			run.Restored++
		}
	}
	return &store.RunResult{Run: run, Changes: changes}
}

func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".tmp") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func readManifest(t *testing.T, path string) export.Manifest {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m export.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// checkFiles verifies every file the manifest lists against its size and
// checksum, and that nothing else is in dir.
func checkFiles(t *testing.T, dir string, m export.Manifest) {
	t.Helper()
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Errorf("listed file: %v", err)
			continue
		}
		sum := sha256.Sum256(b)
		if int64(len(b)) != f.Bytes || hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s/%s: %d bytes sha256 %x, manifest says %d bytes %s", dir, f.Name, len(b), sum, f.Bytes, f.SHA256)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(m.Files)+1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v, want the %d listed files and the manifest", dir, names, len(m.Files))
	}
}

func TestWriteRunFiles(t *testing.T) {
	out := t.TempDir()
	cs := fixtureChanges()[:3] // two added, one updated, nothing removed
	cs = append(cs, store.Change{ID: 9, Source: "iom", Key: "k9", Kind: store.KindRestored, At: t0, Record: record.Record{Title: "back"}})
	res := runResult(7, cs)
	m, err := export.WriteRunFiles(context.Background(), out, res, export.Options{ExtraColumns: []string{"pdf"}, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(out, "iom", "7")
	onDisk := readManifest(t, filepath.Join(dir, "manifest.json"))
	if !reflect.DeepEqual(onDisk.Files, m.Files) || onDisk.RunID != 7 || onDisk.Source != "iom" || onDisk.Status != "complete" {
		t.Errorf("manifest on disk %+v\nreturned %+v", onDisk, m)
	}
	if onDisk.Counts.Added != 2 || onDisk.Counts.Restored != 1 || onDisk.Counts.Updated != 1 || onDisk.Counts.Seen != 40 {
		t.Errorf("counts %+v", onDisk.Counts)
	}
	if !onDisk.StartedAt.Equal(t0.Truncate(time.Second)) || onDisk.SchemaVersion != 1 {
		t.Errorf("started_at %v schema %d", onDisk.StartedAt, onDisk.SchemaVersion)
	}
	var names []string
	rows := map[string]int{}
	for _, f := range m.Files {
		names = append(names, f.Name)
		rows[f.Name] = f.Rows
	}
	want := []string{"added.csv", "added.jsonl", "updated.csv", "updated.jsonl", "removed.csv", "removed.jsonl"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
	if rows["added.csv"] != 3 || rows["added.jsonl"] != 3 || rows["updated.csv"] != 1 || rows["removed.csv"] != 0 {
		t.Errorf("rows %v (restored goes with added)", rows)
	}
	checkFiles(t, dir, onDisk)

	// Nothing removed: the files exist, the CSV with only its header.
	removed, err := os.ReadFile(filepath.Join(dir, "removed.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if string(removed) != strings.Join(export.ChangeColumns([]string{"pdf"}), ",")+"\r\n" {
		t.Errorf("removed.csv = %q, want the header line alone", removed)
	}
	if fi, err := os.Stat(filepath.Join(dir, "removed.jsonl")); err != nil || fi.Size() != 0 || fi.Mode().Perm() != 0o644 {
		t.Errorf("removed.jsonl: %v %v", fi, err)
	}
	added := readCSV(t, mustRead(t, filepath.Join(dir, "added.csv")))
	if len(added) != 4 || added[3][3] != "restored" || added[1][len(added[1])-1] != "https://example.int/a.pdf" {
		t.Errorf("added.csv rows %q", added)
	}

	// latest/ is a copy of the run's files.
	latest := filepath.Join(out, "iom", "latest")
	lm := readManifest(t, filepath.Join(latest, "manifest.json"))
	if lm.RunID != 7 || !reflect.DeepEqual(lm.Files, m.Files) {
		t.Errorf("latest manifest %+v", lm)
	}
	checkFiles(t, latest, lm)
	noTempFiles(t, out)

	// A newer run replaces latest/; an older one (written late) does not.
	rm := fixtureChanges()[3:]
	rm[0].Source = "iom"
	if _, err := export.WriteRunFiles(context.Background(), out, runResult(8, rm), export.Options{Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	if _, err := export.WriteRunFiles(context.Background(), out, runResult(5, nil), export.Options{Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	lm = readManifest(t, filepath.Join(latest, "manifest.json"))
	if lm.RunID != 8 || lm.Files[4].Name != "removed.csv" || lm.Files[4].Rows != 1 {
		t.Errorf("latest after runs 8 and 5: %+v", lm)
	}
	checkFiles(t, latest, lm)
	if _, err := os.Stat(filepath.Join(out, "iom", "5", "manifest.json")); err != nil {
		t.Errorf("run 5 has its own directory still: %v", err)
	}
	// Run 7's files, which latest/ was before, are still run 7's: latest/
	// moved on without touching them. Here (a file system with hard
	// links) latest/ holds run 8's own files, not copies.
	checkFiles(t, dir, onDisk)
	for _, name := range []string{"added.csv", "removed.csv", "manifest.json"} {
		a, errA := os.Stat(filepath.Join(latest, name))
		b, errB := os.Stat(filepath.Join(out, "iom", "8", name))
		if errA != nil || errB != nil || !os.SameFile(a, b) {
			t.Errorf("latest/%s is not run 8's file (%v, %v)", name, errA, errB)
		}
	}
	noTempFiles(t, out)
}

func TestWriteRunFilesRefusesBadSource(t *testing.T) {
	out := t.TempDir()
	res := runResult(1, nil)
	res.Run.Source = "../escape"
	if _, err := export.WriteRunFiles(context.Background(), out, res, export.Options{}); err == nil {
		t.Error("a source naming a path outside OUT was accepted")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAtomicWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.csv")
	if err := export.AtomicWriteFile(p, func(w io.Writer) error { _, err := io.WriteString(w, "first"); return err }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("export failed half way")
	err := export.AtomicWriteFile(p, func(w io.Writer) error {
		io.WriteString(w, strings.Repeat("half ", 100000))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("error %v does not wrap the writer's", err)
	}
	if got := string(mustRead(t, p)); got != "first" {
		t.Errorf("a failed write changed the file: %.20q", got)
	}
	noTempFiles(t, dir)
	if err := export.AtomicWriteFile(filepath.Join(dir, "missing", "x"), func(io.Writer) error { return nil }); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestCursor(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cursor")
	if id, err := export.ReadCursor(p); err != nil || id != 0 {
		t.Errorf("missing cursor: %d %v, want 0", id, err)
	}
	if err := export.WriteCursor(p, 42); err != nil {
		t.Fatal(err)
	}
	if id, err := export.ReadCursor(p); err != nil || id != 42 {
		t.Errorf("cursor %d %v, want 42", id, err)
	}
	os.WriteFile(p, []byte("forty-two\n"), 0o644)
	if _, err := export.ReadCursor(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("garbage cursor: %v (want an error naming the file)", err)
	}
}

func TestExportSinceCursor(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	outPath, cursorPath := filepath.Join(dir, "changes.jsonl"), filepath.Join(dir, "cursor")
	src := &memStore{changes: fixtureChanges()[:2]}
	o := export.Options{Format: "jsonl"}

	n, cur, err := export.ExportSinceCursor(ctx, outPath, cursorPath, src, store.ChangeFilter{}, o)
	if err != nil || n != 2 || cur != 2 {
		t.Fatalf("first export: n=%d cursor=%d err=%v", n, cur, err)
	}
	if got := strings.Count(string(mustRead(t, outPath)), "\n"); got != 2 {
		t.Errorf("first export file has %d lines", got)
	}
	if id, _ := export.ReadCursor(cursorPath); id != 2 {
		t.Errorf("cursor file says %d", id)
	}

	// The export cannot be put in place: the cursor stays.
	src.changes = fixtureChanges()
	if _, _, err := export.ExportSinceCursor(ctx, filepath.Join(dir, "no-such-dir", "x.jsonl"), cursorPath, src, store.ChangeFilter{}, o); err == nil {
		t.Fatal("export into a missing directory succeeded")
	}
	if id, _ := export.ReadCursor(cursorPath); id != 2 {
		t.Errorf("cursor advanced to %d although no file was written", id)
	}
	// The source fails half way: no file replaced, cursor stays.
	boom := errors.New("db gone")
	if _, _, err := export.ExportSinceCursor(ctx, outPath, cursorPath, failingSource{boom}, store.ChangeFilter{}, o); !errors.Is(err, boom) {
		t.Fatalf("failing source: %v", err)
	}
	if id, _ := export.ReadCursor(cursorPath); id != 2 {
		t.Errorf("cursor advanced to %d after a failed export", id)
	}
	if got := strings.Count(string(mustRead(t, outPath)), "\n"); got != 2 {
		t.Errorf("failed export replaced the previous file (%d lines)", got)
	}

	// Second real call: only the newer changes.
	n, cur, err = export.ExportSinceCursor(ctx, outPath, cursorPath, src, store.ChangeFilter{}, o)
	if err != nil || n != 2 || cur != 4 {
		t.Fatalf("second export: n=%d cursor=%d err=%v", n, cur, err)
	}
	lines := strings.Split(strings.TrimSpace(string(mustRead(t, outPath))), "\n")
	for i, want := range []string{`"change_id":3`, `"change_id":4`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %.40s, want %s", i, lines[i], want)
		}
	}
	// Nothing new: an empty file, the cursor unchanged.
	n, cur, err = export.ExportSinceCursor(ctx, outPath, cursorPath, src, store.ChangeFilter{}, o)
	if err != nil || n != 0 || cur != 4 || len(mustRead(t, outPath)) != 0 {
		t.Errorf("nothing new: n=%d cursor=%d err=%v", n, cur, err)
	}
	if id, _ := export.ReadCursor(cursorPath); id != 4 {
		t.Errorf("cursor %d", id)
	}
	noTempFiles(t, dir)
}
