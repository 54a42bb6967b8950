package alert

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/duration"
)

// Release is one release of an app: a "Release vN created by …" line, with
// the commit of the "Deploy … by …" line Heroku writes beside it, or a
// deploy line alone.
type Release struct {
	At      time.Time
	Version string // v139; "" for a deploy line alone
	User    string
	Commit  string // "" when no deploy line came with it
	Line    string // the release line (else the deploy line), as evidence
}

// Name is how people call r: its version, else its commit.
func (r Release) Name() string {
	if r.Version != "" {
		return r.Version
	}
	return r.Commit
}

// Figures are an app's traffic and crashes over a span of whole minutes.
type Figures struct {
	Minutes   int   // whole minutes of rollups the span holds
	Requests  int64 // served by the app: H80 maintenance pages are not its
	Status5xx int64
	P95, P99  float64          // service time, ms; NaN when no request had one
	Codes     map[string]int64 // router errors per H code
	Crashes   int64            // dynos that changed state to crashed
}

// Share5xx is the percent of requests answered with 5xx; NaN with none.
func (f Figures) Share5xx() float64 {
	if f.Requests == 0 {
		return math.NaN()
	}
	return 100 * float64(f.Status5xx) / float64(f.Requests)
}

// HPerMinute is f's router errors a minute, but for the codes that never
// page (ALERT_H_CODES_IGNORE) and H80, Heroku's maintenance page.
func (r *Rules) HPerMinute(f Figures) float64 {
	var n int64
	for code, c := range f.Codes {
		if code != "H80" && !slices.Contains(r.Policy.IgnoreHCodes, code) {
			n += c
		}
	}
	return float64(n) / float64(max(f.Minutes, 1))
}

// Verdicts of a release.
const (
	VerdictPending  = "pending"          // its minutes after have not all passed yet
	VerdictFew      = "too few requests" // nothing changed that can be judged without requests, and too few to judge the rest
	VerdictNoChange = "no change"
	VerdictBetter   = "better"
	VerdictWorse    = "worse"
)

// Change is one figure a release changed significantly.
type Change struct {
	What          string // 5xx, p95, p99, H errors, crashes
	Before, After string // as people read them: "0.4%", "180 ms"
	Worse         bool
}

// ReleaseVerdict is what a release did: its figures over the window after it
// against the same span before it, and what changed.
type ReleaseVerdict struct {
	Release
	Previous      string    // the version before it, as `heroku rollback` takes it; "" when not known
	AfterEnd      time.Time // the end of its minutes after: the window, or the next release
	Before, After Figures
	// DayBefore is the span after it a day earlier: the traffic of that
	// hour of the day without the release.
	DayBefore Figures
	Verdict   string
	Changes   []Change
}

// ReleaseSpans returns the spans to compare for rel, given the release
// before it and after it (zero when none): up to the RELEASE rule's window
// after it and as long before it, neither reaching into another release's.
func (r *Rules) ReleaseSpans(app string, rel Release, prev, next time.Time) (before, after [2]time.Time) {
	w := r.For(app, RuleRelease).Window
	end := rel.At.Add(w)
	if !next.IsZero() && next.Before(end) {
		end = next
	}
	start := rel.At.Add(-end.Sub(rel.At))
	if !prev.IsZero() && prev.After(start) {
		start = prev
	}
	return [2]time.Time{start, rel.At}, [2]time.Time{rel.At, end}
}

// JudgeRelease compares a release's figures after it with those before it
// at now under the RELEASE rule: a figure at least THRESHOLD times what it
// was, and by a margin (1 point of 5xx share, 100 ms, one more H error a
// minute, two more crashes), changed; a share or service time needs
// ALERT_RELEASE_MIN_REQUESTS requests on both sides. When the same span a
// day earlier had as many requests, a figure is worse only if it is worse
// than then too: a release at the morning's rise of traffic does not own
// the rise's slower, failing requests.
func (r *Rules) JudgeRelease(app string, v ReleaseVerdict, now time.Time) ReleaseVerdict {
	v.Changes, v.Verdict = nil, VerdictNoChange
	if now.Before(v.AfterEnd) {
		v.Verdict = VerdictPending
		return v
	}
	t := r.For(app, RuleRelease).Threshold
	b, a, day := v.Before, v.After, v.DayBefore
	daily := day.Requests >= int64(r.Policy.MinReleaseRequests)
	judge := func(what string, before, after, dayBefore, margin float64, format func(float64) string) {
		worse := func(than float64) bool { return after >= t*than && after-than >= margin }
		switch {
		case math.IsNaN(before) || math.IsNaN(after):
		case worse(before) && (!daily || math.IsNaN(dayBefore) || worse(dayBefore)):
			v.Changes = append(v.Changes, Change{What: what, Before: format(before), After: format(after), Worse: true})
		case before >= t*after && before-after >= margin:
			v.Changes = append(v.Changes, Change{What: what, Before: format(before), After: format(after)})
		}
	}
	enough := b.Requests >= int64(r.Policy.MinReleaseRequests) && a.Requests >= int64(r.Policy.MinReleaseRequests)
	if enough {
		pct := func(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) + "%" }
		ms := func(x float64) string { return fmt.Sprintf("%.0f ms", x) }
		judge("5xx", b.Share5xx(), a.Share5xx(), day.Share5xx(), 1, pct)
		judge("p95", b.P95, a.P95, day.P95, 100, ms)
		judge("p99", b.P99, a.P99, day.P99, 100, ms)
	}
	judge("H errors", r.HPerMinute(b), r.HPerMinute(a), r.HPerMinute(day), 1, func(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) + "/min" })
	judge("crashes", float64(b.Crashes), float64(a.Crashes), math.NaN(), 2, func(x float64) string { return strconv.FormatFloat(x, 'f', 0, 64) })
	for _, c := range v.Changes {
		if c.Worse {
			v.Verdict = VerdictWorse
			return v
		}
	}
	switch {
	case len(v.Changes) > 0:
		v.Verdict = VerdictBetter
	case !enough:
		v.Verdict = VerdictFew
	}
	return v
}

// Summary says what v did in one line, most important first.
func (v ReleaseVerdict) Summary(app string) string {
	var b strings.Builder
	b.WriteString(v.Name())
	if v.User != "" {
		b.WriteString(" by " + v.User)
	}
	if v.Commit != "" && v.Version != "" {
		b.WriteString(" (commit " + v.Commit + ")")
	}
	switch v.Verdict {
	case VerdictWorse, VerdictBetter:
		fmt.Fprintf(&b, " made %s %s:", app, v.Verdict)
		sep := " "
		for _, c := range v.Changes {
			if c.Worse == (v.Verdict == VerdictWorse) {
				fmt.Fprintf(&b, "%s%s %s → %s", sep, c.What, c.Before, c.After)
				sep = ", "
			}
		}
		fmt.Fprintf(&b, " (%s after it against as long before)", duration.Short(v.AfterEnd.Sub(v.At)))
		if v.Verdict == VerdictWorse && v.Previous != "" {
			fmt.Fprintf(&b, "; roll back: heroku rollback %s -a %s", v.Previous, app)
		}
	default:
		b.WriteString(": " + v.Verdict)
	}
	return b.String()
}

// PreviousVersion is the release before version as `heroku rollback` takes
// it: v138 for v139; "" when version is no release number.
func PreviousVersion(version string) string {
	n, err := strconv.Atoi(strings.TrimPrefix(version, "v"))
	if err != nil || n < 2 || !strings.HasPrefix(version, "v") {
		return ""
	}
	return "v" + strconv.Itoa(n-1)
}

// ReleaseObservation is the RELEASE rule's observation of v at now: over
// when it made the app worse, once its minutes after have passed, and for
// a window after that (so that it fires once, and resolves a window later).
// ok is false when v is not to be observed now.
func (r *Rules) ReleaseObservation(app string, v ReleaseVerdict, now time.Time) (o Observation, ok bool) {
	ru := r.For(app, RuleRelease)
	if !ru.Enabled || v.Verdict == VerdictPending || now.Sub(v.AfterEnd) >= ru.Window {
		return Observation{}, false
	}
	o = Observation{Key: Key{Rule: RuleRelease, App: app, Code: v.Name()}.String(), Rule: RuleRelease, App: app, Code: v.Name(),
		At: now, Count: 1, Kind: Below, Evidence: v.Line}
	if v.Verdict == VerdictWorse {
		o.Kind, o.Summary = Above, v.Summary(app)
	}
	return o, true
}

// ReleaseFigures is what Verdicts reads: an app's releases and its figures
// over a span.
type ReleaseFigures interface {
	// Releases returns app's releases from from to to, oldest first.
	Releases(ctx context.Context, app string, from, to time.Time) ([]Release, error)
	// Figures returns app's figures over the whole minutes from from to to.
	Figures(ctx context.Context, app string, from, to time.Time) (Figures, error)
}

// Verdicts judges rels, app's releases oldest first, at now: each one's
// figures after it against as long before it, up to the releases beside it.
func (r *Rules) Verdicts(ctx context.Context, src ReleaseFigures, app string, rels []Release, now time.Time) ([]ReleaseVerdict, error) {
	out := make([]ReleaseVerdict, len(rels))
	for i, rel := range rels {
		var prev, next time.Time
		if i > 0 {
			prev = rels[i-1].At
		}
		if i+1 < len(rels) {
			next = rels[i+1].At
		}
		before, after := r.ReleaseSpans(app, rel, prev, next)
		v := ReleaseVerdict{Release: rel, Previous: PreviousVersion(rel.Version), AfterEnd: after[1]}
		var err error
		if v.Before, err = src.Figures(ctx, app, before[0], before[1]); err != nil {
			return nil, err
		}
		end := after[1]
		if now.Before(end) {
			end = now // pending: its minutes after so far
		}
		if v.After, err = src.Figures(ctx, app, after[0], end); err != nil {
			return nil, err
		}
		if v.DayBefore, err = src.Figures(ctx, app, after[0].Add(-24*time.Hour), end.Add(-24*time.Hour)); err != nil {
			return nil, err
		}
		out[i] = r.JudgeRelease(app, v, now)
	}
	return out, nil
}
