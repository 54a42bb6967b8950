package logsession_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/dynowatch/dynowatch/internal/logsession"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// exampleHeroku stands in for api.heroku.com and Logplex: it knows one
// Cedar app and hands out one log session, which streams three lines and
// then stays open.
func exampleHeroku() *httptest.Server {
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apps/{app}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"8d76ca49-b876-41af-8ace-915d300804a6","name":"shop","generation":{"id":"b1c2d3e4-0000-4000-8000-0000000000c1","name":"cedar"}}`)
	})
	mux.HandleFunc("POST /apps/{app}/log-sessions", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"01234567-89ab-cdef-0123-456789abcdef","logplex_url":"%s/sessions/1?srv=1325419200"}`, srv.URL)
	})
	mux.HandleFunc("GET /sessions/1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, `2025-03-14T09:26:03.123456+00:00 heroku[router]: at=info method=GET path="/" host=shop.herokuapp.com request_id=1b2c fwd="203.0.113.9" dyno=web.1 connect=0ms service=12ms status=200 bytes=1043 protocol=https
2025-03-14T09:26:04.000000+00:00 app[web.1]: Completed 200 OK in 11ms
2025-03-14T09:26:05.000000+00:00 heroku[web.1]: Error R14 (Memory quota exceeded)
`)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	srv = httptest.NewServer(mux)
	return srv
}

// Follow feeds an app's log on, batch by batch, until its context is done,
// opening a new session whenever Heroku ends one. Here each batch is parsed
// and printed; the worker hands it to the same pipeline as a drain's.
func ExampleClient_Follow() {
	heroku := exampleHeroku()
	defer heroku.Close()

	c, err := logsession.New(logsession.Options{
		APIURL:     heroku.URL,   // HEROKU_API_URL; https://api.heroku.com if empty
		APIKey:     "an-api-key", // HEROKU_API_KEY
		Logger:     slog.New(slog.DiscardHandler),
		FlushAfter: 50 * time.Millisecond, // a quiet stream's lines wait this long at most
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	err = c.Follow(ctx, "shop", func(ctx context.Context, lines []byte) error {
		s := parse.NewScanner(bytes.NewReader(lines), parse.FormPlain)
		for s.Scan() {
			e, err := s.Entry()
			if err != nil {
				fmt.Println(err)
				continue
			}
			fmt.Printf("%s %s[%s]\n", e.Kind, e.Source, e.Process)
			if e.Kind == parse.KindDynoError {
				stop() // enough for an example
			}
		}
		return nil
	})
	fmt.Println("Follow returned", err)
	// Output:
	// router heroku[router]
	// app app[web.1]
	// dyno_error heroku[web.1]
	// Follow returned <nil>
}

// Open returns one session's stream as plain lines, whether Heroku sends
// them as text or as server-sent events.
func ExampleClient_Open() {
	heroku := exampleHeroku()
	defer heroku.Close()

	c, err := logsession.New(logsession.Options{APIURL: heroku.URL, APIKey: "an-api-key", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	stream, err := c.Open(context.Background(), "shop")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stream.Close()
	lines := bufio.NewScanner(stream)
	for range 2 {
		lines.Scan()
		fmt.Println(lines.Text()[:60])
	}
	// Output:
	// 2025-03-14T09:26:03.123456+00:00 heroku[router]: at=info met
	// 2025-03-14T09:26:04.000000+00:00 app[web.1]: Completed 200 O
}
