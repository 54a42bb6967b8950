package alert

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// dyno simulates one dyno's memory minute by minute, the way the store
// hands it over: the minute's rss since the dyno's latest start, at most
// MemoryLookback back.
type dyno struct {
	quota  float64
	starts []time.Time // restarts, in order
	mb     func(sinceStart time.Duration) float64
	rng    *rand.Rand
	noise  float64 // ± MB on every sample
	all    []MemoryPoint
}

func (d *dyno) at(now time.Time) DynoMemory {
	start := d.starts[0]
	for _, s := range d.starts {
		if !s.After(now) {
			start = s
		}
	}
	mb := d.mb(now.Sub(start)) + (d.rng.Float64()*2-1)*d.noise
	d.all = append(d.all, MemoryPoint{At: now, MB: mb})
	var pts []MemoryPoint
	for _, p := range d.all {
		if p.At.After(start) && now.Sub(p.At) <= MemoryLookback {
			pts = append(pts, p)
		}
	}
	return DynoMemory{Dyno: "web.2", Started: start, RSSMB: mb, QuotaMB: d.quota, Points: pts}
}

// run feeds every minute from t0 for span to the rule and an alert state,
// and calls check with each minute's forecast and the notification.
func (d *dyno) run(t *testing.T, r *Rules, span time.Duration, check func(now time.Time, f MemoryForecast, st Status, s State)) {
	t.Helper()
	var s State
	for m := time.Duration(0); m < span; m += time.Minute {
		now := t0.Add(m)
		f := r.ForecastMemory("shop", d.at(now), now)
		obs := r.MemoryObservations("shop", []MemoryForecast{f}, now)
		var st Status
		s, st = Apply(s, obs[0], r.For("shop", RuleMemoryLeak), r.Policy, false)
		check(now, f, st, s)
	}
}

// TestMemoryLeakWithDailyRestart: a dyno leaking 14 MB/h from 180 MB
// reaches its 512 MB quota about 23 h 40 min after each start, an hour
// before the daily cycling restarts it: R14s every afternoon. Each day the
// rule fires about the window (2 h) ahead, with the time to the quota
// within 10 minutes of the truth, and resolves at the restart: the
// sawtooth is one leak a day, not a series of spikes.
func TestMemoryLeakWithDailyRestart(t *testing.T) {
	r := DefaultRules()
	day := 24*time.Hour + 40*time.Minute // cycling comes every 24 h plus up to 216 min
	leak := 14.0
	d := &dyno{quota: 512, rng: rand.New(rand.NewPCG(1, 2)), noise: 6,
		starts: []time.Time{t0, t0.Add(day), t0.Add(2 * day)},
		mb:     func(up time.Duration) float64 { return 180 + leak*up.Hours() },
	}
	reach := time.Duration((512 - 180) / leak * float64(time.Hour)) // after each start
	var fired, resolved []time.Time
	d.run(t, r, 3*day, func(now time.Time, f MemoryForecast, st Status, s State) {
		switch st {
		case Firing:
			fired = append(fired, now)
			start := d.starts[len(fired)-1]
			truth := start.Add(reach).Sub(now)
			if diff := (f.ToQuota - truth).Abs(); diff > 10*time.Minute {
				t.Errorf("fired at %v forecasting the quota in %v, truth %v (off by %v)", now.Sub(start), f.ToQuota, truth, diff)
			}
			if math.Abs(f.GrowthMBPerHour-leak) > 1 {
				t.Errorf("growth %.1f MB/h, want %.0f ± 1", f.GrowthMBPerHour, leak)
			}
			if !strings.HasPrefix(s.Summary, "web.2 grows 14 MB/h, reaches 512 MB in about 2 h") {
				t.Errorf("summary %q", s.Summary)
			}
		case Resolved:
			resolved = append(resolved, now)
		case "":
		default:
			t.Errorf("%v: %s", now.Sub(t0), st)
		}
	})
	if len(fired) != 3 || len(resolved) != 2 {
		t.Fatalf("fired at %v, resolved at %v; want once a day, resolved by each restart", fired, resolved)
	}
	for i, f := range fired {
		if ahead := d.starts[i].Add(reach).Sub(f); ahead < 110*time.Minute || ahead > 130*time.Minute {
			t.Errorf("day %d: fired %v before the quota, want the 2 h window ± 10 min", i, ahead)
		}
	}
	for i, res := range resolved {
		if got := res.Sub(d.starts[i+1]); got < 0 || got > time.Minute {
			t.Errorf("day %d resolved %v after the restart, want at the restart", i, got)
		}
	}
}

// TestMemorySpikeIsNoLeak: a dyno steady at 300 MB that jumps to 490 MB for
// ten minutes (a big upload) and comes back never pages, nor does one that
// warms up from 150 to 420 MB over its first 20 minutes and stays there.
func TestMemorySpikeIsNoLeak(t *testing.T) {
	r := DefaultRules()
	for name, mb := range map[string]func(time.Duration) float64{
		"spike": func(up time.Duration) float64 {
			switch m := up.Minutes(); {
			case m >= 180 && m < 190:
				return 300 + 19*(m-179)
			case m >= 190 && m < 195:
				return 490 - 38*(m-189)
			}
			return 300
		},
		"warm-up": func(up time.Duration) float64 { return 420 - 270*math.Exp(-up.Minutes()/6) },
	} {
		d := &dyno{quota: 512, rng: rand.New(rand.NewPCG(3, 4)), noise: 4, starts: []time.Time{t0}, mb: mb}
		d.run(t, r, 6*time.Hour, func(now time.Time, f MemoryForecast, st Status, s State) {
			if st != "" {
				t.Fatalf("%s: %s at %v: %s (%+v)", name, st, now.Sub(t0), s.Summary, f)
			}
		})
	}
}

// TestMemoryLeakStops: growth that stops resolves the alert, and a leak
// already over the quota forecasts R15.
func TestMemoryLeakStops(t *testing.T) {
	r := DefaultRules()
	d := &dyno{quota: 512, rng: rand.New(rand.NewPCG(5, 6)), noise: 3, starts: []time.Time{t0},
		mb: func(up time.Duration) float64 { return 300 + 60*min(up.Hours(), 3) },
	}
	var got []Status
	d.run(t, r, 6*time.Hour, func(now time.Time, f MemoryForecast, st Status, s State) {
		if st != "" {
			got = append(got, st)
			if st == Resolved && now.Sub(t0) > 3*time.Hour+40*time.Minute {
				t.Errorf("resolved %v after the growth stopped, want sooner", now.Sub(t0.Add(3*time.Hour)))
			}
		}
	})
	if len(got) != 2 || got[0] != Firing || got[1] != Resolved {
		t.Errorf("notifications %v, want firing then resolved", got)
	}

	over := DynoMemory{Dyno: "worker.1", RSSMB: 512, SwapMB: 88, QuotaMB: 512}
	for m := range 60 {
		over.Points = append(over.Points, MemoryPoint{At: t0.Add(time.Duration(m) * time.Minute), MB: 540 + float64(m)})
	}
	f := r.ForecastMemory("shop", over, t0.Add(59*time.Minute))
	if !f.HasForecast || f.ToQuota != 0 || f.ToR15.Round(time.Minute) != 7*time.Hour+5*time.Minute {
		t.Errorf("forecast %+v, want over the quota now and R15 in 7h5m ((1024 - 599) / 60 h)", f)
	}
	if want := "worker.1 grows 60 MB/h, over its 512 MB quota already; twice it (R15, killed) in about 7 h (now 600 MB; steady for 59 min since it started, R² 1.00)"; f.Summary() != want {
		t.Errorf("summary\n%s, want\n%s", f.Summary(), want)
	}
}

func TestMemoryForecastNeedsEnoughSamples(t *testing.T) {
	r, err := ParseRules(map[string]string{"ALERT_MEMORY_LEAK_MIN_SPAN": "1h", "ALERT_MEMORY_LEAK_THRESHOLD": "0.9"})
	if err != nil {
		t.Fatal(err)
	}
	d := DynoMemory{Dyno: "web.1", QuotaMB: 512, Started: t0}
	for m := 10; m <= 50; m++ {
		d.Points = append(d.Points, MemoryPoint{At: t0.Add(time.Duration(m) * time.Minute), MB: 400 + float64(m)})
	}
	f := r.ForecastMemory("shop", d, t0.Add(50*time.Minute))
	if f.Leak || f.Why != "too few samples since it started (41 over 40m; a fit needs 10 over 1h)" {
		t.Errorf("forecast %+v", f)
	}
	if f := r.ForecastMemory("shop", d, t0.Add(2*time.Hour)); f.Why != "no recent samples" {
		t.Errorf("forecast of a dyno gone quiet %+v", f)
	}
	for _, bad := range []string{"ALERT_MEMORY_LEAK_THRESHOLD=80", "ALERT_MEMORY_LEAK_MIN_SPAN=1m"} {
		name, value, _ := strings.Cut(bad, "=")
		if _, err := ParseRules(map[string]string{name: value}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestRough(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Second: "1 min", 42*time.Minute + 20*time.Second: "42 min", 80 * time.Minute: "1 h 20 min",
		83 * time.Minute: "1 h 20 min", 119 * time.Minute: "2 h", 13*time.Hour + 20*time.Minute: "13 h",
	} {
		if got := Rough(d); got != want {
			t.Errorf("Rough(%v) = %q, want %q", d, got, want)
		}
	}
}
