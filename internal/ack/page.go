package ack

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
)

//go:embed templates/page.html
var templates embed.FS

var pageHTML = template.Must(template.ParseFS(templates, "templates/page.html"))

// Store is what the ack endpoints read, the alert key's latest episode and
// whether it has one, and the audit log they add their acks to.
type Store interface {
	Alert(ctx context.Context, key string) (alert.State, bool, error)
	AddAudit(ctx context.Context, e *store.AuditEntry) error
}

// Acker acknowledges alerts: the alert engine.
type Acker interface {
	Ack(ctx context.Context, key, by, reason string) (alert.State, error)
}

// Options configures the ack endpoints.
type Options struct {
	Links  *Links // the ack page; nil: none (DYNOWATCH_URL unset)
	Store  Store
	Acker  Acker
	Logger *slog.Logger
	Now    func() time.Time // optional
	// SlackSigningSecret (SLACK_SIGNING_SECRET), if set, mounts the Slack
	// app's interactivity endpoint that the Acknowledge button posts to.
	SlackSigningSecret string
}

// Register mounts the ack page on mux, and Slack's interactivity endpoint,
// without the dashboard password: the signed link, or Slack's signature, is
// the credential.
func Register(mux *http.ServeMux, o Options) error {
	switch {
	case o.Links == nil && o.SlackSigningSecret == "":
		return errors.New("ack: Options.Links or Options.SlackSigningSecret is required")
	case o.Store == nil:
		return errors.New("ack: Options.Store is required")
	case o.Acker == nil:
		return errors.New("ack: Options.Acker is required")
	case o.Logger == nil:
		return errors.New("ack: Options.Logger is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &server{o}
	if o.Links != nil {
		mux.HandleFunc("GET /ack/{token}", s.handlePage)
		mux.HandleFunc("POST /ack/{token}", s.handleAck)
	}
	if o.SlackSigningSecret != "" {
		mux.HandleFunc("POST /slack/interactions", s.handleSlack)
	}
	return nil
}

type server struct{ o Options }

// page is what the template shows.
type page struct {
	Title   string
	Message string // why the link does nothing, or what it did
	Problem bool   // Message is a refusal
	Alert   *alert.State
	Form    bool // ask for a name and a reason
	Name    string
	Reason  string
}

// maxForm bounds a posted form: a name, a reason, or Pushover's callback.
const maxForm = 8 << 10

// handlePage handles "GET /ack/{token}": the alert, and a form asking who
// acknowledges it and why. A GET acknowledges nothing, so chat apps that
// fetch a link to preview it do not.
func (s *server) handlePage(w http.ResponseWriter, r *http.Request) {
	a, ok := s.open(w, r)
	if !ok {
		return
	}
	s.show(w, http.StatusOK, s.stateOf(&a, page{}))
}

// handleAck handles "POST /ack/{token}": acknowledge the link's alert with
// the form's name and reason; or, posted by Pushover as an emergency
// notification's callback, with the device it was acknowledged on.
func (s *server) handleAck(w http.ResponseWriter, r *http.Request) {
	a, ok := s.open(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.show(w, http.StatusBadRequest, page{Title: "Not acknowledged", Problem: true, Message: "The form could not be read."})
		return
	}
	by, reason := r.PostForm.Get("name"), r.PostForm.Get("reason")
	if r.PostForm.Get("receipt") != "" && r.PostForm.Get("acknowledged") == "1" {
		by = "Pushover"
		if d := r.PostForm.Get("acknowledged_by_device"); d != "" {
			by += " (" + d + ")"
		}
	}
	acked, err := s.o.Acker.Ack(r.Context(), a.Key, by, reason)
	if err == nil && !a.Acked() {
		s.audit(r, "ack link", &acked)
	}
	switch {
	case errors.Is(err, alert.ErrBadAck):
		s.show(w, http.StatusBadRequest, page{Title: "Acknowledge", Alert: &a, Form: true, Name: by, Reason: reason, Problem: true,
			Message: "Not acknowledged: " + strings.TrimPrefix(err.Error(), "alert: bad acknowledgement: ")})
		return
	case errors.Is(err, alert.ErrNotFiring):
		s.show(w, http.StatusConflict, s.stateOf(&a, page{}))
		return
	case err != nil:
		s.o.Logger.Error("ack from a link", "key", a.Key, "err", err)
		s.show(w, http.StatusInternalServerError, page{Title: "Not acknowledged", Problem: true, Message: "Something went wrong; try again."})
		return
	}
	s.show(w, http.StatusOK, s.stateOf(&acked, page{}))
}

// audit records the ack of a in the audit log, by actor (how it came: the
// ack link, Slack). A failure is logged: the ack is done all the same.
func (s *server) audit(r *http.Request, actor string, a *alert.State) {
	e := store.AuditEntry{At: s.o.Now(), Actor: actor, Action: store.AuditAck, App: a.App, Rule: a.Rule, Key: a.Key,
		Reason: a.Ack.Reason, Detail: "as " + a.Ack.By}
	if err := s.o.Store.AddAudit(r.Context(), &e); err != nil {
		s.o.Logger.Error("recording an ack in the audit log", "key", a.Key, "by", a.Ack.By, "err", err)
	}
}

// open checks the link and reads its alert; on false it has answered.
func (s *server) open(w http.ResponseWriter, r *http.Request) (alert.State, bool) {
	key, episode, expires, err := s.o.Links.Verify(r.PathValue("token"), s.o.Now())
	switch {
	case errors.Is(err, ErrExpired):
		s.show(w, http.StatusGone, page{Title: "Link expired", Problem: true,
			Message: "This acknowledge link expired on " + expires.Format("2006-01-02 15:04 MST") + ". Use the link of a newer notification, or the dashboard."})
		return alert.State{}, false
	case err != nil:
		s.show(w, http.StatusForbidden, page{Title: "Link not valid", Problem: true,
			Message: "This acknowledge link is not one this dynowatch signed: it was changed or cut short. Copy it whole from the notification."})
		return alert.State{}, false
	}
	a, ok, err := s.o.Store.Alert(r.Context(), key)
	switch {
	case err != nil:
		s.o.Logger.Error("ack link: reading the alert", "key", key, "err", err)
		s.show(w, http.StatusInternalServerError, page{Title: "Not available", Problem: true, Message: "Something went wrong; try again."})
		return alert.State{}, false
	case !ok:
		s.show(w, http.StatusNotFound, page{Title: "Alert gone", Problem: true, Message: "This alert is no longer kept."})
		return alert.State{}, false
	case !SameEpisode(episode, a.StartedAt):
		// The alert resolved and fired again since: the old link must not
		// take the new episode on, which nobody has looked at yet.
		s.show(w, http.StatusConflict, page{Title: "Link of an earlier episode", Problem: true, Alert: &a,
			Message: "This acknowledge link is for an earlier episode of this alert, which has ended; the alert has started again since. Use the link of the newest notification, or the dashboard."})
		return alert.State{}, false
	}
	return a, true
}

// stateOf is the page of a as it stands: acknowledged, over, or to be
// acknowledged.
func (s *server) stateOf(a *alert.State, p page) page {
	p.Alert = a
	switch {
	case a.Phase != alert.PhaseFiring:
		p.Title, p.Message = "Not firing", "This alert is not firing any more: there is nothing to acknowledge."
	case a.Acked():
		p.Title, p.Message = "Acknowledged", "Acknowledged by "+a.Ack.By+" at "+a.Ack.At.UTC().Format("2006-01-02 15:04 MST")+"."
		if a.Ack.Reason != "" {
			p.Message += " Reason: " + a.Ack.Reason
		}
	default:
		p.Title, p.Form = "Acknowledge", true
	}
	return p
}

func (s *server) show(w http.ResponseWriter, status int, p page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The token in the URL is a credential: it must not leave in a Referer.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	if err := pageHTML.Execute(w, p); err != nil {
		s.o.Logger.Error("ack page", "err", err)
	}
}
