package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// TestSIGTERM runs the real binary as Heroku would and sends it SIGTERM
// after a drain request: it must stop taking requests, write what it held
// and exit 0 well within Heroku's 30 s.
func TestSIGTERM(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dynowatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "sigterm.db")
	cmd := exec.Command(bin, "web")
	cmd.Env = append(os.Environ(), "PORT=0", "DATABASE_URL=", "DYNO=", "DYNOWATCH_DB="+db, "DRAIN_SECRET=s", "DASHBOARD_PASSWORD=pw",
		"ROLLUP_FLUSH_INTERVAL=1h", "TAIL_APPS=", "HEROKU_API_KEY=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	port := ""
	for port == "" {
		select {
		case l := <-lines:
			if m := regexp.MustCompile(`msg=listening addr=\S*:(\d+)`).FindStringSubmatch(l); m != nil {
				port = m[1]
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no listening line")
		}
	}
	base := "http://127.0.0.1:" + port
	waitFor(t, func() bool {
		resp, err := httpGet(base + "/healthz")
		return err == nil && resp == 200
	})
	ts := time.Now().UTC().Format(time.RFC3339)
	if code := post(t, base+"/drain/shop", "s", frame("<158>1 "+ts+" host heroku router - at=info method=GET path=\"/\" dyno=web.1 service=5ms status=503\n"), nil); code != 204 {
		t.Fatalf("drain: %d", code)
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines { // drain the output until the process closes it
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if took := time.Since(start); took > 25*time.Second {
		t.Errorf("took %v to stop", took)
	}
	st := storetest.MustOpen(t, store.Config{Path: db, MaxConns: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ws, err := st.WindowStats(context.Background(), "shop", time.Now().Add(-10*time.Minute), time.Now().Add(time.Minute))
	if err != nil || ws.Status5xx != 1 {
		t.Fatalf("after SIGTERM the store has %+v, %v; want the request's 503 flushed", ws, err)
	}
}

func httpGet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
