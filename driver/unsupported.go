package driver

import (
	"context"
	"errors"
)

// The hardware transports this build cannot open yet: boards are found (List), not opened.
func init() {
	for _, t := range []string{TransportUSB} {
		RegisterTransport(t, func(ctx context.Context, u URI, opts Opts) (Link, error) {
			return nil, errorf("%s: the %s transport is not implemented yet (boards are found by List; use emu: or emu:unix:): %w", u, u.Transport, errors.ErrUnsupported)
		})
	}
}
