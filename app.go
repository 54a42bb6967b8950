package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dynowatch/dynowatch/internal/ack"
	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/metrics"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/otlp"
	"github.com/dynowatch/dynowatch/internal/parse"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/worker"
)

// roles says which parts of dynowatch a process runs.
type roles struct {
	web, worker bool
	// tail follows one app for "dynowatch tail"; the process ends with it.
	tail *tailOne
}

// app is one process of the web role, the worker role or both: built from
// the config by newApp, it owns the store, the pipeline, the alert engine,
// the HTTP server, the worker with its tails, and the tail of "dynowatch
// tail", and runs them in Run.
type app struct {
	cfg       *config.Config
	rules     *alert.Rules
	checkList []checks.Check
	log       *slog.Logger
	roles     roles

	ln    net.Listener // the web role's, bound by newApp
	gate  gatedHandler // the boot mux until the store answers, then the full one
	ready atomic.Bool  // /healthz: the full mux is up and not shutting down
}

// newApp builds the process of roles r. The web role binds its port at once:
// Heroku kills a web dyno that has not bound $PORT within 60 s (R10), and
// the store may take longer to answer (Run serves /healthz 503 till then).
func newApp(cfg *config.Config, rules *alert.Rules, checkList []checks.Check, log *slog.Logger, r roles) (*app, error) {
	a := &app{cfg: cfg, rules: rules, checkList: checkList, log: log, roles: r}
	if r.web {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
		if err != nil {
			return nil, fmt.Errorf("binding PORT %d: %w", cfg.Port, err)
		}
		log.Info("listening", "addr", ln.Addr().String())
		if cfg.Port == 0 { // a test's port 0: print URLs with the port chosen
			c := *cfg
			c.Port = ln.Addr().(*net.TCPAddr).Port
			a.cfg = &c
		}
		a.ln = ln
		a.gate.set(bootMux(&a.ready, nil))
	}
	return a, nil
}

// URL is where the web role listens, for tests ("" without it).
func (a *app) URL() string {
	if a.ln == nil {
		return ""
	}
	return "http://127.0.0.1:" + strconv.Itoa(a.ln.Addr().(*net.TCPAddr).Port)
}

// Run runs the process until ctx is done, then shuts down in order: stop
// taking requests and stop the jobs and tails, then flush what they left.
// Heroku sends SIGKILL 30 s after SIGTERM: requests in flight get
// httpShutdownTimeout, then the final flush and alert updates run together
// for at most ingest.FinalFlushTimeout.
func (a *app) Run(ctx context.Context) error {
	// Go's soft limit keeps the heap within the budget (a GOMEMLIMIT set by
	// hand wins): the GC works harder near it rather than the dyno swapping.
	if debug.SetMemoryLimit(-1) == math.MaxInt64 {
		debug.SetMemoryLimit(int64(a.cfg.MemoryBudgetMB) << 20)
	}
	cfg, log := a.cfg, a.log
	// The front takes work in: the HTTP server and the worker, tails
	// included. It stops when ctx is done or one of them fails.
	frontCtx, stopFront := context.WithCancel(ctx)
	defer stopFront()
	front, frontCtx := errgroup.WithContext(frontCtx)
	if a.roles.web {
		srv := &http.Server{Handler: &a.gate, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 5 * time.Minute}
		front.Go(func() error { return a.serveHTTP(frontCtx, srv) })
	}
	front.Go(func() error {
		<-frontCtx.Done()
		log.Info("shutting down")
		return nil
	})
	failed := func(err error) error { // before the back runs: stop the front
		stopFront()
		_ = front.Wait()
		return err
	}

	st, err := openStore(frontCtx, cfg, log)
	if err != nil {
		return failed(err)
	}
	defer st.Close()
	met := metrics.New()
	links, err := ackLinks(frontCtx, cfg, log, st)
	if err != nil {
		return failed(err)
	}
	al, err := newAlerting(cfg, a.rules, a.checkList, log, st, met, time.Now, links)
	if err != nil {
		return failed(err)
	}
	pipe, err := newPipeline(cfg, log, st, al, met)
	if err != nil {
		return failed(err)
	}
	var w *worker.Worker
	if a.roles.worker {
		w, err = newWorker(cfg, log, st, al)
		if err == nil {
			err = addChecks(w, a.checkList, cfg.LookupEnv, log, st, al, workerID(cfg))
		}
		if err == nil {
			err = addTails(w, cfg, log, pipe)
		}
		if err != nil {
			return failed(err)
		}
	}
	var mux http.Handler
	var intake *otlp.Handler
	if a.roles.web {
		if mux, intake, err = webMux(frontCtx, cfg, log, st, a.checkList, pipe, al, met, &a.ready); err != nil {
			return failed(err)
		}
	}

	// The back, the pipeline and the alert engine, outlives the front:
	// requests in flight and the tails need it, and it writes what the last
	// ones left.
	backCtx, stopBack := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBack()
	var back errgroup.Group
	back.Go(func() error {
		if err := pipe.Run(backCtx); err != nil {
			log.Error("final rollup flush failed", "err", err)
		}
		return nil
	})
	back.Go(func() error {
		// Router observations wait at most this long; R codes go at once.
		if err := al.engine.Run(backCtx, 250*time.Millisecond); err != nil {
			log.Error("final alert update failed", "err", err)
		}
		return nil
	})
	if intake != nil {
		// It writes the sightings that the last requests left, after them.
		back.Go(func() error {
			if err := intake.Run(backCtx); err != nil {
				log.Error("final sightings flush failed", "err", err)
			}
			return nil
		})
	}
	if mux != nil {
		a.gate.set(mux)
		a.ready.Store(true)
	}
	if w != nil {
		front.Go(func() error {
			if err := w.Run(frontCtx); err != nil {
				log.Error("worker shutdown", "err", err)
			}
			return nil
		})
	}
	if t := a.roles.tail; t != nil {
		front.Go(func() error {
			err := t.client.Tail(frontCtx, t.app, pipe, t.show)
			stopFront() // the session is the process: its end ends the rest
			return err
		})
	}
	err = front.Wait()
	stopBack()
	_ = back.Wait()
	log.Info("stopped")
	return err
}

// serveHTTP serves until ctx is done, then lets requests in flight finish
// within httpShutdownTimeout.
func (a *app) serveHTTP(ctx context.Context, srv *http.Server) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(a.ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	a.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		a.log.Error("http shutdown", "err", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// alerting is the alert side of a process: rules, the detector that reads
// drained lines, the engine that keeps alert states, and the channels.
type alerting struct {
	detector  *alert.Detector
	engine    *alert.Engine
	notifiers []notify.Notifier
	store     *store.Store
	metrics   *metrics.Metrics
	log       *slog.Logger
	// changes are the channels told of releases and deploys (PagerDuty),
	// linking dashboard; now is the clock of their rows.
	changes   []string
	dashboard string
	now       func() time.Time
	links     *ack.Links // nil: notifications carry no ack links
}

// newAlerting sets up alerting for the rules and the checks configured now;
// now is its clock (time.Now but in tests); links, if not nil, sign the ack
// links of firing notifications.
func newAlerting(cfg *config.Config, rules *alert.Rules, checkList []checks.Check, log *slog.Logger, st *store.Store, met *metrics.Metrics, now func() time.Time, links *ack.Links) (*alerting, error) {
	notifiers, err := notify.Channels(cfg)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(notifiers))
	for i, n := range notifiers {
		names[i] = n.Name()
	}
	if len(names) == 0 {
		log.Warn("no alert channel configured: alerts are kept and shown, but nobody is told (set " + notify.ChannelVars + ")")
	}
	o := alert.EngineOptions{Store: st, Rules: rules, Channels: names, Escalation: cfg.EscalationTiers(), Logger: log,
		DashboardURL: publicURL(cfg).String(), Timezone: cfg.Timezone, Now: now, Retired: checks.Retired(checkList),
		Causes: checks.Causes(checkList)}
	if links != nil {
		o.AckURL = links.URL
	}
	engine, err := alert.NewEngine(o)
	if err != nil {
		return nil, err
	}
	return &alerting{engine: engine, notifiers: notifiers, store: st, metrics: met, log: log, links: links,
		changes: notify.ChangeChannels(notifiers), dashboard: publicURL(cfg).String(), now: now,
		detector: &alert.Detector{Rules: rules, KeepQueryStrings: cfg.KeepQueryStrings, KeepClientIPs: cfg.KeepClientIPs}}, nil
}

// ackLinks returns the signer of ack links, keyed by DASHBOARD_PASSWORD
// (see ack.Links for why), or nil when links can't be made: DYNOWATCH_URL
// is unset (a link to localhost is no use on a phone), or, on a worker dyno
// on Heroku, DASHBOARD_PASSWORD is (the web dyno refuses to start then).
func ackLinks(ctx context.Context, cfg *config.Config, log *slog.Logger, st *store.Store) (*ack.Links, error) {
	switch {
	case cfg.URL == "":
		log.Info("notifications carry no acknowledge links: set DYNOWATCH_URL to this dynowatch's public URL")
		return nil, nil
	case len(cfg.DashboardPassword) == 0 && cfg.OnHeroku():
		log.Warn("notifications carry no acknowledge links: DASHBOARD_PASSWORD is not set")
		return nil, nil
	}
	passwords, err := secret(ctx, cfg, log, st, "DASHBOARD_PASSWORD", cfg.DashboardPassword)
	if err != nil {
		return nil, err
	}
	return ack.NewLinks(cfg.URL, passwords)
}

// observe is the drain's hook: alert rules see every committed batch.
func (a *alerting) observe(app string, entries []parse.Entry) {
	a.engine.Observe(a.detector.Observe(app, entries))
	a.tellChanges(app, entries)
}

// changeTimeout bounds writing a batch's releases and deploys to the
// outbox: the drain's hook has no context of its own, and the batch is
// committed already.
const changeTimeout = 5 * time.Second

// tellChanges writes the releases and deploys among entries to the outbox
// of the channels that take them, once per line (see notify.Changes).
// Replayed batches never get here.
func (a *alerting) tellChanges(app string, entries []parse.Entry) {
	if len(a.changes) == 0 {
		return
	}
	out, err := notify.Changes(app, entries, a.changes, a.dashboard, a.now())
	if err == nil && len(out) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), changeTimeout)
		err = a.store.Enqueue(ctx, out...)
		cancel()
	}
	if err != nil {
		a.log.Error("telling of a release or deploy", "app", app, "err", err)
	}
}

// evaluate runs the window rules over every app and lets time act on the
// active alerts (the worker's job, every alertEvery).
func (a *alerting) evaluate(ctx context.Context, now time.Time) error {
	return a.engine.EvaluateWindows(ctx, a.store, now)
}

// forecastMemory runs the MEMORY_LEAK rule over every dyno of every app
// (the worker's job, every memoryEvery).
func (a *alerting) forecastMemory(ctx context.Context, now time.Time) error {
	return a.engine.EvaluateMemory(ctx, a.store, now)
}

// judgeReleases runs the RELEASE rule over the recent releases of every
// app (the worker's job, every releaseEvery).
func (a *alerting) judgeReleases(ctx context.Context, now time.Time) error {
	return a.engine.EvaluateReleases(ctx, a.store, now)
}
