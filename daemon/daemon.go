// Package daemon runs every seed on its schedule for "harvest serve".
//
// What is due lives in the store (source_schedule), so a restart neither
// skips nor doubles a run: a source is due when its next_due has passed,
// and one run moves next_due to the next slot of the seed's schedule plus
// a deterministic per-source jitter. A run of one source is never started
// twice at once: an in-process set guards this process, and a lease row
// claimed in a write-locked transaction guards every process sharing the
// database. A global semaphore bounds concurrent runs. A source whose
// runs fail (failed or blocked) several times in a row backs off,
// doubling its interval up to a cap, and its status says why.
//
// Every run is the runner's one step (runner.Run); the daemon never
// re-implements it.
package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/harvest-dev/harvest/runner"
	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// Errors of Trigger.
var (
	ErrUnknownSource = errors.New("no such source")
	ErrRunning       = errors.New("a run of this source is in progress")
	ErrShuttingDown  = errors.New("the daemon is shutting down")
)

// Defaults of Config.
const (
	DefaultMaxConcurrent         = 4
	DefaultMaxJitter             = 15 * time.Minute
	DefaultLeaseTTL              = 10 * time.Minute
	DefaultGrace                 = 30 * time.Second
	DefaultFailuresBeforeBackoff = 3
	DefaultMaxBackoff            = 7 * 24 * time.Hour
	DefaultPollEvery             = 30 * time.Second
)

// Config is what a Daemon is built from. Seeds, Store and Crawler are
// required; zero values of the rest get the defaults above.
type Config struct {
	Seeds   []*seeds.Seed
	Store   *store.Store
	Crawler runner.Crawler
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger     // default: discard
	// OutDir, when set, receives each run's change files (runner.Deps.OutDir).
	OutDir string
	// MaxConcurrent bounds the runs in progress in this process.
	MaxConcurrent int
	// MaxJitter caps the per-source jitter (JitterShare of the interval
	// otherwise); negative: no jitter.
	MaxJitter time.Duration
	// Owner names this process in lease rows; default host:pid:random.
	Owner string
	// LeaseTTL is how long a claimed lease lasts without renewal; a
	// running run renews it every LeaseTTL/3. A process that dies holding
	// a lease blocks its source for at most this long.
	LeaseTTL time.Duration
	// Grace is how long running runs may go on after shutdown begins
	// before they are cancelled (a cancelled run is stored as partial).
	Grace time.Duration
	// FailuresBeforeBackoff is the failure streak at which a source starts
	// backing off; MaxBackoff caps the backed-off wait.
	FailuresBeforeBackoff int
	MaxBackoff            time.Duration
	// PollEvery is how often Run looks for due sources when Tick is nil.
	PollEvery time.Duration
	// Tick, when set, drives Run instead of a real ticker (tests).
	Tick <-chan time.Time
	// OnRunDone, when set, is called after each run, once the source is
	// no longer marked running, with its result
	// (nil when the run could not be recorded) and error (metrics).
	OnRunDone func(source string, res *runner.Result, err error)
}

// source is one seed with its parsed schedule.
type source struct {
	seed  *seeds.Seed
	sched cron.Schedule
}

// Outcome is how one run started by the daemon ended.
type Outcome struct {
	Source string
	Run    *store.Run // nil when the run could not be recorded
	Err    error

	res     *runner.Result // for Config.OnRunDone
	started bool           // the run got a slot and ran (OnRunDone is called)
}

// Daemon schedules and runs sources. Its methods are safe for concurrent
// use. Runs started by Trigger, Run or RunOnce share one lifetime, ended
// by Shutdown (which Run and RunOnce call when their ctx is done).
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	sources map[string]*source
	ids     []string
	sem     chan struct{}

	runCtx     context.Context // the lifetime of runs; cancelled after the grace period
	cancelRuns context.CancelFunc

	mu       sync.Mutex
	running  map[string]bool
	closing  bool
	wg       sync.WaitGroup
	initOnce sync.Once
	initErr  error
}

// New checks cfg, parses every seed's schedule and returns a Daemon.
// Nothing runs until Run, RunOnce or Trigger.
func New(cfg Config) (*Daemon, error) {
	if cfg.Store == nil || cfg.Crawler == nil {
		return nil, errors.New("daemon: Store and Crawler are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.MaxJitter == 0 {
		cfg.MaxJitter = DefaultMaxJitter
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.FailuresBeforeBackoff <= 0 {
		cfg.FailuresBeforeBackoff = DefaultFailuresBeforeBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = DefaultPollEvery
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.Owner = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger, sources: map[string]*source{}, running: map[string]bool{},
		sem: make(chan struct{}, cfg.MaxConcurrent)}
	for _, s := range cfg.Seeds {
		if _, dup := d.sources[s.ID]; dup {
			return nil, fmt.Errorf("daemon: two seeds with id %q", s.ID)
		}
		spec := s.Schedule
		if spec == "" {
			spec = seeds.DefaultSchedule
		}
		sched, err := seeds.ParseSchedule(spec)
		if err != nil {
			return nil, fmt.Errorf("daemon: source %s: schedule %q: %w", s.ID, spec, err)
		}
		d.sources[s.ID] = &source{seed: s, sched: sched}
		d.ids = append(d.ids, s.ID)
	}
	slices.Sort(d.ids)
	d.runCtx, d.cancelRuns = context.WithCancel(context.Background())
	return d, nil
}

// Owner is the name this daemon's leases carry.
func (d *Daemon) Owner() string { return d.cfg.Owner }

// init makes sure every source has a schedule row (a new source is due at
// once) and pulls a row's next_due forward when the seed's schedule now
// gives an earlier time than the one stored (the schedule was edited).
func (d *Daemon) init(ctx context.Context) error {
	d.initOnce.Do(func() {
		now := d.cfg.Now()
		for _, id := range d.ids {
			src := d.sources[id]
			sc, err := d.cfg.Store.InitSchedule(ctx, id, now)
			if err != nil {
				d.initErr = fmt.Errorf("daemon: %w", err)
				return
			}
			if sc.LastRunAt.IsZero() || !sc.BackoffUntil.IsZero() {
				continue
			}
			// Stored times come back in UTC: compute in the clock's zone,
			// as the schedule is read in it.
			if want := d.nextDue(src, sc.LastRunAt.In(now.Location())); want.Before(sc.NextDue) {
				d.log.Info("schedule changed; next run moved earlier", "source", id, "was", sc.NextDue, "now", want)
				if err := d.cfg.Store.SetNextDue(ctx, id, want); err != nil {
					d.initErr = fmt.Errorf("daemon: %w", err)
					return
				}
			}
		}
	})
	return d.initErr
}

// due lists the sources due at now that no one holds, by due time.
func (d *Daemon) due(ctx context.Context, now time.Time) ([]string, error) {
	scs, err := d.cfg.Store.Schedules(ctx)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	slices.SortStableFunc(scs, func(a, b store.SourceSchedule) int { return a.NextDue.Compare(b.NextDue) })
	var out []string
	for _, sc := range scs {
		if d.sources[sc.Source] == nil || sc.NextDue.After(now) {
			continue
		}
		if sc.LeaseOwner != "" && sc.LeaseUntil.After(now) {
			continue
		}
		d.mu.Lock()
		busy := d.running[sc.Source]
		d.mu.Unlock()
		if !busy {
			out = append(out, sc.Source)
		}
	}
	return out, nil
}

// RunOnce runs every source due now (up to MaxConcurrent at a time),
// waits for them and returns how each ended, in start order. When ctx is
// done it starts nothing more, gives the running ones Grace, then cancels
// them (they are stored as partial); the daemon is then shut down.
func (d *Daemon) RunOnce(ctx context.Context) ([]Outcome, error) {
	if err := d.init(ctx); err != nil {
		return nil, err
	}
	ids, err := d.due(ctx, d.cfg.Now())
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var outs []Outcome
	var wg sync.WaitGroup
	collect := func(o Outcome) {
		mu.Lock()
		outs = append(outs, o)
		mu.Unlock()
		wg.Done()
	}
	for _, id := range ids {
		acquired := false
		select {
		case d.sem <- struct{}{}:
			acquired = true
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			if acquired {
				<-d.sem
			}
			break
		}
		wg.Add(1)
		started, err := d.start(ctx, id, false, true, collect)
		if err != nil || !started {
			<-d.sem
			wg.Done()
			if err != nil && !errors.Is(err, ErrRunning) {
				d.log.Error("cannot start run", "source", id, "err", err)
			}
		}
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		d.Shutdown()
		<-finished
	}
	return outs, ctx.Err()
}

// Run starts due sources on every tick (Config.Tick, or every PollEvery)
// until ctx is done, then shuts down: no new runs, Grace for the running
// ones, then they are cancelled. It returns nil after a shutdown caused
// by ctx, or the error that stopped it.
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.init(ctx); err != nil {
		return err
	}
	tick := d.cfg.Tick
	if tick == nil {
		t := time.NewTicker(d.cfg.PollEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		d.startDue(ctx)
		select {
		case <-ctx.Done():
			d.Shutdown()
			return nil
		case <-tick:
		}
	}
}

// startDue starts due sources while run slots are free.
func (d *Daemon) startDue(ctx context.Context) {
	ids, err := d.due(ctx, d.cfg.Now())
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("cannot list due sources", "err", err)
		}
		return
	}
	for _, id := range ids {
		select {
		case d.sem <- struct{}{}:
		default:
			return // every slot busy: the rest wait for a later tick
		}
		started, err := d.start(ctx, id, false, true, nil)
		if err != nil || !started {
			<-d.sem
			if err != nil && !errors.Is(err, ErrRunning) && !errors.Is(err, ErrShuttingDown) {
				d.log.Error("cannot start run", "source", id, "err", err)
			}
		}
	}
}

// Trigger starts a run of source now, whatever its schedule, and returns
// once the run is claimed (it waits for a free slot in the background).
// It fails with ErrUnknownSource, ErrRunning (a run of the source is in
// progress here or in another process) or ErrShuttingDown.
func (d *Daemon) Trigger(ctx context.Context, id string) error {
	if d.sources[id] == nil {
		return fmt.Errorf("source %s: %w", id, ErrUnknownSource)
	}
	if err := d.init(ctx); err != nil {
		return err
	}
	started, err := d.start(ctx, id, true, false, nil)
	if err != nil {
		return err
	}
	if !started {
		return fmt.Errorf("source %s: %w (in another process)", id, ErrRunning)
	}
	return nil
}

// start claims source id and, when claimed, runs it in a goroutine. slot
// says whether the caller already holds a run slot for it (it is then
// released when the run ends); without one the run waits for a slot.
// done, if set, is called once with the outcome when started is true.
func (d *Daemon) start(ctx context.Context, id string, force, slot bool, done func(Outcome)) (started bool, err error) {
	src := d.sources[id]
	if src == nil {
		return false, fmt.Errorf("source %s: %w", id, ErrUnknownSource)
	}
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return false, ErrShuttingDown
	}
	if d.running[id] {
		d.mu.Unlock()
		return false, fmt.Errorf("source %s: %w", id, ErrRunning)
	}
	d.running[id] = true
	d.wg.Add(1)
	d.mu.Unlock()
	unmark := func() {
		d.mu.Lock()
		delete(d.running, id)
		d.mu.Unlock()
		d.wg.Done()
	}
	ok, sc, err := d.cfg.Store.ClaimSource(ctx, id, d.cfg.Owner, d.cfg.Now(), d.cfg.LeaseTTL, force)
	if err != nil || !ok {
		unmark()
		return false, err
	}
	go func() {
		o := d.execute(src, sc, slot)
		unmark() // before anyone hears of the outcome: they see the source idle
		if d.cfg.OnRunDone != nil && o.started {
			d.cfg.OnRunDone(o.Source, o.res, o.Err)
		}
		if done != nil {
			done(o)
		}
	}()
	return true, nil
}

// execute runs one claimed source and records how it went.
func (d *Daemon) execute(src *source, sc *store.SourceSchedule, slot bool) Outcome {
	id := src.seed.ID
	log := d.log.With("source", id)
	ctx := d.runCtx
	bg := context.WithoutCancel(ctx)

	leaseCtx, stopLease := context.WithCancel(bg)
	leaseDone := make(chan struct{})
	go func() {
		defer close(leaseDone)
		d.renewLease(leaseCtx, id)
	}()
	defer func() {
		stopLease()
		<-leaseDone
	}()

	if !slot {
		select {
		case d.sem <- struct{}{}:
		case <-ctx.Done():
			stopLease()
			<-leaseDone
			if err := d.cfg.Store.ReleaseSource(bg, id, d.cfg.Owner); err != nil {
				log.Warn("cannot release lease", "err", err)
			}
			return Outcome{Source: id, Err: ctx.Err()}
		}
	}
	defer func() { <-d.sem }()

	started := d.cfg.Now()
	log.Info("run starting", "due", sc.NextDue)
	res, err := runner.Run(ctx, runner.Deps{
		Crawler: d.cfg.Crawler,
		Store:   d.cfg.Store,
		Logger:  d.log,
		Now:     d.cfg.Now,
		OutDir:  d.cfg.OutDir,
	}, src.seed)
	cancelled := ctx.Err() != nil
	stopLease()
	<-leaseDone

	u := d.update(src, sc, started, res, err, cancelled)
	fctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	if ferr := d.cfg.Store.FinishSource(fctx, id, d.cfg.Owner, u); ferr != nil {
		log.Error("cannot record the run in the schedule", "err", ferr)
	}
	if err != nil {
		log.Error("run error", "err", err)
	}
	if u.Note != "" && u.ConsecutiveFailures >= d.cfg.FailuresBeforeBackoff {
		log.Warn("source backing off", "note", u.Note, "next_due", u.NextDue)
	}
	o := Outcome{Source: id, Err: err, res: res, started: true}
	if res != nil {
		r := res.Run
		o.Run = &r
	}
	return o
}

// update decides the schedule row after a run that started at started.
func (d *Daemon) update(src *source, sc *store.SourceSchedule, started time.Time, res *runner.Result, err error, cancelled bool) store.ScheduleUpdate {
	u := store.ScheduleUpdate{LastRunAt: started, NextDue: d.nextDue(src, started)}
	var reason string
	switch {
	case res != nil:
		u.LastRunID, u.LastStatus, reason = res.Run.ID, string(res.Run.Status), res.Run.Reason
	case err != nil:
		u.LastStatus, reason = "error", err.Error()
	}
	failed := u.LastStatus == "error" || u.LastStatus == string(store.StatusFailed) || u.LastStatus == string(store.StatusBlocked)
	if failed {
		u.ConsecutiveFailures = sc.ConsecutiveFailures + 1
		u.Note = fmt.Sprintf("last run %s: %s", u.LastStatus, reason)
	}
	if cancelled {
		// Cut short by a shutdown: still due, so the next start runs it
		// again rather than waiting a whole interval.
		u.NextDue = sc.NextDue
		u.ConsecutiveFailures = sc.ConsecutiveFailures
		u.Note = "last run cut short by a shutdown"
		return u
	}
	every := interval(src.sched, started)
	if wait := d.backoff(every, u.ConsecutiveFailures); wait > 0 {
		until := started.Add(wait).Add(Jitter(src.seed.ID, every, d.cfg.MaxJitter))
		if until.After(u.NextDue) {
			u.NextDue = until
		}
		u.BackoffUntil = u.NextDue
		u.Note = fmt.Sprintf("backing off: %s in a row (last %s: %s); next try at %s, every %s instead of %s",
			plural(u.ConsecutiveFailures, "failed run", "failed runs"), u.LastStatus, reason,
			u.NextDue.Format(time.RFC3339), wait, every)
	}
	return u
}

// renewLease extends this process's lease of id every LeaseTTL/3 until
// ctx is done.
func (d *Daemon) renewLease(ctx context.Context, id string) {
	t := time.NewTicker(d.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.cfg.Store.RenewLease(ctx, id, d.cfg.Owner, d.cfg.Now().Add(d.cfg.LeaseTTL)); err != nil && ctx.Err() == nil {
				d.log.Error("cannot renew lease", "source", id, "err", err)
			}
		}
	}
}

// Shutdown stops starting runs, lets the running ones go on for Grace,
// then cancels them and waits until they are stored. It is safe to call
// more than once.
func (d *Daemon) Shutdown() {
	d.mu.Lock()
	d.closing = true
	n := len(d.running)
	d.mu.Unlock()
	finished := make(chan struct{})
	go func() { d.wg.Wait(); close(finished) }()
	if n > 0 {
		d.log.Info("shutting down: waiting for running runs", "running", n, "grace", d.cfg.Grace)
	}
	t := time.NewTimer(d.cfg.Grace)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		d.log.Warn("grace period over: cancelling running runs (they are stored as partial)")
		d.cancelRuns()
		<-finished
	}
	d.cancelRuns()
}

// Wait blocks until no run is in progress (tests, and callers of Trigger
// that want the result in the store).
func (d *Daemon) Wait() { d.wg.Wait() }

// Running lists the sources this process is running now, sorted.
func (d *Daemon) Running() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.running))
	for id := range d.running {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// SourceStatus is what the daemon says of one source.
type SourceStatus struct {
	Source   string `json:"source"`
	Name     string `json:"name,omitempty"`
	Schedule string `json:"schedule"`
	// State is "running", "running elsewhere" (another process holds the
	// lease), "backing off", "due" or "scheduled".
	State string `json:"state"`
	store.SourceSchedule
}

// Status returns every configured source's state and schedule row, by id.
func (d *Daemon) Status(ctx context.Context) ([]SourceStatus, error) {
	scs, err := d.cfg.Store.Schedules(ctx)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	byID := map[string]store.SourceSchedule{}
	for _, sc := range scs {
		byID[sc.Source] = sc
	}
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]SourceStatus, 0, len(d.ids))
	for _, id := range d.ids {
		src := d.sources[id]
		sc, ok := byID[id]
		if !ok {
			sc = store.SourceSchedule{Source: id, NextDue: now}
		}
		st := SourceStatus{Source: id, Name: src.seed.Name, Schedule: src.seed.Schedule, SourceSchedule: sc}
		if st.Schedule == "" {
			st.Schedule = seeds.DefaultSchedule
		}
		switch {
		case d.running[id]:
			st.State = "running"
		case sc.LeaseOwner != "" && sc.LeaseUntil.After(now):
			st.State = "running elsewhere"
		case !sc.BackoffUntil.IsZero() && sc.BackoffUntil.After(now):
			st.State = "backing off"
		case !sc.NextDue.After(now):
			st.State = "due"
		default:
			st.State = "scheduled"
		}
		out = append(out, st)
	}
	return out, nil
}

// Seeds returns the configured seeds, by id.
func (d *Daemon) Seeds() []*seeds.Seed {
	out := make([]*seeds.Seed, 0, len(d.ids))
	for _, id := range d.ids {
		out = append(out, d.sources[id].seed)
	}
	return out
}
