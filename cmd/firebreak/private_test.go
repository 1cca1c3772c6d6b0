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
	if _, err := loadKeyFile(envSettings(), filepath.Join(state, "k", "decision.key"), "FIREBREAK_TEST_UNSET_KEY", true); err != nil {
		t.Fatal(err)
	}
	assertPrivate(t, filepath.Join(state, "k"), 0o700)
	assertPrivate(t, filepath.Join(state, "k", "decision.key"), 0o600)
}

// TestWritePrivateDoesNotFollowSymlinks: writePrivate wrote through a symlink at its path (and
// chmodded the target); it now replaces the link with a fresh 0600 file.
func TestWritePrivateDoesNotFollowSymlinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "export.json")
	if err := os.Symlink(victim, out); err != nil {
		t.Fatal(err)
	}
	if err := writePrivate(out, []byte("secret history")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the symlink's target was written: %q", b)
	}
	assertPrivate(t, victim, 0o644)
	fi, err := os.Lstat(out)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("%s is %v (%v); want a regular file", out, fi.Mode(), err)
	}
	assertPrivate(t, out, 0o600)
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(left) != 0 {
		t.Errorf("temp files left behind: %v", left)
	}
}
