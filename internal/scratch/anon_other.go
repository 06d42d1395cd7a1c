//go:build !linux

package scratch

import (
	"errors"
	"os"
)

var errNoAnonymous = errors.New("no nameless files on this OS")

func anonymousIn(string) (*os.File, error) { return nil, errNoAnonymous }

func linkAnonymous(*os.File, string) error { return errNoAnonymous }
