package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dynowatch/dynowatch/internal/ack"
	"github.com/dynowatch/dynowatch/internal/api"
	"github.com/dynowatch/dynowatch/internal/auth"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/dashboard"
	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/ingest"
	"github.com/dynowatch/dynowatch/internal/metrics"
	"github.com/dynowatch/dynowatch/internal/otlp"
	"github.com/dynowatch/dynowatch/internal/store"
)

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
// only here. It returns the OTLP intake too, whose Run writes its sightings.
func webMux(ctx context.Context, cfg *config.Config, log *slog.Logger, st *store.Store, checkList []checks.Check, pipe *ingest.Pipeline, al *alerting, met *metrics.Metrics, ready *atomic.Bool) (*http.ServeMux, *otlp.Handler, error) {
	drainSecrets, err := secret(ctx, cfg, log, st, "DRAIN_SECRET", cfg.DrainSecret)
	if err != nil {
		return nil, nil, err
	}
	dashPasswords, err := secret(ctx, cfg, log, st, "DASHBOARD_PASSWORD", cfg.DashboardPassword)
	if err != nil {
		return nil, nil, err
	}
	// Only Heroku's router can reach a dyno: there the last X-Forwarded-For
	// hop is the client; anywhere else anyone may write it.
	dh, err := drain.NewHandler(drain.Options{Secrets: drainSecrets, Sink: pipe, Logger: log, Metrics: met, TrustForwardedFor: cfg.OnHeroku()})
	if err != nil {
		return nil, nil, err
	}
	oh, err := otlp.NewHandler(otlp.Options{Secrets: drainSecrets, Sink: pipe, Logger: log, Metrics: met.OTLP(), Map: cfg.OTLPMap, Store: st})
	if err != nil {
		return nil, nil, err
	}
	mux := bootMux(ready, st)
	mux.Handle("POST /drain/{app}", dh)
	// Telemetry drains of Fir apps: a base URL, the exporter appends
	// /v1/logs and the others; with the app in it for an app's drain.
	for _, base := range []string{"/otlp", "/otlp/{app}"} {
		mux.HandleFunc("POST "+base+"/v1/logs", oh.ServeLogs)
		mux.HandleFunc("POST "+base+"/v1/metrics", oh.ServeMetrics)
		mux.HandleFunc("POST "+base+"/v1/traces", oh.ServeTraces)
	}
	reads := configuredChecks(st, checkList)
	guard := auth.NewDashboard(dashPasswords, cfg.DashboardViewPassword, "dynowatch")
	// What the OTLP intakes of the web dynos have seen of Fir's shapes.
	mux.Handle("GET /api/v1/otlp/sightings", guard.View(http.HandlerFunc(oh.ServeSightings)))
	if err := api.Register(mux, api.Options{Store: reads, Alerts: al.engine, Rules: cfg.Rules, Guard: guard, Logger: log}); err != nil {
		return nil, nil, err
	}
	if al.links != nil || cfg.SlackSigningSecret != "" {
		// The signed link, or Slack's signature, is the credential: no
		// dashboard password here.
		if err := ack.Register(mux, ack.Options{Links: al.links, Store: st, Acker: al.engine, Logger: log,
			SlackSigningSecret: cfg.SlackSigningSecret}); err != nil {
			return nil, nil, err
		}
	}
	met.Counter("dynowatch_store_dropped_rows_total", "Rollup rows the database refused and that were left out; the rest of their flush was stored.",
		nil, func() float64 { return float64(st.DroppedRows()) })
	met.Counter("dynowatch_store_dropped_samples_total", "Metric sample values left out: custom sample names over 50 per app and flush, or over the 1,000 names kept in all.",
		nil, func() float64 { return float64(st.DroppedSamples()) })
	met.Gauge("dynowatch_alert_queue_depth", "Alerts with observations waiting to be applied.", func() float64 { return float64(al.engine.QueueDepth()) })
	for what, read := range map[string]func(ingest.Folded) int64{
		"dyno": func(f ingest.Folded) int64 { return f.Dynos }, "code": func(f ingest.Folded) int64 { return f.Codes },
		"source": func(f ingest.Folded) int64 { return f.Sources }, "sample_name": func(f ingest.Folded) int64 { return f.SampleNames },
	} {
		met.Counter("dynowatch_rollup_folded_total", "Router lines and samples beyond an app's cap of distinct dynos, codes or sources a minute, counted under \"other\"; sample names beyond the cap, left out.",
			map[string]string{"what": what}, func() float64 { return float64(read(pipe.Folded())) })
	}
	met.Counter("dynowatch_alert_observations_folded_total", "Router and other non-urgent observations folded into their app's alert of the rule because the alert queue was full.",
		nil, func() float64 { return float64(al.engine.Folded()) })
	if cfg.MetricsPublic {
		mux.Handle("GET /metrics", met.Handler())
	} else {
		mux.Handle("GET /metrics", auth.Basic(dashPasswords, "dynowatch")(met.Handler()))
	}

	base := publicURL(cfg)
	page := *base // the dashboard is behind its password: it shows the drain URL whole
	page.User = url.UserPassword("dynowatch", drainSecrets[len(drainSecrets)-1])
	page.Path = "/drain/APP"
	fir := *base
	fir.Path = "/otlp/APP"
	firHeaders, err := json.Marshal(map[string]string{"Authorization": "Bearer " + drainSecrets[len(drainSecrets)-1]})
	if err != nil {
		return nil, nil, err
	}
	if err := dashboard.Register(mux, dashboard.Options{Store: reads, Rules: cfg.Rules, Logger: log, Auth: guard.View, CanAct: auth.CanAct,
		DrainURL: page.String(), TelemetryURL: fir.String(), TelemetryHeaders: string(firHeaders),
		Sightings: oh}); err != nil {
		return nil, nil, err
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
	t := *base
	t.Path = "/otlp"
	log.Info("add a Fir app with: heroku telemetry:add "+t.String()+" --app APP --signals logs,metrics --transport http --headers '{\"Authorization\":\"Bearer "+shown+"\"}'",
		"telemetry_url", t.String())
	if cfg.URL == "" && !cfg.OnHeroku() {
		log.Info("Heroku can't reach localhost: expose this port on a public https URL (a tunnel such as `cloudflared tunnel --url http://localhost:" +
			strconv.Itoa(cfg.Port) + "`, or deploy to Heroku) and set DYNOWATCH_URL to it, so that the drain URL above is one Heroku can post to")
	}
	if len(cfg.DashboardPassword) == 0 {
		d := *base
		d.User = url.UserPassword("dynowatch", dashPasswords[0])
		log.Info("dashboard and API at "+d.String(), "dashboard_url", d.String())
	}
	return mux, oh, nil
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
func newPipeline(cfg *config.Config, log *slog.Logger, st *store.Store, al *alerting, met *metrics.Metrics) (*ingest.Pipeline, error) {
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

// configuredStore is the store as the dashboard and the API read it.
type configuredStore struct {
	*store.Store
	checks map[string]bool
}

// configuredChecks gives the dashboard and the API the store with the
// latest runs of the checks configured now only: a check removed from the
// config vars keeps its results until they are pruned, but it is not "down".
func configuredChecks(st *store.Store, list []checks.Check) configuredStore {
	names := map[string]bool{}
	for _, c := range list {
		names[c.Name] = true
	}
	return configuredStore{Store: st, checks: names}
}

// LatestChecks returns the latest run of every configured check.
func (s configuredStore) LatestChecks(ctx context.Context) ([]checks.Result, error) {
	all, err := s.Store.LatestChecks(ctx)
	return slices.DeleteFunc(all, func(r checks.Result) bool { return !s.checks[r.Check] }), err
}
