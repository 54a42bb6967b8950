package dashboard

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/store"
)

// step is one line of an incident's timeline.
type step struct {
	At     time.Time
	What   string // started, fired, notified, silenced, resolved …
	Who    string // the channel, or the person who acted
	Detail string
	Class  string // the CSS class of What
}

type timelinePage struct {
	Alert alertCard
	Steps []step
	Now   time.Time
}

// auditSteps is how many audit entries a timeline shows.
const auditSteps = 200

// handleTimeline handles "GET /alerts/{id}": one episode of an alert, and
// its timeline: when it started and fired, every notification with its
// channel and fate (sent, passed over, given up, waiting; an escalation's
// too, as they go through the outbox), who acknowledged it, who silenced or
// unsilenced it meanwhile, and when it resolved.
func (d *dashboard) handleTimeline(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), d.Now()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		http.Error(w, "no such alert", http.StatusNotFound)
		return
	}
	as, err := d.Store.Alerts(ctx, store.AlertQuery{ID: id, Limit: 1})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	if len(as) == 0 {
		http.Error(w, "no such alert", http.StatusNotFound)
		return
	}
	a := as[0]
	silences, err := d.Store.ActiveSilences(ctx, now)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	deliveries, err := d.Store.AlertDeliveries(ctx, a.Key, a.StartedAt, a.ResolvedAt)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	audit, err := d.Store.Audit(ctx, store.AuditQuery{About: &a, From: a.StartedAt, To: a.ResolvedAt, Limit: auditSteps})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	page := timelinePage{Alert: d.card(a, silences, d.viewer(r), now), Steps: timeline(a, deliveries, audit), Now: now}
	d.render(w, "timeline.html", page)
}

// timeline puts an episode's steps in time order.
func timeline(a alert.State, deliveries []notify.Delivery, audit []store.AuditEntry) []step {
	steps := []step{{At: a.StartedAt, What: "started", Detail: a.Summary, Class: "pending"}}
	if !a.FiredAt.IsZero() {
		steps = append(steps, step{At: a.FiredAt, What: "fired", Detail: string(a.Severity), Class: "firing"})
	}
	for _, dl := range deliveries {
		steps = append(steps, deliveryStep(dl))
	}
	if a.Acked() {
		steps = append(steps, step{At: a.Ack.At, What: "acknowledged", Who: a.Ack.By, Detail: a.Ack.Reason, Class: "ok"})
	}
	for _, e := range audit {
		if e.Action == store.AuditAck {
			continue // the episode's own ack, above, says who took it on
		}
		s := step{At: e.At, What: string(e.Action), Who: e.Actor, Detail: e.Reason, Class: "muted"}
		switch e.Action {
		case store.AuditSilence:
			s.What, s.Class = "silenced", "silent"
		case store.AuditUnsilence:
			s.What = "silence ended"
		case store.AuditDeleteApp:
			s.What = "app deleted"
		}
		if e.Detail != "" {
			s.Detail = joinDetail(e.Reason, scopeText(e)+e.Detail)
		}
		steps = append(steps, s)
	}
	if !a.ResolvedAt.IsZero() {
		steps = append(steps, step{At: a.ResolvedAt, What: "resolved", Class: "ok"})
	}
	slices.SortStableFunc(steps, func(x, y step) int { return cmp.Compare(x.At.UnixMicro(), y.At.UnixMicro()) })
	return steps
}

// deliveryStep is one notification of the episode on one channel.
func deliveryStep(dl notify.Delivery) step {
	s := step{At: dl.CreatedAt, What: string(dl.Status) + " notice", Who: dl.Channel}
	switch {
	case !dl.SentAt.IsZero() && dl.Heard:
		s.At, s.Detail, s.Class = dl.SentAt, "sent", "ok"
	case !dl.SentAt.IsZero():
		s.At, s.Detail, s.Class = dl.SentAt, "not sent: the channel was not to hear it (its route or minimum severity)", "muted"
	case !dl.GaveUpAt.IsZero():
		s.At, s.Detail, s.Class = dl.GaveUpAt, "given up: "+dl.LastError, "firing"
	default:
		s.Detail, s.Class = fmt.Sprintf("waiting (%d attempts)", dl.Attempts), "pending"
		if dl.LastError != "" {
			s.Detail += ": " + dl.LastError
		}
	}
	return s
}

// scopeText says what an audit entry covered: "app shop, rule r14: ".
func scopeText(e store.AuditEntry) string {
	var s string
	for _, p := range [][2]string{{"app", e.App}, {"rule", string(e.Rule)}, {"alert", e.Key}} {
		if p[1] != "" {
			if s != "" {
				s += ", "
			}
			s += p[0] + " " + p[1]
		}
	}
	if s == "" {
		return ""
	}
	return s + ": "
}

func joinDetail(reason, detail string) string {
	if reason == "" {
		return detail
	}
	return "“" + reason + "” — " + detail
}
