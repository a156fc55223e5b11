package export_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/harvest-dev/harvest/store"
)

// openStore opens a real store in a new temporary directory, closed when
// tb ends. now is its clock (nil: the store's own).
func openStore(tb testing.TB, now func() time.Time) *store.Store {
	tb.Helper()
	st, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "harvest.db"), store.Options{Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}
