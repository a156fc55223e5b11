package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// exportPipeSize is the pipe buffer an export asks for on its standard
// output: Linux's default is 64 KiB, and at ~300 MB/s of CSV a pipe that
// small wakes the reader and the writer thousands of times a second.
// 1 MiB is the most an unprivileged process may ask for by default
// (/proc/sys/fs/pipe-max-size).
const exportPipeSize = 1 << 20

// growPipe enlarges f's buffer to exportPipeSize when f is a pipe (an
// export piped into another program). Where the system refuses, the
// pipe stays as it was: a smaller buffer only costs speed.
func growPipe(f *os.File) {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	if size, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0); err == nil && size >= exportPipeSize {
		return
	}
	unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, exportPipeSize)
}
