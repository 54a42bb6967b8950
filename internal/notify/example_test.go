package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/notify"
)

// lineChannel is a channel of your own: any type with Name and Notify is an
// notify.Notifier. This one writes each notification as one line.
type lineChannel struct{ w io.Writer }

func (c lineChannel) Name() string { return "line" }

func (c lineChannel) Notify(ctx context.Context, n *alert.Notification) (retry bool, err error) {
	_, err = fmt.Fprintln(c.w, notify.RenderSMS(n))
	return false, err
}

// A channel of your own takes a few lines. Add it to the notifiers the
// worker is given (notify.Channels), beside the built-in ones.
func Example_ownChannel() {
	var ch notify.Notifier = lineChannel{os.Stdout}
	ch.Notify(context.Background(), &alert.Notification{
		ID:     "01JPB7M2Z3R14SHOPWEB1",
		Status: alert.Firing,
		Alerts: []alert.Alert{{
			Rule: "r14", App: "shop", Dyno: "web.1", Code: "R14", Severity: alert.Critical,
			Summary: "R14 memory quota exceeded", StartedAt: time.Date(2025, 3, 14, 9, 26, 3, 0, time.UTC),
		}},
		URL: "https://dynowatch.example.com/alerts/1",
	})
	// Output: FIRING critical R14 shop web.1: memory quota exceeded https://dynowatch.example.com/alerts/1
}

// chatChannel posts to a chat's incoming webhook. It shows the contract of
// Notify: retry=true for what may work later (notify.RetryableStatus
// decides for HTTP statuses), and errors without the webhook's URL, which
// is a secret.
type chatChannel struct {
	url    string
	client *http.Client
}

func (c chatChannel) Name() string { return "chat" }

func (c chatChannel) Notify(ctx context.Context, n *alert.Notification) (retry bool, err error) {
	e, err := notify.RenderEmail(n)
	if err != nil {
		return false, err
	}
	body, _ := json.Marshal(map[string]string{"text": e.Subject + "\n" + n.URL})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("chat: bad URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("chat: the post failed") // net errors quote the URL
	}
	resp.Body.Close()
	ok, retry := notify.RetryableStatus(resp.StatusCode)
	if !ok {
		return retry, fmt.Errorf("chat: %s", resp.Status)
	}
	return false, nil
}

// A channel that posts somewhere follows the same rules as the built-in
// ones: it says whether a failure is worth a retry, and its errors hold no
// secret.
func Example_chatChannel() {
	var ch notify.Notifier = chatChannel{
		url:    "https://chat.example.com/hooks/secret-token",
		client: &http.Client{Timeout: 10 * time.Second},
	}
	fmt.Println(ch.Name())
	// Output: chat
}
