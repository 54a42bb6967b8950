package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
)

type alertsPage struct {
	Active   []alertCard // pending and firing
	Past     []alertCard // resolved, newest first
	Silences []alert.Silence
	CanAct   bool
	Now      time.Time
}

// alertCard is one alert episode as the pages show it.
type alertCard struct {
	alert.State
	Now      time.Time
	CanAct   bool           // show its buttons
	Me       string         // the basic-auth user name, the name an ack form offers
	Silenced *alert.Silence // a silence in force that covers it
	Scopes   []scope        // what a silence of it may cover, the narrowest first
	AckAPI   string         // the API route that acknowledges it, while it fires unacknowledged
}

// Acked says whether someone acknowledged the episode (State's method
// takes a pointer, which templates can't make of an embedded field).
func (c alertCard) Acked() bool { return c.State.Acked() }

// viewer is who looks at a page: what its cards offer them.
type viewer struct {
	CanAct bool
	Name   string
}

func (d *dashboard) viewer(r *http.Request) viewer {
	name, _, _ := r.BasicAuth()
	return viewer{CanAct: d.canAct(r), Name: name}
}

// scope is one choice of a silence form: the label shown and the JSON the
// form merges into its request ({"key":"r14|shop|web.1"}).
type scope struct{ Label, JSON string }

// pastAlerts is how many resolved episodes the alerts page lists.
const pastAlerts = 100

// handleAlerts handles "GET /alerts": the silences in force, the firing and
// pending alerts, then the latest resolved ones, each with its evidence
// lines and a link to its timeline; with the password that acts, the
// buttons that silence them and end silences.
func (d *dashboard) handleAlerts(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), d.Now()
	active, err := d.Store.ActiveAlerts(ctx)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	past, err := d.Store.Alerts(ctx, store.AlertQuery{Phase: alert.PhaseResolved, Limit: pastAlerts})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	silences, err := d.Store.ActiveSilences(ctx, now)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	v := d.viewer(r)
	page := alertsPage{Silences: silences, CanAct: v.CanAct, Now: now}
	// Newest first, firing before pending.
	for _, phase := range []alert.Phase{alert.PhaseFiring, alert.PhasePending} {
		for i := len(active) - 1; i >= 0; i-- {
			if active[i].Phase == phase {
				page.Active = append(page.Active, d.card(active[i], silences, v, now))
			}
		}
	}
	for _, a := range past {
		page.Past = append(page.Past, d.card(a, nil, v, now))
	}
	d.render(w, "alerts.html", page)
}

// card makes a's card: the silence that covers it and, while it is active,
// the scopes a new silence may take and the route that acknowledges it.
func (d *dashboard) card(a alert.State, silences []alert.Silence, v viewer, now time.Time) alertCard {
	c := alertCard{State: a, Now: now, CanAct: v.CanAct, Me: v.Name}
	for i, s := range silences {
		if covers(s, a) {
			c.Silenced = &silences[i]
			break
		}
	}
	if a.Phase == alert.PhaseResolved {
		return c
	}
	if a.Phase == alert.PhaseFiring && !a.Acked() {
		c.AckAPI = "/api/v1/alerts/" + url.PathEscape(a.Key) + "/ack"
	}
	c.Scopes = append(c.Scopes, newScope("this alert", map[string]string{"key": a.Key}))
	if a.App != "" {
		c.Scopes = append(c.Scopes, newScope(string(a.Rule)+" on "+a.App, map[string]string{"app": a.App, "rule": string(a.Rule)}), appScope(a.App))
	}
	c.Scopes = append(c.Scopes, newScope(string(a.Rule)+" on every app", map[string]string{"rule": string(a.Rule)}))
	return c
}

func newScope(label string, fields map[string]string) scope {
	b, _ := json.Marshal(fields) // strings only: it can't fail
	return scope{label, string(b)}
}

// appScope is the scope of a silence of all of app.
func appScope(app string) scope { return newScope("all of "+app, map[string]string{"app": app}) }

// covers reports whether s mutes a, as the alert engine matches them: each
// of its app, rule and key empty or a's.
func covers(s alert.Silence, a alert.State) bool {
	return (s.App == "" || s.App == a.App) && (s.Rule == "" || s.Rule == a.Rule) && (s.Key == "" || s.Key == a.Key)
}
