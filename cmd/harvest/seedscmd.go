package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/harvest-dev/harvest/seeds"
)

func cmdSeeds(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(e.stderr, "Usage: harvest seeds check [DIR|FILE...]\n\nValidates seed files; every problem is printed as FILE:LINE: KEY: MESSAGE.\nExit status 1 if any seed has a problem. Default: the directory ./seeds.\n")
			return nil
		}
		return fmt.Errorf("%w: expected 'harvest seeds check [DIR|FILE...]'", errUsage)
	}
	fs := newFlags(e, "seeds check", "seeds check [DIR|FILE...]",
		"Validates seed files; every problem is printed as FILE:LINE: KEY: MESSAGE.\nExit status 1 if any seed has a problem. Default: the directory ./seeds.")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	targets := fs.Args()
	if len(targets) == 0 {
		targets = []string{"seeds"}
	}
	var files []string
	for _, t := range targets {
		info, err := os.Stat(t)
		if err != nil {
			return fmt.Errorf("seeds check: %w", err)
		}
		if !info.IsDir() {
			files = append(files, t)
			continue
		}
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(t, pat))
			files = append(files, m...)
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("seeds check: no seed files (*.yaml) in %v", targets)
	}
	loaded, err := seeds.LoadFiles(files)
	var ps seeds.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(e.stdout, p.Error())
		}
		return exitError{code: 1, msg: fmt.Sprintf("%d problem(s) in %d file(s)", len(ps), len(files))}
	}
	if err != nil {
		return err
	}
	for _, s := range loaded {
		fmt.Fprintf(e.stdout, "ok  %s (%s): %d fields, pagination %s\n", s.File, s.ID, len(s.Fields), modeName(s.Pagination.Mode()))
	}
	return nil
}

func modeName(m string) string {
	if m == "" {
		return "none (one page)"
	}
	return m
}
