package alert

import (
	"context"
	"math"
	"time"
)

// WindowSource is what EvaluateWindows reads: the apps, their requests over
// a rule's window, and the outbox's health.
type WindowSource interface {
	// AppsHeard returns every app and when its last message arrived
	// through a live drain (zero when none did yet).
	AppsHeard(ctx context.Context) ([]AppHeard, error)
	// Window returns app's requests from from to to: Requests, Status5xx and
	// P95 (NaN when no request had a service time).
	Window(ctx context.Context, app string, from, to time.Time) (Window, error)
	// DeliveryHealth returns the outbox's backlog and failing channels at
	// now; Channels is left for EvaluateWindows to fill.
	DeliveryHealth(ctx context.Context, now time.Time) (DeliveryHealth, error)
}

// AppHeard is an app and when dynowatch last heard from it.
type AppHeard struct {
	Name        string
	LastMessage time.Time
}

// EvaluateWindows runs the window rules over every app of src and the
// delivery rules over its outbox, applies what they observe at now, and
// lets time act on the active alerts (Tick). The worker runs it on one
// dyno per interval.
func (e *Engine) EvaluateWindows(ctx context.Context, src WindowSource, now time.Time) error {
	apps, err := src.AppsHeard(ctx)
	if err != nil {
		return err
	}
	var obs []Observation
	for _, app := range apps {
		windows := map[time.Duration]Window{} // rules of one window read it once
		for _, rule := range WindowRules {
			r := e.o.Rules.For(app.Name, rule)
			if !r.Enabled {
				continue
			}
			w, ok := windows[r.Window]
			if !ok {
				w = Window{App: app.Name, LastMessage: app.LastMessage, P95: math.NaN()}
				// Only an app that spoke through a live drain in the window is
				// judged by it: replayed history fills the same rollups, and
				// must never page.
				if !app.LastMessage.Before(now.Add(-r.Window)) {
					if w, err = src.Window(ctx, app.Name, now.Add(-r.Window), now); err != nil {
						return err
					}
					w.App, w.LastMessage = app.Name, app.LastMessage
				}
				windows[r.Window] = w
			}
			obs = append(obs, e.o.Rules.WindowObservations(rule, w, now)...)
		}
	}
	health, err := src.DeliveryHealth(ctx, now)
	if err != nil {
		return err
	}
	health.Channels = e.o.Channels
	obs = append(obs, e.o.Rules.DeliveryObservations(health, now)...)
	if err := e.Apply(ctx, obs); err != nil {
		return err
	}
	return e.Tick(ctx)
}

// MemorySource is what EvaluateMemory reads: the apps, and the memory of
// each of an app's dynos since it last started.
type MemorySource interface {
	AppsHeard(ctx context.Context) ([]AppHeard, error)
	// DynoMemory returns the memory of app's dynos since each last
	// started, within MemoryLookback before now.
	DynoMemory(ctx context.Context, app string, now time.Time) ([]DynoMemory, error)
}

// EvaluateMemory forecasts the memory of every dyno of every app of src and
// applies the MEMORY_LEAK rule's observations at now (the worker's job,
// once a minute: samples are kept per minute).
func (e *Engine) EvaluateMemory(ctx context.Context, src MemorySource, now time.Time) error {
	apps, err := src.AppsHeard(ctx)
	if err != nil {
		return err
	}
	var obs []Observation
	for _, app := range apps {
		// Only an app that speaks through a live drain now: replayed
		// history fills the same samples, and must never page. Alerts of an
		// app gone quiet resolve a window after their last forecast.
		if !e.o.Rules.For(app.Name, RuleMemoryLeak).Enabled || app.LastMessage.Before(now.Add(-memoryFresh)) {
			continue
		}
		dynos, err := src.DynoMemory(ctx, app.Name, now)
		if err != nil {
			return err
		}
		fs := make([]MemoryForecast, len(dynos))
		for i, d := range dynos {
			fs[i] = e.o.Rules.ForecastMemory(app.Name, d, now)
		}
		obs = append(obs, e.o.Rules.MemoryObservations(app.Name, fs, now)...)
	}
	return e.Apply(ctx, obs)
}

// ReleaseSource is what EvaluateReleases reads: the apps, their releases
// and their figures.
type ReleaseSource interface {
	AppsHeard(ctx context.Context) ([]AppHeard, error)
	ReleaseFigures
}

// EvaluateReleases judges the recent releases of every app of src and
// applies the RELEASE rule's observations at now (the worker's job, once a
// minute: the figures are per minute).
func (e *Engine) EvaluateReleases(ctx context.Context, src ReleaseSource, now time.Time) error {
	apps, err := src.AppsHeard(ctx)
	if err != nil {
		return err
	}
	var obs []Observation
	for _, app := range apps {
		ru := e.o.Rules.For(app.Name, RuleRelease)
		// Only an app that spoke through a live drain within the window:
		// replayed history is judged for people (the API) but never pages.
		if !ru.Enabled || app.LastMessage.Before(now.Add(-ru.Window)) {
			continue
		}
		// Releases whose window after ended within the last window are
		// observed; those before them bound their spans.
		rels, err := src.Releases(ctx, app.Name, now.Add(-3*ru.Window), now)
		if err != nil {
			return err
		}
		vs, err := e.o.Rules.Verdicts(ctx, src, app.Name, rels, now)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if o, ok := e.o.Rules.ReleaseObservation(app.Name, v, now); ok {
				obs = append(obs, o)
			}
		}
	}
	return e.Apply(ctx, obs)
}
