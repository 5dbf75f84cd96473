package localdeploy

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// skipOnCopy names top-level files of a data directory that belong to one
// run of one server and must not be copied.
var skipOnCopy = map[string]bool{
	"server.log":      true,
	"postmaster.pid":  true,
	"postmaster.opts": true,
}

// copyDataDir copies the contents of data directory src into the existing,
// empty directory dst, preserving permission bits and handing every entry
// to the server account.
func copyDataDir(src, dst string, a account) error {
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if skipOnCopy[rel] {
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(target, info.Mode().Perm()); err != nil {
				return err
			}
			if err := os.Chmod(target, info.Mode().Perm()); err != nil {
				return err
			}
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case d.Type().IsRegular():
			if err := copyFile(path, target, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected file type %v", info.Mode().Type())
		}
		return a.chown(target)
	})
	if err != nil {
		return fmt.Errorf("localdeploy: copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// copyFile copies src to the new file dst with permission bits perm.
// io.Copy between two files uses copy_file_range(2), which shares extents
// on file systems that can.
func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, perm) // undo the umask
}
