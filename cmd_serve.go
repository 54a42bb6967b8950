package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynowatch/dynowatch/alert"
	"github.com/dynowatch/dynowatch/api"
	"github.com/dynowatch/dynowatch/auth"
	"github.com/dynowatch/dynowatch/checks"
	"github.com/dynowatch/dynowatch/config"
	"github.com/dynowatch/dynowatch/dashboard"
	"github.com/dynowatch/dynowatch/drain"
	"github.com/dynowatch/dynowatch/ingest"
	"github.com/dynowatch/dynowatch/store"
)

// roles says which parts of dynowatch a process runs.
type roles struct{ web, worker bool }

// serve runs the web role, the worker role or both until ctx is done, then
// shuts down in order: stop taking requests, flush what they left, stop jobs.
//
// Heroku kills a web dyno that has not bound $PORT within 60 s (R10), so the
// port is bound first and /healthz says 503 until the store answers.
func serve(ctx context.Context, cfg *config.Config, rules *alert.Rules, checkList []checks.Check, log *slog.Logger, r roles) error {
	// Go's soft limit keeps the heap within the budget (a GOMEMLIMIT set by
	// hand wins): the GC works harder near it rather than the dyno swapping.
	if debug.SetMemoryLimit(-1) == math.MaxInt64 {
		debug.SetMemoryLimit(int64(cfg.MemoryBudgetMB) << 20)
	}
	var (
		srv   *http.Server
		gate  gatedHandler
		ready atomic.Bool
		errc  = make(chan error, 4)
	)
	if r.web {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
		if err != nil {
			return fmt.Errorf("binding PORT %d: %w", cfg.Port, err)
		}
		log.Info("listening", "addr", ln.Addr().String())
		if cfg.Port == 0 { // a test's port 0: print URLs with the port chosen
			c := *cfg
			c.Port = ln.Addr().(*net.TCPAddr).Port
			cfg = &c
		}
		// The drain bounds its bodies itself (drain.DefaultBodyTimeout);
		// ReadTimeout is the backstop for every other route.
		srv = &http.Server{Handler: &gate, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 5 * time.Minute}
		go func() { errc <- srv.Serve(ln) }()
		gate.set(bootMux(&ready, nil))
	}

	st, err := openStore(ctx, cfg, log)
	if err != nil {
		if srv != nil {
			srv.Close()
		}
		return err
	}
	defer st.Close()

	met := newMetrics()
	al, err := newAlerting(cfg, rules, checkList, log, st, met, time.Now)
	if err != nil {
		if srv != nil {
			srv.Close()
		}
		return err
	}

	// The pipeline and the alert engine outlive the HTTP server and the log
	// sessions: requests in flight need them, and they write what the last
	// ones left. The worker needs them too, for TAIL_APPS.
	pipe, err := newPipeline(cfg, log, st, al, met)
	if err != nil {
		if srv != nil {
			srv.Close()
		}
		return err
	}
	pipeCtx, stopPipe := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPipe()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := pipe.Run(pipeCtx); err != nil {
			log.Error("final rollup flush failed", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		// Router observations wait at most this long; R codes go at once.
		if err := al.engine.Run(pipeCtx, 250*time.Millisecond); err != nil {
			log.Error("final alert update failed", "err", err)
		}
	}()
	if r.web {
		mux, err := webMux(ctx, cfg, log, st, checkList, pipe, al, met, &ready)
		if err != nil {
			srv.Close()
			return err
		}
		gate.set(mux)
		ready.Store(true)
	}
	workerDone := make(chan error, 1)
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	if r.worker {
		w, err := newWorker(cfg, log, st, al)
		if err != nil {
			return err
		}
		if err := addChecks(w, checkList, log, st, al, workerID(cfg)); err != nil {
			return err
		}
		if err := addTails(w, cfg, log, pipe); err != nil {
			return err
		}
		go func() { workerDone <- w.Run(wctx) }()
	} else {
		workerDone <- nil
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
	}
	log.Info("shutting down")
	// Heroku sends SIGKILL 30 s after SIGTERM: requests in flight get
	// httpShutdownTimeout, then the final flush and alert updates run
	// together for at most ingest.FinalFlushTimeout.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdownTimeout)
	defer cancel()
	if srv != nil {
		ready.Store(false)
		if err := srv.Shutdown(sctx); err != nil {
			log.Error("http shutdown", "err", err)
		}
	}
	// The jobs stop, and the sessions deliver what they read, before the
	// pipeline's final flush.
	stopWork()
	if err := <-workerDone; err != nil {
		log.Error("worker shutdown", "err", err)
	}
	stopPipe()
	wg.Wait()
	log.Info("stopped")
	return nil
}

// httpShutdownTimeout bounds the wait for drain requests in flight on
// SIGTERM: a commit takes at most 4 s and Logplex gives up after 5 s.
const httpShutdownTimeout = 8 * time.Second

// gatedHandler serves the boot mux until the full one is ready.
type gatedHandler struct{ h atomic.Pointer[http.Handler] }

func (g *gatedHandler) set(h http.Handler) { g.h.Store(&h) }

func (g *gatedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*g.h.Load()).ServeHTTP(w, r)
}

// bootMux answers while the store is not ready yet: /healthz says so, and
// drains get a 503 so that Logplex retries.
func bootMux(ready *atomic.Bool, st *store.Store) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() || st == nil {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			http.Error(w, "store not answering", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if ready.Load() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Retry-After", "5")
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
	return mux
}

// webMux builds every route of the web role: routes are registered here and
// only here.
func webMux(ctx context.Context, cfg *config.Config, log *slog.Logger, st *store.Store, checkList []checks.Check, pipe *ingest.Pipeline, al *alerting, met *metrics, ready *atomic.Bool) (*http.ServeMux, error) {
	drainSecrets, err := secret(ctx, cfg, log, st, "DRAIN_SECRET", cfg.DrainSecret)
	if err != nil {
		return nil, err
	}
	dashPasswords, err := secret(ctx, cfg, log, st, "DASHBOARD_PASSWORD", cfg.DashboardPassword)
	if err != nil {
		return nil, err
	}
	// Only Heroku's router can reach a dyno: there the last X-Forwarded-For
	// hop is the client; anywhere else anyone may write it.
	dh, err := drain.NewHandler(drain.Options{Secrets: drainSecrets, Sink: pipe, Logger: log, Metrics: met, TrustForwardedFor: cfg.OnHeroku()})
	if err != nil {
		return nil, err
	}
	mux := bootMux(ready, st)
	mux.Handle("POST /drain/{app}", dh)
	reads := configuredChecks(st, checkList)
	if err := api.Register(mux, api.Options{Store: reads, Alerts: al.engine, Passwords: dashPasswords, Logger: log}); err != nil {
		return nil, err
	}
	met.counter("dynowatch_store_dropped_rows_total", "Rollup rows the database refused and that were left out; the rest of their flush was stored.",
		nil, func() float64 { return float64(st.DroppedRows()) })
	met.counter("dynowatch_store_dropped_samples_total", "Metric sample values left out: custom sample names over 50 per app and flush, or over the 1,000 names kept in all.",
		nil, func() float64 { return float64(st.DroppedSamples()) })
	met.gauge("dynowatch_alert_queue_depth", "Alerts with observations waiting to be applied.", func() float64 { return float64(al.engine.QueueDepth()) })
	for what, read := range map[string]func(ingest.Folded) int64{
		"dyno": func(f ingest.Folded) int64 { return f.Dynos }, "code": func(f ingest.Folded) int64 { return f.Codes },
		"source": func(f ingest.Folded) int64 { return f.Sources }, "sample_name": func(f ingest.Folded) int64 { return f.SampleNames },
	} {
		met.counter("dynowatch_rollup_folded_total", "Router lines and samples beyond an app's cap of distinct dynos, codes or sources a minute, counted under \"other\"; sample names beyond the cap, left out.",
			map[string]string{"what": what}, func() float64 { return float64(read(pipe.Folded())) })
	}
	met.counter("dynowatch_alert_observations_folded_total", "Router and other non-urgent observations folded into their app's alert of the rule because the alert queue was full.",
		nil, func() float64 { return float64(al.engine.Folded()) })
	if cfg.MetricsPublic {
		mux.Handle("GET /metrics", met.handler())
	} else {
		mux.Handle("GET /metrics", auth.Basic(dashPasswords, "dynowatch")(met.handler()))
	}

	base := publicURL(cfg)
	page := *base // the dashboard is behind its password: it shows the drain URL whole
	page.User = url.UserPassword("dynowatch", drainSecrets[len(drainSecrets)-1])
	page.Path = "/drain/APP"
	if err := dashboard.Register(mux, dashboard.Options{Store: reads, Logger: log, Auth: auth.Basic(dashPasswords, "dynowatch"), DrainURL: page.String()}); err != nil {
		return nil, err
	}
	shown := drainSecrets[len(drainSecrets)-1]
	if len(cfg.DrainSecret) > 0 {
		// A secret the user set is theirs to know; logs often leave the
		// machine (and on Heroku, the app). Only a generated one is shown.
		shown = "$DRAIN_SECRET"
	}
	u := *base
	u.User = url.UserPassword("dynowatch", shown)
	u.Path = "/drain/APP"
	log.Info("add an app with: heroku drains:add "+u.String()+" -a APP", "drain_url", u.String())
	if cfg.URL == "" && !cfg.OnHeroku() {
		log.Info("Heroku can't reach localhost: expose this port on a public https URL (a tunnel such as `cloudflared tunnel --url http://localhost:" +
			strconv.Itoa(cfg.Port) + "`, or deploy to Heroku) and set DYNOWATCH_URL to it, so that the drain URL above is one Heroku can post to")
	}
	if len(cfg.DashboardPassword) == 0 {
		d := *base
		d.User = url.UserPassword("dynowatch", dashPasswords[0])
		log.Info("dashboard and API at "+d.String(), "dashboard_url", d.String())
	}
	return mux, nil
}

// publicURL is DYNOWATCH_URL, or the local address.
func publicURL(cfg *config.Config) *url.URL {
	if cfg.URL != "" {
		if u, err := url.Parse(cfg.URL); err == nil {
			return u
		}
	}
	return &url.URL{Scheme: "http", Host: "localhost:" + strconv.Itoa(cfg.Port)}
}

// secret returns the configured secrets of var name or, locally, one
// generated once and kept in the store so that it survives restarts. On
// Heroku a missing secret is an error: a generated one would differ per dyno.
func secret(ctx context.Context, cfg *config.Config, log *slog.Logger, st *store.Store, name string, configured []string) ([]string, error) {
	if len(configured) > 0 {
		return configured, nil
	}
	if cfg.OnHeroku() {
		return nil, fmt.Errorf("config var %s is not set: set it with `heroku config:set %s=$(openssl rand -hex 20) -a <this app>`", name, name)
	}
	b := make([]byte, 20)
	rand.Read(b)
	v, err := st.SetSettingIfAbsent(ctx, "secret:"+name, hex.EncodeToString(b))
	if err != nil {
		return nil, fmt.Errorf("keeping a generated %s: %w", name, err)
	}
	log.Info("using a generated "+name+" kept in the store; set the config var to choose your own", "var", name)
	return []string{v}, nil
}

// openStore opens the store, retrying while the database is not reachable
// yet (a dyno may boot before its database answers), and migrates it.
//
// On Heroku it refuses the embedded store: it would live on the dyno's disk,
// which every restart (at least daily) wipes, and each dyno would have its own.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (*store.Store, error) {
	if cfg.OnHeroku() && cfg.Embedded() {
		return nil, errors.New("config var DATABASE_URL is not set: on Heroku the embedded store would live on the dyno's throwaway disk; " +
			"add Heroku Postgres, which sets it: `heroku addons:create heroku-postgresql:essential-0 -a <this app>`")
	}
	delay := time.Second
	for {
		st, err := store.Open(ctx, store.Config{DatabaseURL: cfg.DatabaseURL, Path: cfg.DBPath, MaxConns: cfg.DatabaseMaxConns, Logger: log})
		if err == nil {
			if err = st.Migrate(ctx); err == nil {
				return st, nil
			}
			st.Close()
		}
		if cfg.Embedded() {
			return nil, fmt.Errorf("opening the embedded store %s: %w", cfg.DBPath, err)
		}
		if errors.Is(err, store.ErrBadDatabaseURL) {
			return nil, fmt.Errorf("config var DATABASE_URL: %w (example: postgres://user:pass@host:5432/db?sslmode=require)", err)
		}
		log.Error("store not ready; retrying", "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("opening the store: %w", err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// committers is how many transactions commit drain batches at once: the pool
// less one connection for the rollup flush and one for the API and jobs. The
// embedded store has a single writer.
func committers(cfg *config.Config) int {
	if cfg.Embedded() {
		return 1
	}
	return max(1, int(cfg.DatabaseMaxConns)-2)
}

// newPipeline is the drain pipeline every command that ingests uses. With al
// set, alert rules see what it commits; replay passes none, so that old logs
// page nobody.
func newPipeline(cfg *config.Config, log *slog.Logger, st *store.Store, al *alerting, met *metrics) (*ingest.Pipeline, error) {
	o := ingest.Options{
		Store: st, Logger: log, FlushEvery: cfg.RollupFlushEvery.D(), Committers: committers(cfg), EventLinesPerMinute: cfg.EventLinesPerMinute,
		KeepQueryStrings: cfg.KeepQueryStrings, KeepClientIPs: cfg.KeepClientIPs,
		RollupMemory: int64(cfg.MemoryBudgetMB) << 20 / 3,
	}
	if al != nil {
		o.Observe = al.observe
	}
	if met != nil {
		o.Metrics = met
	}
	return ingest.New(o)
}
