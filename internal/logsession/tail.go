package logsession

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/heroku"
	"github.com/dynowatch/dynowatch/internal/parse"
	"github.com/dynowatch/dynowatch/internal/worker"
)

// TailLease is how long a worker holds an app of TAIL_APPS between
// renewals: when it dies, another worker takes the app over within about
// this.
const TailLease = 90 * time.Second

// Jobs are the worker jobs that tail each of apps into sink on the worker
// that holds the app's lease, so that with several workers each app is
// followed once. A job ends, with the error, when the API refuses the key
// or knows no such app: following again would not help.
func (c *Client) Jobs(apps []string, sink drain.Sink) []worker.Held {
	jobs := make([]worker.Held, len(apps))
	for i, app := range apps {
		jobs[i] = worker.Held{Name: "tail:" + app, Lease: TailLease, Run: func(ctx context.Context) error {
			err := c.Tail(ctx, app, sink, nil)
			if errors.Is(err, heroku.ErrUnauthorized) || errors.Is(err, heroku.ErrNoApp) {
				return fmt.Errorf("pull mode stopped for app %s: %w", app, err)
			}
			return nil // the session ended or a batch was refused: follow again while the lease is held
		}}
	}
	return jobs
}

// Tail follows app (see Follow) into sink: each delivery of lines becomes a
// batch taken like a drain request's, and each message parsed is handed to
// show too, if set. A session has no frame id and no retries, so the
// batches have no dedupe key. It returns what Follow returns.
func (c *Client) Tail(ctx context.Context, app string, sink drain.Sink, show func(*parse.Entry)) error {
	return c.Follow(ctx, app, func(ctx context.Context, lines []byte) error {
		b := &drain.Batch{App: app, Received: time.Now()}
		bad := func(err error) { c.log.Warn("bad log line from the log session", "app", app, "err", err) }
		if err := drain.ScanBatch(b, bytes.NewReader(lines), parse.FormPlain, nil, bad); err != nil {
			return err // a bytes.Reader has no read errors: never
		}
		if show != nil {
			for i := range b.Entries {
				show(&b.Entries[i])
			}
		}
		_, err := sink.Ingest(ctx, b)
		return err
	})
}
