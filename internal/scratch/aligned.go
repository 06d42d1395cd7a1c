package scratch

import "unsafe"

// heapAligned returns n bytes of the Go heap starting on a directAlign
// boundary.
func heapAligned(n int) []byte {
	raw := make([]byte, n+directAlign)
	skip := (directAlign - int(uintptr(unsafe.Pointer(&raw[0]))%directAlign)) % directAlign
	return raw[skip : skip+n : skip+n]
}
