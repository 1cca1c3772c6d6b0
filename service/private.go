package service

import (
	"fmt"
	"os"
	"path/filepath"
)

// Local state (the embedded Temporal database, keys, evidence) and documents about runs
// (reviews, audit exports) are the owner's only: directories 0700, files 0600, whatever mode
// an earlier version or the umask left them with.

// PrivateDir creates dir if needed and makes it 0700.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// WritePrivate writes b to path with mode 0600, also when path already exists with another
// mode or is a symlink (replaced, not followed).
func WritePrivate(path string, b []byte) error {
	// A fresh file, created 0600 with O_EXCL in the target's directory, then renamed over
	// path: never readable by others while written, and a symlink at path is replaced, not
	// followed.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// PrivateFiles makes every existing file matching the glob pattern 0600.
func PrivateFiles(pattern string) error {
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
