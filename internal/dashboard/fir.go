package dashboard

import (
	"net/http"

	"github.com/dynowatch/dynowatch/internal/otlp"
)

// handleFir handles "GET /fir": per app, the shapes of telemetry the web
// dynos were sent in the last 24 h and which of them dynowatch reads, so
// that a Fir shape it does not know is seen instead of lost.
func (d *dashboard) handleFir(w http.ResponseWriter, r *http.Request) {
	page := struct {
		Report otlp.SightingsReport
	}{}
	if d.Sightings != nil {
		var err error
		if page.Report, err = d.Sightings.Sightings(r.Context()); err != nil {
			d.fail(w, r, err)
			return
		}
	}
	d.render(w, "fir.html", page)
}
