package main

import (
	"os"
	"path/filepath"
	"testing"
)

// assertPrivate fails unless path has exactly mode want.
func assertPrivate(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %#o; want %#o (the owner's only)", path, got, want)
	}
}

// TestReviewAndStateFilesArePrivate: a review written over an existing world-readable file,
// and a state dir created world-readable, end up the owner's only (they were 0644 and kept
// whatever mode the directory had).
func TestReviewAndStateFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "review.md")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writePrivate(out, []byte("# review")); err != nil {
		t.Fatal(err)
	}
	assertPrivate(t, out, 0o600)
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := privateDir(state); err != nil {
		t.Fatal(err)
	}
	assertPrivate(t, state, 0o700)
	if _, err := loadKeyFile(filepath.Join(state, "k", "decision.key"), "FIREBREAK_TEST_UNSET_KEY", true); err != nil {
		t.Fatal(err)
	}
	assertPrivate(t, filepath.Join(state, "k"), 0o700)
	assertPrivate(t, filepath.Join(state, "k", "decision.key"), 0o600)
}
