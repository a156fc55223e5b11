// Command harvest keeps watch over the listing pages of publication and
// document libraries and turns them into a versioned dataset with change
// feeds. Run "harvest --help" for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "export" {
		streamingGC(os.Getenv)
		growPipe(os.Stdout) // for an export piped into another program
	}
	os.Exit(run(ctx, os.Args[1:], &env{
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
		now:    time.Now,
	}))
}

// streamingGCLimit is the heap an export lets grow before it collects.
const streamingGCLimit = 64 << 20

// streamingGC tunes the garbage collector of an export process, unless
// the user set GOGC or GOMEMLIMIT: an export streams gigabytes through a
// live heap of a few rows, and the default (collect whenever the heap
// doubles from ~4 MB) then collects hundreds of times a second. Collecting
// only as the heap nears streamingGCLimit exports 10-20% faster
// (store/internal/exportbench) and keeps peak RSS near 80 MB. (The CSV
// export of records allocates nothing a row and stays near 24 MB; the
// JSON exports and the changes build Go values a row.) It is set
// here, for the process, and not in run, which tests call in-process.
func streamingGC(getenv func(string) string) {
	if !wantStreamingGC(getenv) {
		return
	}
	debug.SetMemoryLimit(streamingGCLimit)
	debug.SetGCPercent(-1)
}

// wantStreamingGC reports whether streamingGC may tune the collector:
// not when the user chose with GOGC or GOMEMLIMIT.
func wantStreamingGC(getenv func(string) string) bool {
	return getenv("GOGC") == "" && getenv("GOMEMLIMIT") == ""
}
