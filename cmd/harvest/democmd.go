package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/harvest-dev/harvest/demo"
)

func cmdDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "demo", "demo [--out DIR]",
		"Serves a built-in resource library on 127.0.0.1 (no internet needed), harvests\n"+
			"it, changes the site the way a library changes overnight (two publications\n"+
			"added, a summary and a country list edited, one taken down), and harvests it\n"+
			"twice more, printing what each night found. The database, the seed and the\n"+
			"change files go to --out.")
	out := fs.String("out", "", "directory for the database and files (default: a new harvest-demo-* directory here)")
	logger := logFlags(e, fs, "warn")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp(".", "harvest-demo-"); err != nil {
			return fmt.Errorf("create demo directory: %w", err)
		}
		dir = filepath.Clean(dir)
	}
	_, err := demo.Run(ctx, demo.Options{Out: dir, Stdout: e.stdout, Logger: logger(), Now: e.now})
	return err
}
