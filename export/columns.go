package export

import (
	"context"
	"fmt"
	"slices"

	"github.com/harvest-dev/harvest/seeds"
	"github.com/harvest-dev/harvest/store"
)

// ExtraNamer lists the extra field names the records of some sources have
// had. *store.Store implements it.
type ExtraNamer interface {
	ExtraNames(ctx context.Context, f store.RecordFilter) ([]string, error)
}

// ExtraColumns decides the extra.NAME columns of a CSV export of sources
// (all sources when empty), sorted: with seeds (sds not nil), the extra
// fields the seeds of those sources configure; without, every extra field
// the seeds of those sources' runs configured or their stored records
// have had (store.ExtraNames). Either way the header depends on
// configuration or history, never on which records happen to be
// exported.
func ExtraColumns(ctx context.Context, st ExtraNamer, sds []*seeds.Seed, sources []string) ([]string, error) {
	if sds == nil {
		names, err := st.ExtraNames(ctx, store.RecordFilter{Sources: sources})
		if err != nil {
			return nil, fmt.Errorf("find extra columns: %w", err)
		}
		return names, nil
	}
	var names []string
	for _, sd := range sds {
		if len(sources) == 0 || slices.Contains(sources, sd.ID) {
			names = append(names, sd.ExtraFields()...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
