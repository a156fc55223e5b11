package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/harvest-dev/harvest/runner"
	"github.com/harvest-dev/harvest/store"
)

// Metrics are harvest's Prometheus metrics. Counters and the fetch
// histogram are fed by ObserveRun (the daemon's OnRunDone); the outbox
// depth and the last success time per source are read from the store at
// each scrape, so they are right across restarts and processes.
type Metrics struct {
	st  *store.Store
	log *slog.Logger

	runs     *prometheus.CounterVec
	pages    *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	fetchDur *prometheus.HistogramVec
	changes  *prometheus.CounterVec

	outboxDesc, lastOKDesc *prometheus.Desc
}

// NewMetrics registers harvest's metrics with reg (never the global
// default registry) and returns them.
func NewMetrics(reg prometheus.Registerer, st *store.Store, log *slog.Logger) (*Metrics, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		st:  st,
		log: log,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "harvest_runs_total",
			Help: "Runs finished by this process, by source and status (\"error\": not recorded)."}, []string{"source", "status"}),
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "harvest_pages_fetched_total",
			Help: "Listing pages fetched, by source and outcome (ok, not_modified, failed)."}, []string{"source", "outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "harvest_fetched_bytes_total",
			Help: "Bytes of listing pages fetched, by source."}, []string{"source"}),
		fetchDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "harvest_fetch_duration_seconds",
			Help: "Time to fetch one listing page, by source.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 10)}, []string{"source"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "harvest_records_changed_total",
			Help: "Records added, updated, removed or restored, by source and kind."}, []string{"source", "kind"}),
		outboxDesc: prometheus.NewDesc("harvest_outbox_deliveries", "Webhook deliveries in the outbox, by state (pending, delivered, dead).", []string{"state"}, nil),
		lastOKDesc: prometheus.NewDesc("harvest_last_success_timestamp_seconds", "When the newest complete run of each source finished (Unix seconds).", []string{"source"}, nil),
	}
	for _, c := range []prometheus.Collector{m.runs, m.pages, m.bytes, m.fetchDur, m.changes, storeCollector{m}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ObserveRun counts one finished run; its signature fits
// daemon.Config.OnRunDone.
func (m *Metrics) ObserveRun(source string, res *runner.Result, err error) {
	if res == nil {
		m.runs.WithLabelValues(source, "error").Inc()
		return
	}
	r := res.Run
	m.runs.WithLabelValues(source, string(r.Status)).Inc()
	for kind, n := range map[string]int{store.KindAdded: r.Added, store.KindUpdated: r.Updated,
		store.KindRemoved: r.Removed, store.KindRestored: r.Restored} {
		m.changes.WithLabelValues(source, kind).Add(float64(n))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, pages, perr := m.st.Run(ctx, r.ID)
	if perr != nil {
		m.log.Warn("metrics: cannot read the run's pages", "run", r.ID, "err", perr)
		return
	}
	for _, p := range pages {
		outcome := "ok"
		switch {
		case p.Err != "":
			outcome = "failed"
		case p.NotModified:
			outcome = "not_modified"
		}
		m.pages.WithLabelValues(source, outcome).Inc()
		m.bytes.WithLabelValues(source).Add(float64(p.Bytes))
		if p.Err == "" {
			m.fetchDur.WithLabelValues(source).Observe(p.Duration.Seconds())
		}
	}
}

// storeCollector reads the outbox depth and last success times at scrape.
type storeCollector struct{ m *Metrics }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.m.outboxDesc
	ch <- c.m.lastOKDesc
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st, err := c.m.st.OutboxStats(ctx); err != nil {
		c.m.log.Warn("metrics: outbox", "err", err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.m.outboxDesc, prometheus.GaugeValue, float64(st.Pending), "pending")
		ch <- prometheus.MustNewConstMetric(c.m.outboxDesc, prometheus.GaugeValue, float64(st.Delivered), "delivered")
		ch <- prometheus.MustNewConstMetric(c.m.outboxDesc, prometheus.GaugeValue, float64(st.Dead), "dead")
	}
	ls, err := c.m.st.LastSuccess(ctx)
	if err != nil {
		c.m.log.Warn("metrics: last success", "err", err)
		return
	}
	for src, t := range ls {
		ch <- prometheus.MustNewConstMetric(c.m.lastOKDesc, prometheus.GaugeValue, float64(t.UnixNano())/1e9, src)
	}
}
