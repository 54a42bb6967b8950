package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/heroku"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// replayBatch is how many messages go to the pipeline at a time, about a
// Logplex batch's worth.
const replayBatch = 500

// runReplay implements "dynowatch replay --app NAME FILE": the file's
// messages go through the same pipeline as a drain's. Each batch's dedupe key
// comes from the file's content, so replaying a file twice stores it once.
func runReplay(ctx context.Context, cfg *config.Config, log *slog.Logger, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	app := fs.String("app", "", "the Heroku app the log is from")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: dynowatch replay --app NAME FILE\n\nPushes a saved log (heroku logs output or a Logplex drain body) through the drain pipeline into the store.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2}
	}
	if fs.NArg() != 1 || !heroku.ValidApp(*app) {
		fs.Usage()
		return usageError("replay needs --app with a Heroku app name and one FILE")
	}
	content, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	sum := sha256.Sum256(content)
	fileKey := hex.EncodeToString(sum[:8])

	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	pipe, err := newPipeline(cfg, log, st, nil, nil)
	if err != nil {
		return err
	}
	pipeCtx, stopPipe := context.WithCancel(context.WithoutCancel(ctx))
	flushed := make(chan error, 1)
	go func() { flushed <- pipe.Run(pipeCtx) }()

	// CommitKey: a batch of requests only would otherwise have its key
	// written by the next flush only, and a second run, a new process,
	// would not find it and count the file again.
	b := &drain.Batch{App: *app, Replayed: true, CommitKey: true}
	total, bad, dups, n := 0, 0, 0, 0
	send := func() error {
		n++
		b.Key, b.Received = "replay:"+fileKey+":"+strconv.Itoa(n), time.Now()
		dup, err := pipe.Ingest(ctx, b)
		if dup {
			dups++
		}
		total += len(b.Entries)
		bad += b.BadFrames
		b.Entries, b.BadFrames = b.Entries[:0], 0
		return err
	}
	err = drain.ScanBatch(b, bytes.NewReader(content), parse.FormAuto,
		func(b *drain.Batch) error {
			if len(b.Entries) == replayBatch {
				return send()
			}
			return nil
		},
		func(perr error) { fmt.Fprintf(stderr, "%s: %v\n", fs.Arg(0), perr) })
	if err == nil && (len(b.Entries) > 0 || b.BadFrames > 0) {
		err = send()
	}
	stopPipe()
	if ferr := <-flushed; err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("replaying %s: %w", fs.Arg(0), err)
	}
	log.Info("replayed", "app", *app, "file", fs.Arg(0), "messages", total, "bad", bad, "batches_already_stored", dups)
	return nil
}
