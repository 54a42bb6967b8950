package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/dynowatch/dynowatch/internal/config"
)

// runConfig implements "dynowatch config": every config var with the value
// read (secrets redacted), or what is wrong with them.
func runConfig(cfg *config.Config, loadErr error, stdout io.Writer) error {
	if loadErr != nil {
		return loadErr
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VAR\tVALUE\tSOURCE")
	for _, v := range cfg.Vars() {
		source := "default"
		switch {
		case v.Set:
			source = "config var"
		case v.Default == "":
			source = "unset"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, v.Value, source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nAlert rules (ALERT_<RULE>_…; per app: …__<APP>):\n\n%s", cfg.Rules.RulesTable())
	if t := cfg.Rules.OverridesTable(); t != "" {
		fmt.Fprintf(stdout, "\nFor single apps (ALERT_<RULE>_…__<APP>):\n\n%s", t)
	}
	fmt.Fprintf(stdout, "\nStatus checks (CHECK_<NAME>): %d\n", len(cfg.Checks))
	for _, c := range cfg.Checks {
		fmt.Fprintf(stdout, "  %s\n", c.String())
	}
	return nil
}
