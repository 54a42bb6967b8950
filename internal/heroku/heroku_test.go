package heroku

import (
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
