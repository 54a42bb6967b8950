package logsession

import (
	"bytes"
	"context"
	"time"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/parse"
)

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
