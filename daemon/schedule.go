package daemon

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/robfig/cron/v3"
)

// JitterShare is the largest share of a source's interval its jitter
// may take (the cap, Config.MaxJitter, usually binds first).
const JitterShare = 0.1

// interval is the gap between the two slots of sched that follow t.
func interval(sched cron.Schedule, t time.Time) time.Duration {
	n1 := sched.Next(t)
	n2 := sched.Next(n1)
	if n1.IsZero() || n2.IsZero() {
		return 24 * time.Hour
	}
	return n2.Sub(n1)
}

// Jitter is the deterministic delay added to every slot of one source:
// a hash of its id spread over [0, min(JitterShare*interval, limit)).
// The same source always gets the same jitter, so a restart computes the
// same due times, and a hundred @daily seeds spread over up to limit.
func Jitter(source string, every, limit time.Duration) time.Duration {
	span := time.Duration(float64(every) * JitterShare)
	if limit < span {
		span = limit
	}
	if span <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(source))
	return time.Duration(h.Sum64() % uint64(span))
}

// nextDue is when a source's next run is due after t: the next slot of
// its schedule plus its jitter.
func (d *Daemon) nextDue(src *source, t time.Time) time.Time {
	return src.sched.Next(t).Add(Jitter(src.seed.ID, interval(src.sched, t), d.cfg.MaxJitter))
}

// backoff is how long a source that failed failures runs in a row waits
// before its next try: nothing below the threshold, then its interval
// doubled per failure from the threshold on (2x, 4x, ...), at most
// MaxBackoff (or one interval, if that is longer).
func (d *Daemon) backoff(every time.Duration, failures int) time.Duration {
	if failures < d.cfg.FailuresBeforeBackoff {
		return 0
	}
	limit := max(d.cfg.MaxBackoff, every)
	wait := every
	for i := d.cfg.FailuresBeforeBackoff; i <= failures && wait < limit; i++ {
		wait *= 2
	}
	return min(wait, limit)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
