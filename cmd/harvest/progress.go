package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/harvest-dev/harvest/runner"
)

// isTerminal reports whether w is a terminal (progress lines make sense).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressLine redraws one status line per source on a terminal, at most
// every 100ms.
type progressLine struct {
	mu   sync.Mutex
	w    io.Writer
	last time.Time
	now  func() time.Time
}

func (p *progressLine) update(pr runner.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.now(); t.Sub(p.last) >= 100*time.Millisecond {
		p.last = t
		rate := 0.0
		if s := pr.Elapsed.Seconds(); s > 0 {
			rate = float64(pr.Pages) / s
		}
		fmt.Fprintf(p.w, "\r\033[K%s: %d pages, %d items, %d errors, %.1f pages/s", pr.Source, pr.Pages, pr.Items, pr.Errors, rate)
	}
}

// done clears the line before the run's summary is printed.
func (p *progressLine) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\033[K")
	p.last = time.Time{}
}
