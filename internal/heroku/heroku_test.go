package heroku

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidApp(t *testing.T) {
	for name, want := range map[string]bool{
		"my-app": true, "a1": true, "shop-production-eu": true, strings.Repeat("a", 30): true,
		"x": false, "1app": false, "My-App": false, "my_app": false, "": false, " my-app": false, strings.Repeat("a", 31): false,
	} {
		if got := ValidApp(name); got != want {
			t.Errorf("ValidApp(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestGeneration reads the generation of GET /apps/{app} answers in both of
// the API's shapes.
func TestGeneration(t *testing.T) {
	for body, want := range map[string]string{
		// version=3, as heroku-go v6 decodes it
		`{"name":"fir-shop","generation":{"id":"b1c2d3e4-0000-4000-8000-0000000000f1","name":"fir"}}`:  Fir,
		`{"name":"my-shop","generation":{"id":"b1c2d3e4-0000-4000-8000-0000000000c1","name":"cedar"}}`: Cedar,
		// version=3.sdk, as the Heroku CLI's app fixtures have it
		`{"name":"my-fir-app","generation":"fir"}`:     Fir,
		`{"name":"my-cedar-app","generation":"cedar"}`: Cedar,
		// apps from before Fir
		`{"name":"old-shop"}`:                   Cedar,
		`{"name":"old-shop","generation":null}`: Cedar,
		// a later generation is passed on for the caller to refuse
		`{"name":"next","generation":{"name":"next-gen"}}`: "next-gen",
	} {
		var app struct {
			Generation Generation `json:"generation"`
		}
		if err := json.Unmarshal([]byte(body), &app); err != nil || app.Generation.String() != want {
			t.Errorf("answer %s: generation %q, %v; want %q", body, app.Generation, err, want)
		}
	}
	var app struct {
		Generation Generation `json:"generation"`
	}
	if err := json.Unmarshal([]byte(`{"generation":42}`), &app); err == nil || !strings.Contains(err.Error(), "42") {
		t.Errorf("generation 42: error %v, want one that shows it", err)
	}
}

// FuzzGeneration: any answer's generation field decodes without panicking,
// to the name it carries in either shape.
func FuzzGeneration(f *testing.F) {
	for _, s := range []string{`"fir"`, `{"id":"x","name":"cedar"}`, `null`, `42`, `{"name":null}`, `[]`, `"\u0066ir"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		var g Generation
		if g.UnmarshalJSON([]byte(field)) != nil {
			return
		}
		var name string
		var obj struct{ Name string }
		if json.Unmarshal([]byte(field), &name) != nil && json.Unmarshal([]byte(field), &obj) == nil {
			name = obj.Name
		}
		if name == "" {
			name = Cedar
		}
		if g.String() != name {
			t.Errorf("generation %s read as %q, want %q", field, g, name)
		}
	})
}
