package scratch

import (
	"fmt"
	"os"
	"path/filepath"
)

// Output is an installer being written beside its final path. On Linux it
// has no name until Commit (O_TMPFILE), so a crash leaves nothing; elsewhere
// it is a hidden file named by OutputPattern, which Sweep removes after a crash.
type Output struct {
	*os.File
	path string // final path
	tmp  string // the temporary name, "" while the file has none
}

// CreateOutput starts the file that Commit will put at path.
func CreateOutput(path string) (*Output, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if f, err := anonymousIn(dir); err == nil {
		return &Output{File: f, path: path}, nil
	}
	f, err := os.CreateTemp(dir, OutputPattern(base))
	if err != nil {
		return nil, err
	}
	return &Output{File: f, path: path, tmp: f.Name()}, nil
}

// Named gives the file a temporary name beside path, for a step that needs
// one (signing), and returns it. The file stays open.
func (o *Output) Named() (string, error) {
	if o.tmp != "" {
		return o.tmp, nil
	}
	dir, base := filepath.Split(o.path)
	if dir == "" {
		dir = "."
	}
	for i := 0; ; i++ {
		name := filepath.Join(dir, fmt.Sprintf(".%s.pkgctl-%d-%d", base, os.Getpid(), i))
		err := linkAnonymous(o.File, name)
		if err == nil {
			o.tmp = name
			return name, nil
		}
		if !os.IsExist(err) || i > 100 {
			return "", err
		}
	}
}

// Commit closes the file and puts it at the final path, replacing what was
// there, atomically: the path holds the old file or the complete new one.
func (o *Output) Commit() error {
	if o.tmp == "" {
		// No name yet: link it straight to the final path when nothing is
		// there, else through a temporary name and a rename.
		err := linkAnonymous(o.File, o.path)
		if err == nil {
			return o.File.Close()
		}
		if !os.IsExist(err) {
			o.File.Close()
			return err
		}
		if _, err := o.Named(); err != nil {
			o.File.Close()
			return err
		}
	}
	if err := o.File.Close(); err != nil {
		os.Remove(o.tmp)
		return err
	}
	if err := os.Rename(o.tmp, o.path); err != nil {
		os.Remove(o.tmp)
		return err
	}
	return nil
}

// Abort closes and removes the file.
func (o *Output) Abort() {
	o.File.Close()
	if o.tmp != "" {
		os.Remove(o.tmp)
	}
}

// Reopen replaces the open file with the one now at its temporary name (a
// signing step may have renamed another file over it).
func (o *Output) Reopen() error {
	if o.tmp == "" {
		return nil
	}
	o.File.Close()
	f, err := os.OpenFile(o.tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	o.File = f
	return nil
}
