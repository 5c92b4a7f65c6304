package usbdev

import "syscall"

// The FT2232H behind usbfs (usbfs.go, with ftdi_sio as the kernel driver that holds both
// interfaces until a client detaches it): its endpoints, and its URBs as transfers on its
// channels.

// bulkEndpoint: each channel's two bulk endpoints are on its interface (0 A, 1 B).
func (f *FTDI) bulkEndpoint(ep uint8) (int, bool) {
	ch, _, ok := f.channelOf(ep)
	if !ok {
		return 0, false
	}
	return ch.idx, true
}

// controlIntf: FTDI's requests go to the device (wIndex names the channel); none claims an
// interface.
func (f *FTDI) controlIntf(setup) (int, bool) { return 0, false }

// takeLocked puts a bulk URB on its channel's queue as a transfer; control URBs are answered
// by taken.
func (f *FTDI) takeLocked(u *urb) {
	if u.typ == urbTypeControl {
		f.stats.ControlURBs++
		return
	}
	ch, in, _ := f.channelOf(u.ep)
	x := &ftdiXfer{data: u.data, onDone: func(x *ftdiXfer) {
		delete(f.xfers, u)
		f.completeLocked(u, -int32(x.errno), x.n)
	}}
	f.xfers[u] = x
	f.queueLocked(ch, in, x)
}

// taken answers a control URB at once, without the lock (vendor requests take it), so that
// it is complete before the SUBMITURB ioctl is.
func (f *FTDI) taken(u *urb) {
	if u.typ != urbTypeControl {
		return
	}
	resp, err := f.control(u.setup, u.data)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.completeLocked(u, -int32(syscall.EPIPE), 0)
		return
	}
	f.completeLocked(u, 0, copy(u.dataBuf(), resp))
}

// cancelLocked: a bulk URB's transfer stops where it is; a control URB was answered already.
func (f *FTDI) cancelLocked(u *urb) syscall.Errno {
	x := f.xfers[u]
	if x == nil {
		return syscall.EINVAL
	}
	f.dequeue(x)
	f.complete(x, syscall.ENOENT)
	return 0
}

func (f *FTDI) forgetLocked(c *client) func() {
	for _, u := range c.pending {
		if x := f.xfers[u]; x != nil {
			delete(f.xfers, u)
			x.onDone = nil
			f.dequeue(x)
			f.complete(x, syscall.ENOENT)
		}
	}
	return nil
}

func (f *FTDI) unpluggedLocked() {
	for _, c := range f.ch {
		c.stopTimer()
		q := append(c.outq, c.inq...)
		c.outq, c.inq = nil, nil
		for _, x := range q {
			f.complete(x, syscall.ESHUTDOWN)
		}
	}
}

// haltClearedLocked: the chip never halts an endpoint.
func (f *FTDI) haltClearedLocked(uint8) {}

// dequeue takes a transfer off its channel's queue.
func (f *FTDI) dequeue(x *ftdiXfer) {
	for _, c := range f.ch {
		for _, q := range []*[]*ftdiXfer{&c.outq, &c.inq} {
			for i, y := range *q {
				if y == x {
					*q = append((*q)[:i:i], (*q)[i+1:]...)
					return
				}
			}
		}
	}
}
