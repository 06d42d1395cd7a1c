package inspect

import (
	"archive/tar"
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestReadTarChecksAfterTarEnd: the tar ends before the stream does (here the
// zstd frame's last block is empty, written by Close after a Flush, and only
// then comes the frame checksum). A corrupt checksum must still be found,
// so readTar reads the stream to its end.
func TestReadTarChecksAfterTarEnd(t *testing.T) {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	body := []byte("hello\n")
	if err := tw.WriteHeader(&tar.Header{Name: "etc/hello", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(body)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Flush(); err != nil { // the tar ends in a block that is not the last
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for name, b := range map[string][]byte{"intact": good, "checksum flipped": flip(good, len(good)-1)} {
		err := readTar(&contents{ids: map[string]string{}}, bytes.NewReader(b), nil)
		if (err != nil) != (name != "intact") {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x20
	return c
}
