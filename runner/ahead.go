package runner

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/harvest-dev/harvest/record"
)

// ahead fetches listing pages ahead of the walk, up to the walk's
// concurrency at once, and hands them back in the order they were asked
// for. Pages dropped before they are popped never reach the run.
//
// The fetches run on up to concurrency long-lived workers rather than a
// goroutine each: a fetch needs a deep stack (colly's URL parser), which
// a new goroutine would grow by copying, page after page.
type ahead struct {
	w       *walk
	parent  context.Context
	ctx     context.Context
	cancel  context.CancelFunc
	jobs    chan *future // futures not started yet; never more than the concurrency
	workers int
	queue   []*future
}

type future struct {
	u    string
	ctx  context.Context // the ahead's context when it was pushed
	done chan struct{}
	f    *fetched
}

// ahead starts fetching ahead; the caller must stop it.
func (w *walk) ahead(ctx context.Context) *ahead {
	a := &ahead{w: w, parent: ctx, jobs: make(chan *future, w.concurrency())}
	a.ctx, a.cancel = context.WithCancel(ctx)
	return a
}

func (a *ahead) len() int { return len(a.queue) }

// front is the URL of the oldest page asked for.
func (a *ahead) front() string { return a.queue[0].u }

// push starts fetching u. The walks push at most their concurrency of
// pages before popping one.
func (a *ahead) push(u string) {
	fu := &future{u: u, ctx: a.ctx, done: make(chan struct{})}
	a.queue = append(a.queue, fu)
	if a.workers < cap(a.jobs) {
		a.workers++
		go a.work()
	}
	a.jobs <- fu
}

// work fetches the pages pushed until stop.
func (a *ahead) work() {
	for fu := range a.jobs {
		if err := fu.ctx.Err(); err != nil {
			fu.f = &fetched{u: fu.u, pastErr: err}
		} else {
			fu.f = a.w.fetch(fu.ctx, fu.u)
		}
		close(fu.done)
	}
}

// pop waits for the oldest page and returns it.
func (a *ahead) pop() *fetched {
	fu := a.queue[0]
	a.queue = a.queue[1:]
	<-fu.done
	return fu.f
}

// stop drops every page not yet popped and ends the workers.
func (a *ahead) stop() {
	a.drop()
	a.cancel()
	close(a.jobs)
}

// drop cancels every page not yet popped, waits for their fetches to end
// and forgets them; later pushes start afresh.
func (a *ahead) drop() {
	if len(a.queue) == 0 {
		return
	}
	a.cancel()
	for _, fu := range a.queue {
		<-fu.done
	}
	a.queue = nil
	a.ctx, a.cancel = context.WithCancel(a.parent)
}

// sameURL compares two listing URLs in canonical form.
func sameURL(a, b string) bool {
	if a == b {
		return true
	}
	ca, cb := record.CanonicalURL(nil, a), record.CanonicalURL(nil, b)
	return ca != "" && ca == cb
}

// nextPattern recognises a pager whose next link differs from the page's
// own URL by one number — a query value (?page=3 -> ?page=4, ?start=20 ->
// ?start=40) or a path segment (/page/3/ -> /page/4/) — and returns the
// k-th URL after next (k = 0 is next itself), or nil when there is no
// such pattern.
func nextPattern(cur, next string) func(k int) string {
	cu, err1 := url.Parse(cur)
	nu, err2 := url.Parse(next)
	if err1 != nil || err2 != nil || cu.Scheme != nu.Scheme || cu.Host != nu.Host {
		return nil
	}
	if cu.Path == nu.Path {
		cq, nq := strings.Split(cu.RawQuery, "&"), strings.Split(nu.RawQuery, "&")
		if i, from, step, ok := oneNumberApart(cq, nq, "="); ok {
			return func(k int) string {
				q := append([]string(nil), nq...)
				name, _, _ := strings.Cut(q[i], "=")
				q[i] = name + "=" + strconv.Itoa(from+k*step)
				v := *nu
				v.RawQuery = strings.Join(q, "&")
				return v.String()
			}
		}
		return nil
	}
	if cu.RawQuery != nu.RawQuery {
		return nil
	}
	cp, np := strings.Split(cu.Path, "/"), strings.Split(nu.Path, "/")
	if i, from, step, ok := oneNumberApart(cp, np, ""); ok {
		return func(k int) string {
			p := append([]string(nil), np...)
			p[i] = strconv.Itoa(from + k*step)
			v := *nu
			v.Path, v.RawPath = strings.Join(p, "/"), ""
			return v.String()
		}
	}
	return nil
}

// oneNumberApart finds the one part where a and b differ, both holding a
// number (after sep, when sep is set, with the same name before it) that
// grows from a to b. It returns the part's index, b's number and the step.
func oneNumberApart(a, b []string, sep string) (idx, from, step int, ok bool) {
	if len(a) != len(b) {
		return 0, 0, 0, false
	}
	idx = -1
	for i := range a {
		if a[i] == b[i] {
			continue
		}
		if idx >= 0 {
			return 0, 0, 0, false
		}
		idx = i
	}
	if idx < 0 {
		return 0, 0, 0, false
	}
	av, bv := a[idx], b[idx]
	if sep != "" {
		an, ax, okA := strings.Cut(av, sep)
		bn, bx, okB := strings.Cut(bv, sep)
		if !okA || !okB || an != bn {
			return 0, 0, 0, false
		}
		av, bv = ax, bx
	}
	x, errA := strconv.Atoi(av)
	y, errB := strconv.Atoi(bv)
	if errA != nil || errB != nil || y <= x {
		return 0, 0, 0, false
	}
	return idx, y, y - x, true
}
