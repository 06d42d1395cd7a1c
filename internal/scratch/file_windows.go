//go:build windows

package scratch

import "os"

// File returns a read-write temporary file in dir. Windows cannot remove an
// open file's name, so it keeps one that carries this process's id: Sweep
// removes it after a crash. The caller removes it when done.
func File(dir, kind string) (*os.File, error) {
	return os.CreateTemp(dir, Prefix(kind)+"*")
}

// Close closes a file from File and removes it.
func Close(f *os.File) error {
	err := f.Close()
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	return err
}
