package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// keySet is a digest of a set of distinct keys: how many there are, and
// the sum modulo 2^128 of a 128-bit hash of each (keyHash128). Keys are
// added and taken away in any order. Two sets with the same digest are
// taken to be the same set; two different sets have the same digest by
// chance about once in 2^128.
//
// The store keeps the digest of each source's current (not removed)
// record keys in source_keys, and a run the digest of the keys it saw.
// When they are equal the run saw every current record, and settleSeen
// need not read one of them: an unchanged nightly run then costs the
// store no read or write per record.
//
// The hash is part of the stored format: source_keys holds sums of it.
// TestKeyHashIsStable pins it.
type keySet struct {
	n      int64
	lo, hi uint64
}

// keySeed seeds the hash of the digest's upper 64 bits (the lower ones
// are xxhash64 with seed 0).
const keySeed = 0x9e3779b97f4a7c15

// keyHash128 is the 128-bit hash a keySet sums: two xxhash64 of the key,
// with seeds 0 and keySeed.
func keyHash128(key string) (lo, hi uint64) {
	var d xxhash.Digest
	d.ResetWithSeed(keySeed)
	d.WriteString(key)
	return xxhash.Sum64String(key), d.Sum64()
}

// add adds key, which must not be in s.
func (s *keySet) add(key string) {
	s.addHash(keyHash128(key))
}

// addHash adds the key of keyHash128 lo, hi.
func (s *keySet) addHash(lo, hi uint64) {
	var c uint64
	s.lo, c = bits.Add64(s.lo, lo, 0)
	s.hi, _ = bits.Add64(s.hi, hi, c)
	s.n++
}

// plus is the digest of the union of two disjoint sets.
func (s keySet) plus(t keySet) keySet {
	var c uint64
	s.lo, c = bits.Add64(s.lo, t.lo, 0)
	s.hi, _ = bits.Add64(s.hi, t.hi, c)
	s.n += t.n
	return s
}

// minus is the digest of s without t, a subset of s.
func (s keySet) minus(t keySet) keySet {
	var b uint64
	s.lo, b = bits.Sub64(s.lo, t.lo, 0)
	s.hi, _ = bits.Sub64(s.hi, t.hi, b)
	s.n -= t.n
	return s
}

// readKeySet reads the digest of source's current keys; a source
// without a row has none (the zero digest).
func readKeySet(ctx context.Context, db queryRower, source string) (keySet, error) {
	var s keySet
	var lo, hi int64
	err := db.QueryRowContext(ctx, `SELECT n, lo, hi FROM source_keys WHERE source = ?`, source).Scan(&s.n, &lo, &hi)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return keySet{}, fmt.Errorf("source %s: read the digest of its current keys: %w", source, err)
	}
	s.lo, s.hi = uint64(lo), uint64(hi)
	return s, nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// writeKeySet stores s as the digest of source's current keys.
func writeKeySet(ctx context.Context, db execer, source string, s keySet) error {
	_, err := db.ExecContext(ctx, `INSERT INTO source_keys (source, n, lo, hi) VALUES (?, ?, ?, ?)
		ON CONFLICT (source) DO UPDATE SET n = excluded.n, lo = excluded.lo, hi = excluded.hi`, source, s.n, int64(s.lo), int64(s.hi))
	if err != nil {
		return fmt.Errorf("source %s: store the digest of its current keys: %w", source, err)
	}
	return nil
}

// fillKeySets computes the digest of every source's current keys from
// the records stored (migration 7).
func fillKeySets(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT source, key FROM records WHERE removed_at IS NULL ORDER BY source`)
	if err != nil {
		return fmt.Errorf("read current keys: %w", err)
	}
	defer rows.Close()
	sets := map[string]*keySet{}
	var source, key string
	for rows.Next() {
		if err := rows.Scan(&source, &key); err != nil {
			return fmt.Errorf("read current keys: %w", err)
		}
		s := sets[source]
		if s == nil {
			s = &keySet{}
			sets[source] = s
		}
		s.add(key)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read current keys: %w", err)
	}
	for source, s := range sets {
		if err := writeKeySet(ctx, tx, source, *s); err != nil {
			return err
		}
	}
	return nil
}
