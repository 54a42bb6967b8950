// Package heroku holds the names Heroku gives things, as dynowatch accepts
// them wherever a user or a drain hands one in (a drain path, a config var,
// a command's flag, a check's app=) or the Platform API answers them (an
// app's generation).
package heroku

import "regexp"

// appName is what Heroku accepts as an app name: up to 30 lower-case
// letters, digits and dashes, starting with a letter.
var appName = regexp.MustCompile(`^[a-z][a-z0-9-]{1,29}$`)

// ValidApp reports whether name can be a Heroku app name.
func ValidApp(name string) bool { return appName.MatchString(name) }

// AppNameRule says what ValidApp accepts, for error messages.
const AppNameRule = "a Heroku app name: 2 to 30 lower-case letters, digits and dashes, starting with a letter"
