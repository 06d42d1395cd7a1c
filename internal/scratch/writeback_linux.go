//go:build linux

package scratch

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// directAlign is the alignment O_DIRECT asks of buffers, offsets and lengths:
// 4096 covers every logical block size in use.
const directAlign = 4096

// setDirect turns O_DIRECT on or off for f. Turning it on fails on file
// systems without direct I/O, which then stay buffered.
func setDirect(f *os.File, on bool) error {
	fd := int(f.Fd())
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		flags |= unix.O_DIRECT
	} else {
		flags &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags)
	return err
}

// directRefused reports whether a direct write failed because the file
// system takes no direct I/O (or not with this alignment): it is retried
// buffered.
func directRefused(err error) bool { return errors.Is(err, unix.EINVAL) }

// startWriteback asks the kernel to start writing [off, off+n) of f to disk
// without waiting (sync_file_range SYNC_FILE_RANGE_WRITE). An advisory
// call: an error (a file system without it) changes nothing.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// dropCache tells the kernel it may drop f's pages from the page cache now
// (posix_fadvise DONTNEED). Called only once f is synced, so the pages are
// clean and no data is lost; advisory like startWriteback.
func dropCache(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// allocAligned maps n bytes of anonymous memory: page-aligned, outside the
// Go heap.
func allocAligned(n int) []byte {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return heapAligned(n)
	}
	return b
}

func freeAligned(b []byte) {
	if err := unix.Munmap(b[:cap(b)]); err != nil {
		return // a heapAligned buffer: the garbage collector frees it
	}
}
