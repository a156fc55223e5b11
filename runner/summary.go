package runner

import (
	"fmt"
	"io"
)

// WriteSummary prints what the run did in a few lines: status, pages,
// records seen, the change counts, and where the change files are.
func (res *Result) WriteSummary(w io.Writer) {
	r := res.Run
	fmt.Fprintf(w, "%s: run %d %s", r.Source, r.ID, r.Status)
	if r.Reason != "" {
		fmt.Fprintf(w, " (%s)", r.Reason)
	}
	fmt.Fprintf(w, "\n  pages fetched %d (%d failed), records seen %d", r.Pages, r.PagesFailed, r.Seen)
	if r.Dropped > 0 {
		fmt.Fprintf(w, ", items dropped %d", r.Dropped)
	}
	fmt.Fprintf(w, "\n  added %d, updated %d, removed %d, restored %d", r.Added, r.Updated, r.Removed, r.Restored)
	if r.Held > 0 {
		fmt.Fprintf(w, ", removals held %d", r.Held)
	}
	fmt.Fprintln(w)
	if res.Dir != "" {
		fmt.Fprintf(w, "  change files: %s\n", res.Dir)
	}
}
