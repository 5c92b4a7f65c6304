package board

import "context"

// Attach attaches a host through l and readies the board for it, as Serve does before it
// serves: the host's registers are cleared, CAP_PAYLOAD is set from l, and STATUS.ATTACHED
// is set when Attach returns, so that a transport that answers the host's register accesses
// itself (USB's vendor requests) can let the host in from then on. It returns ErrBusy while
// another host is attached. The returned serve runs the firmware for the host, like Serve,
// and detaches it when it returns; it must be called exactly once (with a cancelled context
// it detaches at once).
func (b *Board) Attach(l Link) (serve func(ctx context.Context) error, err error) {
	if err := b.attach(l.Host); err != nil {
		return nil, err
	}
	b.prepare(&l)
	return func(ctx context.Context) error {
		defer b.detach()
		return b.serve(ctx, l)
	}, nil
}
