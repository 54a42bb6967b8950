package heroku

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Generations of the Heroku platform, as the Platform API names them.
const (
	Cedar = "cedar"
	Fir   = "fir"
)

// Generation is the generation field of the Platform API's answer to
// GET /apps/{app}. It comes in two shapes, depending on the Accept header:
//
//   - version=3 answers an object, {"id": …, "name": "fir"} (App.Generation
//     in heroku/heroku-go v6, generated from that schema);
//   - version=3.sdk answers the bare name, "fir" (app.generation in the
//     3.sdk schema of heroku/typescript-api-schema, and the app fixtures of
//     heroku/cli's tests).
//
// The Heroku CLI's getGeneration (src/lib/apps/generation.ts) reads both, and
// so does Generation. An answer without one, or with null, is a Cedar app:
// every app was, before Fir.
type Generation struct{ name string }

// String returns the generation's name: Cedar, Fir, or a name dynowatch does
// not know yet.
func (g Generation) String() string {
	if g.name == "" {
		return Cedar
	}
	return g.name
}

// UnmarshalJSON reads either shape.
func (g *Generation) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		g.name = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &g.name)
	}
	var o struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("app generation %.40s is neither a name nor an object with one: %w", b, err)
	}
	g.name = o.Name
	return nil
}
