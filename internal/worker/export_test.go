package worker

import (
	"context"
	"time"
)

// RunOnce runs j at now as its schedule would, for the tests of package
// worker_test (which import the store, and the store imports a package
// that imports worker).
func (w *Worker) RunOnce(ctx context.Context, j Job, now time.Time) { w.runOnce(ctx, j, now) }
