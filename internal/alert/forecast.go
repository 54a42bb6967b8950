package alert

import (
	"fmt"
	"math"
	"time"

	"github.com/dynowatch/dynowatch/internal/duration"
)

// MemoryPoint is a dyno's memory in one minute: rss plus swap (what R14
// and R15 compare with the quota), the most of the minute.
type MemoryPoint struct {
	At time.Time
	MB float64
}

// DynoMemory is one dyno's memory since it last started, as the store
// keeps it.
type DynoMemory struct {
	Dyno string
	// Started is the dyno's latest state change or exit (a restart, a
	// crash, the daily cycling): its memory from before does not count.
	// Zero when there was none within MemoryLookback.
	Started       time.Time
	RSSMB, SwapMB float64       // the latest sample's
	QuotaMB       float64       // the latest memory_quota_mb; 0 when none was logged
	Points        []MemoryPoint // since Started and within MemoryLookback, oldest first
}

// MemoryLookback is how far back memory is fitted. A leak that lasts
// shows in the last hours as well as in the day: fitting at most these
// keeps the read of every dyno of every app, each minute, small.
const MemoryLookback = 6 * time.Hour

// Fit limits of the memory forecast, besides the rule's threshold (R²)
// and ALERT_MEMORY_LEAK_MIN_SPAN.
const (
	// memoryWarmUp after a start is left out of the fit: a dyno fills its
	// caches and pools as it boots, which is growth that stops.
	memoryWarmUp = 10 * time.Minute
	// minMemorySamples minutes with a sample, at the least.
	minMemorySamples = 10
	// memoryFresh: a dyno whose latest sample is older is gone (scaled
	// away, or its logs stopped): nothing is forecast for it.
	memoryFresh = 5 * time.Minute
)

// MemoryForecast is the growth of one dyno's memory since it started and
// when it reaches its quota (R14) and twice it (R15) at that pace.
type MemoryForecast struct {
	Dyno     string
	LatestMB float64 // rss + swap, the latest sample
	QuotaMB  float64
	Since    time.Time     // the first sample fitted
	Samples  int           // minutes fitted
	Span     time.Duration // from the first sample fitted to the last
	// GrowthMBPerHour is the slope of the least-squares line through the
	// samples; RecentMBPerHour that of the last third of them alone.
	GrowthMBPerHour float64
	RecentMBPerHour float64
	R2              float64 // how much of the samples' spread the line explains, 0 to 1
	// Leak says the growth is steady: enough samples over a long enough
	// span, R² at least the rule's threshold, and the last third still
	// growing at half the pace or more (growth that levels off is a dyno
	// warming up or a spike, not a leak). Why says what it lacks.
	Leak bool
	Why  string
	// ToQuota and ToR15 are how long until the line reaches the quota and
	// twice it, 0 when it has; set only for a leak with a known quota.
	ToQuota, ToR15 time.Duration
	HasForecast    bool
}

// ForecastMemory fits d's memory for app at now under the MEMORY_LEAK rule.
func (r *Rules) ForecastMemory(app string, d DynoMemory, now time.Time) MemoryForecast {
	f := MemoryForecast{Dyno: d.Dyno, LatestMB: d.RSSMB + d.SwapMB, QuotaMB: d.QuotaMB}
	pts := d.Points
	if !d.Started.IsZero() {
		warm := d.Started.Add(memoryWarmUp)
		for len(pts) > 0 && pts[0].At.Before(warm) {
			pts = pts[1:]
		}
	}
	if len(pts) > 0 {
		f.Since, f.Span, f.Samples = pts[0].At, pts[len(pts)-1].At.Sub(pts[0].At), len(pts)
	}
	minSpan := r.Policy.MemoryLeakMinSpan
	switch {
	case len(pts) == 0 || now.Sub(pts[len(pts)-1].At) > memoryFresh:
		f.Why = "no recent samples"
		return f
	case len(pts) < minMemorySamples || f.Span < minSpan:
		f.Why = fmt.Sprintf("too few samples since it started (%d over %s; a fit needs %d over %s)",
			len(pts), duration.Short(f.Span), minMemorySamples, duration.Short(minSpan))
		return f
	}
	slope, intercept, r2 := fitLine(pts)
	recent, _, _ := fitLine(pts[len(pts)*2/3:])
	f.GrowthMBPerHour, f.RecentMBPerHour, f.R2 = slope, recent, r2
	minR2 := r.For(app, RuleMemoryLeak).Threshold
	switch {
	case slope <= 0:
		f.Why = "not growing"
	case r2 < minR2:
		f.Why = fmt.Sprintf("growth too irregular to forecast (R² %.2f, under %g)", r2, minR2)
	case recent < slope/2:
		f.Why = fmt.Sprintf("growth slowing down (%.0f MB/h lately, %.0f MB/h in all)", recent, slope)
	default:
		f.Leak = true
	}
	if !f.Leak || d.QuotaMB <= 0 {
		return f
	}
	// From the line rather than the latest sample: one noisy minute does
	// not move the forecast.
	at := intercept + slope*now.Sub(pts[0].At).Hours()
	to := func(mb float64) time.Duration {
		return time.Duration(max(0, (mb-at)/slope) * float64(time.Hour))
	}
	f.ToQuota, f.ToR15, f.HasForecast = to(d.QuotaMB), to(2*d.QuotaMB), true
	return f
}

// fitLine is the least-squares line through pts, MB against hours since
// the first: its slope (MB/h), intercept and R² (1 for a flat, exact line).
func fitLine(pts []MemoryPoint) (slope, intercept, r2 float64) {
	n := float64(len(pts))
	if len(pts) < 2 {
		return 0, 0, 0
	}
	var sx, sy float64
	for _, p := range pts {
		sx += p.At.Sub(pts[0].At).Hours()
		sy += p.MB
	}
	mx, my := sx/n, sy/n
	var sxx, sxy, syy float64
	for _, p := range pts {
		dx, dy := p.At.Sub(pts[0].At).Hours()-mx, p.MB-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return 0, my, 0
	}
	slope = sxy / sxx
	intercept = my - slope*mx
	if syy == 0 {
		return slope, intercept, 1
	}
	return slope, intercept, sxy * sxy / (sxx * syy)
}

// MemoryObservations returns the MEMORY_LEAK rule's observation of each
// dyno forecast for app at now: over when a steady leak reaches the
// dyno's quota within the rule's window, under otherwise (the growth
// stopped, or the dyno restarted and has too few samples yet).
func (r *Rules) MemoryObservations(app string, fs []MemoryForecast, now time.Time) []Observation {
	ru := r.For(app, RuleMemoryLeak)
	if !ru.Enabled {
		return nil
	}
	out := make([]Observation, 0, len(fs))
	for _, f := range fs {
		o := Observation{Key: Key{Rule: RuleMemoryLeak, App: app, Dyno: f.Dyno}.String(), Rule: RuleMemoryLeak, App: app, Dyno: f.Dyno,
			At: now, Count: 1, Kind: Below}
		if f.HasForecast && f.ToQuota <= ru.Window {
			o.Kind = Above
			o.Summary = f.Summary()
		}
		out = append(out, o)
	}
	return out
}

// Summary says f in one line: "web.2 grows 38 MB/h, reaches 512 MB in
// about 1 h 20 min", and how sure.
func (f MemoryForecast) Summary() string {
	var s string
	switch {
	case !f.Leak:
		return fmt.Sprintf("%s at %.0f MB: %s", f.Dyno, f.LatestMB, f.Why)
	case !f.HasForecast:
		s = fmt.Sprintf("%s grows %.0f MB/h, its quota unknown", f.Dyno, f.GrowthMBPerHour)
	case f.ToQuota == 0:
		s = fmt.Sprintf("%s grows %.0f MB/h, over its %.0f MB quota already; twice it (R15, killed) in about %s", f.Dyno, f.GrowthMBPerHour, f.QuotaMB, Rough(f.ToR15))
	default:
		s = fmt.Sprintf("%s grows %.0f MB/h, reaches %.0f MB in about %s", f.Dyno, f.GrowthMBPerHour, f.QuotaMB, Rough(f.ToQuota))
	}
	return s + fmt.Sprintf(" (now %.0f MB; steady for %s since it started, R² %.2f)", f.LatestMB, Rough(f.Span), f.R2)
}

// Rough writes a forecast's duration as people say it, no more precise
// than a forecast is: "40 min", "1 h 20 min", "13 h"; "1 min" at the least.
func Rough(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", max(1, int(d.Round(time.Minute)/time.Minute)))
	case d < 10*time.Hour:
		d = d.Round(10 * time.Minute)
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
	return fmt.Sprintf("%d h", int(math.Round(d.Hours())))
}
