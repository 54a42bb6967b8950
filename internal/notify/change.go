package notify

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// StatusChange is the status of an outbox row that tells a channel of a
// change to an app (a release or a deploy) rather than of an alert.
const StatusChange alert.Status = "change"

// Change is a release or deploy of an app, as the channels that take
// changes (ChangeNotifier) are told of it.
type Change struct {
	App     string    `json:"app"`
	Kind    string    `json:"kind"`              // release or deploy
	Version string    `json:"version,omitempty"` // a release's: v138
	Commit  string    `json:"commit,omitempty"`  // a deploy's
	User    string    `json:"user,omitempty"`
	Line    string    `json:"line"` // the log line, as Heroku wrote it
	At      time.Time `json:"at"`   // the line's time
	URL     string    `json:"url,omitempty"`
}

// Summary is the change in one line: "shop: release v138 by ops@example.com".
func (c *Change) Summary() string {
	what := c.Kind
	if v := cmp.Or(c.Version, c.Commit); v != "" {
		what += " " + v
	}
	if c.User != "" {
		what += " by " + c.User
	}
	return c.App + ": " + what
}

// ChangeNotifier is a Notifier that is also told of releases and deploys
// (PagerDuty's change events), so that they show beside the incidents
// they may have caused.
type ChangeNotifier interface {
	Notifier
	NotifyChange(ctx context.Context, c *Change) (retry bool, err error)
	// ChangeCap is the most changes of one app it is told per span, so
	// that a flood of release lines (from anyone holding the drain
	// secret) cannot flood it; zero: no cap.
	ChangeCap() config.StormCap
}

// changeNotifier returns n, unwrapped from its route, as a ChangeNotifier.
func changeNotifier(n Notifier) (ChangeNotifier, bool) {
	if r, ok := n.(*routed); ok {
		n = r.Notifier
	}
	c, ok := n.(ChangeNotifier)
	return c, ok
}

// ChangeChannels returns the cap on changes of each notifier of ns that
// takes changes, by name.
func ChangeChannels(ns []Notifier) map[string]config.StormCap {
	out := map[string]config.StormCap{}
	for _, n := range ns {
		if c, ok := changeNotifier(n); ok {
			out[n.Name()] = c.ChangeCap()
		}
	}
	return out
}

// Changes returns the outbox rows that tell each of channels of the
// releases and deploys among app's entries, written at now. A row's
// delivery id is derived from the app and the line, so that the outbox
// (which keeps one row per delivery id and channel) tells of a line once
// however often it arrives: a batch Logplex sends again, a drain and a log
// session both following the app, several web dynos.
func Changes(app string, entries []parse.Entry, channels []string, dashboardURL string, now time.Time) ([]alert.Outgoing, error) {
	if len(channels) == 0 {
		return nil, nil
	}
	var out []alert.Outgoing
	for i := range entries {
		e := &entries[i]
		if e.Kind != parse.KindRelease && e.Kind != parse.KindDeploy {
			continue
		}
		c := Change{App: app, Kind: e.Kind.String(), Version: e.Platform.Version, Commit: e.Platform.Commit, User: e.Platform.User,
			Line: strings.TrimSpace(e.Message), At: e.Time.UTC()}
		if dashboardURL != "" {
			c.URL = strings.TrimSuffix(dashboardURL, "/") + "/apps/" + url.PathEscape(app)
		}
		payload, err := json.Marshal(&c)
		if err != nil {
			return nil, fmt.Errorf("notify: the change %q of %s: %w", c.Line, app, err)
		}
		h := sha256.Sum256([]byte(app + "\n" + c.At.Format(time.RFC3339Nano) + "\n" + c.Line))
		id := "change-" + hex.EncodeToString(h[:12])
		for _, ch := range channels {
			out = append(out, alert.Outgoing{DeliveryID: id, Channel: ch, App: app, Status: StatusChange, Severity: alert.Info,
				Payload: payload, CreatedAt: now})
		}
	}
	return out, nil
}

// sendChange tells n of the change d.
func sendChange(ctx context.Context, n Notifier, d *Delivery) (retry bool, err error) {
	cn, ok := changeNotifier(n)
	if !ok {
		return false, fmt.Errorf("channel %s takes no changes", d.Channel)
	}
	var c Change
	if err := json.Unmarshal(d.Payload, &c); err != nil {
		return false, fmt.Errorf("change %d: %w", d.ID, err)
	}
	return cn.NotifyChange(ctx, &c)
}
