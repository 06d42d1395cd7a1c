package cab

import (
	"errors"
	"os"

	"github.com/pkgctl/pkgctl/internal/scratch"
)

// Folder is a finished, compressed folder that other cabinets can reuse as
// their first folder without compressing it again: installers that share
// their large files put them in one Folder, made once (FinishFolder), and
// their own files in a second folder (AddFolder). Its data stays in the
// Writer's nameless temporary file, which the Folder owns: Close it when no
// cabinet needs it any more. Cabinets read it concurrently (ReadAt).
type Folder struct {
	data   *os.File
	comp   int64 // bytes of CFDATA blocks
	blocks int
	total  int64 // uncompressed bytes
	files  []entry
	date   dosTime
}

// dosTime is the DOS date and time the folder's files carry.
type dosTime struct{ date, tm uint16 }

// FinishFolder compresses what is left and returns the written files as a
// Folder that keeps the Writer's temporary file; the Writer is closed and
// makes no cabinet itself.
func (w *Writer) FinishFolder() (*Folder, error) {
	if w.closed || w.head != nil {
		return nil, errors.New("cab: FinishFolder after Finish or Close")
	}
	if w.pre != nil {
		return nil, errors.New("cab: FinishFolder on a cabinet that reuses a folder")
	}
	if err := w.flushBlock(); err != nil {
		return nil, err
	}
	close(w.queue)
	w.wg.Wait()
	w.closed = true
	err := w.werr
	if err == nil && len(w.files) == 0 {
		err = errors.New("cab: no files")
	}
	if err != nil {
		scratch.Close(w.tmp)
		return nil, err
	}
	date, tm := dosDateTime(w.opts.ModTime)
	return &Folder{data: w.tmp, comp: w.comp, blocks: w.blocks, total: w.total, files: w.files, date: dosTime{date, tm}}, nil
}

// AddFolder makes f the cabinet's first folder; the files Added afterwards
// go in a second one. It must come before any Add, with the same ModTime as
// the Writer that made f.
func (w *Writer) AddFolder(f *Folder) error {
	if w.head != nil || w.closed {
		return errors.New("cab: AddFolder after Finish or Close")
	}
	if w.pre != nil || len(w.files) > 0 || w.total > 0 {
		return errors.New("cab: AddFolder must come first")
	}
	if date, tm := dosDateTime(w.opts.ModTime); (dosTime{date, tm}) != f.date {
		return errors.New("cab: AddFolder: the folder's files have another time")
	}
	for _, e := range f.files {
		w.names[e.name] = true
	}
	w.pre = f
	return nil
}

// Close releases the folder's data.
func (f *Folder) Close() error { return scratch.Close(f.data) }
