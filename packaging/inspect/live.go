package inspect

import (
	"context"
	"fmt"

	"github.com/pkgctl/pkgctl/update"
)

// CheckLive refreshes the TUF metadata of the live update server through c
// (which carries --update-url, --update-roots and the mTLS settings) and sets
// each component's LiveMatch from the live targets.
func CheckLive(ctx context.Context, r *Report, c *update.Client) error {
	if err := c.Refresh(ctx); err != nil {
		return fmt.Errorf("live update server: %w", err)
	}
	md, err := c.Metadata()
	if err != nil {
		return fmt.Errorf("live update server: %w", err)
	}
	m, err := readTUF(md)
	if err != nil || m.targets == nil {
		return fmt.Errorf("live update server: unreadable metadata: %v", err)
	}
	for i := range r.Components {
		comp := &r.Components[i]
		ok := false
		if tf, found := m.targets.Signed.Targets[comp.Target]; found {
			t := TUFTarget{Length: tf.Length, Hashes: map[string]string{}}
			for alg, h := range tf.Hashes {
				t.Hashes[alg] = fmt.Sprintf("%x", []byte(h))
			}
			ok = hashesMatch(t, *comp)
		}
		comp.LiveMatch = &ok
	}
	return nil
}
