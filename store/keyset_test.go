package store

import (
	"fmt"
	"testing"
)

// The key hash is part of the stored format (source_keys holds sums of
// it): a change of library or seed would make every stored digest wrong.
// The empty string's lower half is XXH64's published value for "".
func TestKeyHashIsStable(t *testing.T) {
	for _, tc := range []struct {
		key    string
		lo, hi uint64
	}{
		{"", 0xef46db3751d8e999, 0xc4349fc93c010000},
		{"https://example.int/r/001", 0x3176f6ab365b9ad5, 0xe16fb899b31f76d3},
		{"Ñandú — ½", 0xdb530c6143fa74f1, 0x853bbf0682758636},
	} {
		if lo, hi := keyHash128(tc.key); lo != tc.lo || hi != tc.hi {
			t.Errorf("keyHash128(%q) = %#x, %#x; want %#x, %#x", tc.key, lo, hi, tc.lo, tc.hi)
		}
	}
}

// A digest depends on the set, not on the order keys came in, and
// taking a subset away leaves the digest of the rest.
func TestKeySetIsASetDigest(t *testing.T) {
	keys := make([]string, 500)
	for i := range keys {
		keys[i] = fmt.Sprintf("https://example.int/r/%04d", i)
	}
	var fwd, back, evens, odds keySet
	for i, k := range keys {
		fwd.add(k)
		back.add(keys[len(keys)-1-i])
		if i%2 == 0 {
			evens.add(k)
		} else {
			odds.add(k)
		}
	}
	if fwd != back || fwd.n != 500 {
		t.Fatalf("digest depends on order: %+v, %+v", fwd, back)
	}
	if evens.plus(odds) != fwd || fwd.minus(odds) != evens {
		t.Fatalf("plus/minus: %+v + %+v != %+v", evens, odds, fwd)
	}
	// One key different, same count: a different digest.
	var other keySet
	for _, k := range keys[1:] {
		other.add(k)
	}
	other.add("https://example.int/r/9999")
	if other == fwd {
		t.Fatal("two different sets of 500 keys have the same digest")
	}
	// Sums wrap without losing the carry.
	big := keySet{n: 1, lo: ^uint64(0), hi: ^uint64(0)}
	if got := big.plus(keySet{n: 1, lo: 1}); got != (keySet{n: 2}) {
		t.Fatalf("2^128-1 + 1 = %+v, want 0", got)
	}
}

// An unchanged run of a source whose digest the store had to correct,
// or that came from before the digest (a schema 6 database): the run
// reads the current keys, finds what it missed as before, and stores the
// right digest; the next unchanged run goes by the digest alone.
func TestKeySetFilledAndCorrected(t *testing.T) {
	c := newClock()
	s, path := newStore(t, Options{Now: c.Now})
	all := recs(6)
	apply(t, s, c, input("a", StatusComplete, all))
	apply(t, s, c, input("b", StatusComplete, recs(2)))
	apply(t, s, c, input("a", StatusComplete, without(all, 5))) // a miss
	apply(t, s, c, input("a", StatusComplete, without(all, 5))) // the second: removed
	checkKeySet(t, s, "a")
	checkKeySet(t, s, "b")
	s = reopenOlder(t, s, path, `DROP TABLE source_keys; UPDATE schema_version SET version = 6`, Options{Now: c.Now})
	checkKeySet(t, s, "a")
	checkKeySet(t, s, "b")
	res := apply(t, s, c, input("a", StatusComplete, without(all, 5)))
	if n := s.keySetSweeps.Load(); n != 1 || res.Run.Added+res.Run.Removed+res.Run.Updated != 0 {
		t.Fatalf("unchanged run after the migration: %d runs by the digest (want 1), %+v", n, res.Run.RunCounts)
	}

	// A digest that is off (a bug, a hand edit) is never taken for the
	// run's: an unchanged run reads the keys and puts it right, and the
	// next one goes by the digest again.
	if _, err := s.db.Exec(`UPDATE source_keys SET lo = lo + 1 WHERE source = 'a'`); err != nil {
		t.Fatal(err)
	}
	apply(t, s, c, input("a", StatusComplete, without(all, 5)))
	if n := s.keySetSweeps.Load(); n != 1 {
		t.Fatalf("a run went by a wrong digest (%d runs by the digest, want still 1)", n)
	}
	checkKeySet(t, s, "a")
	apply(t, s, c, input("a", StatusComplete, without(all, 5)))
	if n := s.keySetSweeps.Load(); n != 2 {
		t.Fatalf("the corrected digest was not used (%d runs by the digest, want 2)", n)
	}
	// A record not seen is still missed.
	res = apply(t, s, c, input("a", StatusComplete, without(all, 4, 5)))
	if res.Run.Removed != 0 || res.Run.Seen != 4 || s.keySetSweeps.Load() != 2 {
		t.Fatalf("run that missed a record: %+v", res.Run.RunCounts)
	}
	checkKeySet(t, s, "a")
	var missed int
	if err := s.db.QueryRow(`SELECT missed FROM records WHERE source = 'a' AND key = ?`, all[4].Key).Scan(&missed); err != nil || missed != 1 {
		t.Fatalf("the record not seen has missed = %d (%v), want 1", missed, err)
	}
}
