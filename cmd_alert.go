package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/notify"
)

// runAlertTest implements "dynowatch alert test": a test notification
// through every configured channel, straight away (not through the outbox),
// and each channel's result.
func runAlertTest(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "test" {
		return usageError("usage: dynowatch alert test")
	}
	notifiers, err := notify.Channels(cfg)
	if err != nil {
		return err
	}
	if len(notifiers) == 0 {
		return fmt.Errorf("no alert channel configured: set %s (see README)", notify.ChannelVars)
	}
	now := time.Now()
	n := &alert.Notification{ID: "test-" + now.UTC().Format("20060102T150405"), Status: alert.Test, CreatedAt: now, Timezone: cfg.Timezone,
		URL: publicURL(cfg).String(), Alerts: []alert.Alert{{Key: "test|dynowatch", Rule: "test", App: "dynowatch", Severity: alert.Critical,
			Summary: "Test notification from dynowatch: this channel works", StartedAt: now}}}
	failed := 0
	for _, nt := range notifiers {
		_, err := nt.Notify(ctx, n)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "%-16s FAILED: %v\n", nt.Name(), err)
			continue
		}
		fmt.Fprintf(stdout, "%-16s ok\n", nt.Name())
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d channels failed", failed, len(notifiers))}
	}
	return nil
}
