package notary

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

// The stapled ticket trails the xar (facts from Apple's stapler, as rcodesign
// documents them): a 16-byte little-endian trailer {magic "t8lr", version 1,
// type 1 = terminator, length 0, unused 0}, the ticket, then the same trailer
// with type 2 = ticket and length = the ticket's size. Readers look for the
// ticket trailer at the end of the file.
const (
	trailerSize       = 16
	trailerTerminator = 1
	trailerTicket     = 2
)

var trailerMagic = [4]byte{'t', '8', 'l', 'r'}

type trailer struct {
	Magic   [4]byte
	Version uint16
	Type    uint16
	Length  uint32
	Unused  uint32
}

// RecordName is the CloudKit record of a package's ticket: 2/<digest type>/<the
// xar TOC checksum, its first 20 bytes in hex>, with Apple's code-directory
// digest types (1 SHA-1, 2 SHA-256, 5 SHA-512).
func RecordName(x *xar.Reader) (string, error) {
	var t int
	switch x.HashFunc {
	case crypto.SHA1:
		t = 1
	case crypto.SHA256:
		t = 2
	case crypto.SHA512:
		t = 5
	default:
		return "", fmt.Errorf("TOC checksum %v has no notarization record type", x.HashFunc)
	}
	sum := x.TOCHash
	if len(sum) > 20 {
		sum = sum[:20]
	}
	return fmt.Sprintf("2/%d/%s", t, hex.EncodeToString(sum)), nil
}

// Staple looks up the ticket of the package at path in CloudKit and appends it.
func (c *Config) Staple(ctx context.Context, path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return &StepError{Step: "staple", Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return &StepError{Step: "staple", Err: err}
	}
	if t, _ := ReadTicket(f, st.Size()); t != nil {
		return &StepError{Step: "staple", Err: errors.New("the package already carries a ticket")}
	}
	x, err := xar.Open(f, st.Size())
	if err != nil {
		return &StepError{Step: "staple", Err: err}
	}
	name, err := RecordName(x)
	if err != nil {
		return &StepError{Step: "staple", Err: err}
	}
	ticket, err := c.lookupTicket(ctx, name)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, trailer{Magic: trailerMagic, Version: 1, Type: trailerTerminator})
	b.Write(ticket)
	binary.Write(&b, binary.LittleEndian, trailer{Magic: trailerMagic, Version: 1, Type: trailerTicket, Length: uint32(len(ticket))})
	if _, err := f.WriteAt(b.Bytes(), st.Size()); err != nil {
		return &StepError{Step: "staple", Err: err}
	}
	return f.Close()
}

// ReadTicket returns the ticket stapled to a package, or nil when none is.
func ReadTicket(r io.ReaderAt, size int64) ([]byte, error) {
	if size < 2*trailerSize {
		return nil, nil
	}
	var t trailer
	if err := binary.Read(io.NewSectionReader(r, size-trailerSize, trailerSize), binary.LittleEndian, &t); err != nil {
		return nil, err
	}
	if t.Magic != trailerMagic || t.Type != trailerTicket {
		return nil, nil
	}
	start := size - trailerSize - int64(t.Length)
	if t.Length == 0 || start-trailerSize < 0 {
		return nil, errors.New("the ticket trailer's length does not fit the file")
	}
	var term trailer
	if err := binary.Read(io.NewSectionReader(r, start-trailerSize, trailerSize), binary.LittleEndian, &term); err != nil {
		return nil, err
	}
	if term.Magic != trailerMagic || term.Type != trailerTerminator {
		return nil, errors.New("the ticket has no terminator trailer before it")
	}
	ticket := make([]byte, t.Length)
	if _, err := r.ReadAt(ticket, start); err != nil {
		return nil, err
	}
	return ticket, nil
}

// lookupTicket asks CloudKit's public ticket-delivery database for a record.
func (c *Config) lookupTicket(ctx context.Context, record string) ([]byte, error) {
	u := c.TicketURL
	if u == "" {
		u = DefaultTicketURL
	}
	body, _ := json.Marshal(map[string]any{"records": []map[string]string{{"recordName": record}}})
	status, data, err := c.plainCall(ctx, "staple", "ticket lookup", http.MethodPost, u, body,
		map[string]string{"Content-Type": "application/json", "Accept": "application/json"})
	if err != nil {
		return nil, err
	}
	if status != "" {
		return nil, &StepError{Step: "staple", Err: fmt.Errorf("ticket lookup: HTTP %s", status), Answer: inert(string(data))}
	}
	var out struct {
		Records []struct {
			RecordName      string `json:"recordName"`
			Reason          string `json:"reason"`
			ServerErrorCode string `json:"serverErrorCode"`
			Fields          map[string]struct {
				Type  string `json:"type"`
				Value string `json:"value"`
			} `json:"fields"`
		} `json:"records"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, &StepError{Step: "staple", Err: fmt.Errorf("ticket lookup: the answer is not CloudKit JSON: %v", err)}
	}
	for _, r := range out.Records {
		if r.RecordName != record {
			continue
		}
		if r.ServerErrorCode != "" {
			return nil, &StepError{Step: "staple", Err: fmt.Errorf("no ticket for record %s", record), Answer: inert(r.ServerErrorCode + ": " + r.Reason)}
		}
		f, ok := r.Fields["signedTicket"]
		if !ok || f.Type != "BYTES" {
			return nil, &StepError{Step: "staple", Err: fmt.Errorf("record %s has no signedTicket bytes", record)}
		}
		t, err := base64.StdEncoding.DecodeString(f.Value)
		if err != nil || len(t) == 0 {
			return nil, &StepError{Step: "staple", Err: fmt.Errorf("record %s: the ticket is not base64", record)}
		}
		return t, nil
	}
	return nil, &StepError{Step: "staple", Err: fmt.Errorf("the lookup answer has no record %s", record)}
}
