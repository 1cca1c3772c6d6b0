package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// Local state (the embedded Temporal database, keys, evidence) and documents about runs
// (reviews, audit exports) are the owner's only: directories 0700, files 0600, whatever mode
// an earlier version or the umask left them with.

// privateDir creates dir if needed and makes it 0700.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// writePrivate writes b to path with mode 0600, also when path already exists with another.
func writePrivate(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

// privateFiles makes every existing file matching the glob pattern 0600.
func privateFiles(pattern string) error {
	files, err := filepath.Glob(pattern)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.Chmod(f, 0o600); err != nil {
			return fmt.Errorf("making %s private: %w", f, err)
		}
	}
	return nil
}
