package otlp

import (
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/dynowatch/dynowatch/internal/heroku"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// Which attributes say where a record comes from. Heroku has not published
// the keys its Fir collector sets (see the README's "Fir apps"), so each
// field is read from a fixed list, first match wins: Heroku's own keys, then
// the OpenTelemetry semantic conventions for Heroku and Kubernetes (Fir runs
// on Kubernetes, and its dyno names are pod names). A value that does not
// look like what the field holds is passed over, not trusted: a dyno UUID in
// service.instance.id is no dyno name.
var (
	// appKeys name the app, on the resource only: in a space drain each
	// record's resource decides its app. A name starting "heroku-" is a
	// platform component (service.name of the router's own telemetry), not
	// an app.
	appKeys = []string{"heroku.app.name", "heroku.app", "service.name"}
	// dynoKeys name the dyno: web.1 (Cedar) or web-1234abcde-123ab (Fir).
	dynoKeys = []string{"heroku.dyno.name", "heroku.dyno", "k8s.pod.name", "service.instance.id", "host.name"}
	// processTypeKeys name the process type; without one it is read from the dyno name.
	processTypeKeys = []string{"heroku.process.type", "heroku.dyno.type"}
	// releaseKeys name the release, such as v42.
	releaseKeys = []string{"heroku.release.version", "service.version"}
	// componentKeys name the Heroku component that wrote a record
	// (heroku-router, heroku-runtime, heroku-api, …; all start "heroku-"),
	// on the record, then its resource, then the instrumentation scope's
	// name. A record of none is the app's own output.
	componentKeys = []string{"heroku.source", "service.name"}
)

// Origin is where a record comes from.
type Origin struct {
	App         string // "" when nothing names a Heroku app
	Dyno        string // web.1 or web-1234abcde-123ab; "" when unknown
	ProcessType string // web, worker, …
	Release     string
	Component   string // heroku-router, …; "" for the app's own output
}

// resolve reads the origin of a resource's records: the app from the URL
// of an app-level drain (urlApp) when set, else from the resource.
func (k *keys) resolve(urlApp string, attrs []*commonpb.KeyValue, scope string) Origin {
	o := Origin{App: urlApp}
	if o.App == "" {
		o.App = first(attrs, k.app, func(v string) bool { return heroku.ValidApp(v) && !strings.HasPrefix(v, "heroku-") })
	}
	o.Dyno = k.dynoOf(attrs)
	o.ProcessType = first(attrs, k.processType, validProcessType)
	if o.ProcessType == "" {
		o.ProcessType = processType(o.Dyno)
	}
	o.Release = first(attrs, k.release, func(v string) bool { return v != "" && len(v) <= parse.MaxName })
	o.Component = first(attrs, k.component, isComponent)
	if o.Component == "" && isComponent(scope) {
		o.Component = scope
	}
	return o
}

// forRecord refines o with a log record's own attributes: its dyno and
// component, never its app.
func (k *keys) forRecord(o Origin, attrs []*commonpb.KeyValue) Origin {
	if len(attrs) == 0 {
		return o
	}
	if d := k.dynoOf(attrs); d != "" {
		o.Dyno, o.ProcessType = d, processType(d)
	}
	if c := first(attrs, k.component, isComponent); c != "" {
		o.Component = c
	}
	return o
}

// sourceProcess says under which source and process a record's text is
// classified, as Logplex would have framed it on Cedar: heroku[router],
// heroku[web.1] for the dyno manager (R codes, crashes), app[api] for
// releases, app[heroku-postgres] for add-ons, app[web.1] for the app's own
// output. Only Heroku's router and runtime get the heroku source, so
// nothing else can page as a router or dyno error.
func (o Origin) sourceProcess() (source, process string) {
	switch o.Component {
	case "":
		return parse.SourceApp, o.Dyno
	case "heroku-router":
		return parse.SourceHeroku, "router"
	case "heroku-runtime":
		if o.Dyno == "" {
			return parse.SourceHeroku, o.Component
		}
		return parse.SourceHeroku, o.Dyno
	case "heroku-api":
		return parse.SourceApp, "api"
	}
	return parse.SourceApp, o.Component
}

// first returns the first string value of keys in attrs that ok accepts.
func first(attrs []*commonpb.KeyValue, keys []string, ok func(string) bool) string {
	for _, k := range keys {
		for _, kv := range attrs {
			if kv.GetKey() != k {
				continue
			}
			if v := kv.GetValue().GetStringValue(); ok(v) {
				return v
			}
		}
	}
	return ""
}

func isComponent(v string) bool {
	return strings.HasPrefix(v, "heroku-") && len(v) <= parse.MaxProcess && validProcessType(v)
}

// validDyno reports whether v is a dyno name: TYPE.N on Cedar (web.1,
// run.1234), TYPE-HASH-ID on Fir (web-1234abcde-123ab, a Kubernetes pod
// name: the type, its deployment's hash, five characters of its own).
func validDyno(v string) bool { return processType(v) != "" }

// processType returns the process type of a dyno name, or "" if v is none.
func processType(v string) string {
	if v == "" || len(v) > parse.MaxName {
		return ""
	}
	if typ, n, ok := strings.Cut(v, "."); ok {
		if validProcessType(typ) && n != "" && strings.Trim(n, "0123456789") == "" {
			return typ
		}
		return ""
	}
	i := strings.LastIndexByte(v, '-')
	if i < 0 || len(v)-i-1 != 5 || !lowerAlnum(v[i+1:]) {
		return ""
	}
	j := strings.LastIndexByte(v[:i], '-')
	if j <= 0 || j == i-1 || !lowerAlnum(v[j+1:i]) || !validProcessType(v[:j]) {
		return ""
	}
	return v[:j]
}

// validProcessType reports whether v is a process type as Heroku's
// formation accepts one: up to 128 of letters, digits, '_' and '-'.
func validProcessType(v string) bool {
	if v == "" || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func lowerAlnum(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return v != ""
}
