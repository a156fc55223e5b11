package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// An export piped into another program gets a pipe buffer of 1 MiB
// (where the system allows that much); a file is left alone.
func TestGrowPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	before, err := unix.FcntlInt(w.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/sys/fs/pipe-max-size")
	if err != nil {
		t.Skipf("no pipe-max-size: %v", err)
	}
	var maxSize int
	if _, err := fmt.Sscan(string(b), &maxSize); err != nil || maxSize < exportPipeSize {
		t.Skipf("this system caps pipes at %q bytes", b)
	}
	growPipe(w)
	after, err := unix.FcntlInt(w.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil || after < exportPipeSize {
		t.Fatalf("pipe buffer %d -> %d (%v), want at least %d", before, after, err, exportPipeSize)
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	growPipe(f) // not a pipe: nothing to do, nothing to fail
	if _, err := f.WriteString("ok\n"); err != nil {
		t.Fatal(err)
	}
}
