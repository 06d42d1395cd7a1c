//go:build unix

package scratch

import "os"

// unlinkedFile creates a 0600 file in dir and removes its name at once.
func unlinkedFile(dir, kind string) (*os.File, error) {
	f, err := os.CreateTemp(dir, Prefix(kind)+"*")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Close closes a file from File (it has no name to remove).
func Close(f *os.File) error { return f.Close() }
