package pcie

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/vfio"
	"github.com/lrchip/lrchip/runtime/ring"
)

var le = binary.LittleEndian

// attachment is the board at work on the host's rings: its ends of them, the firmware's
// goroutine and the eventfds that wake it and stop it.
type attachment struct {
	rings   [regmap.NumRings]*ring.Ring
	areas   [][2]uint64 // DMA ranges in use: the rings and the bulk window
	wake    int         // eventfd: a doorbell or CONTROL write, or stop
	stopped atomic.Bool
	cancel  context.CancelFunc
	done    chan struct{}
	err     error // why the firmware stopped, once done
}

func (a *attachment) kick() { kick(a.wake) }

// uses reports whether the board reaches into window w.
func (a *attachment) uses(w *window) bool {
	for _, r := range a.areas {
		if r[0] < w.addr+w.size && w.addr < r[0]+r[1] {
			return true
		}
	}
	return false
}

// attach acts on CONTROL.ATTACH: it checks the ring and bulk registers against the host's
// DMA windows, takes the board's ends of the rings and starts the firmware on them. A range
// outside the windows is refused with ERROR_CODE RANGE, a ring it cannot use with BAD_ARGS;
// STATUS.ERROR is set then and the error vector raised.
func (ss *session) attach() {
	if ss.att != nil {
		return // attached already: the bit does nothing more
	}
	a := &attachment{wake: -1}
	refuse := func(code regmap.Result, format string, args ...any) {
		a.closeRings()
		if a.wake >= 0 {
			unix.Close(a.wake)
		}
		ss.s.opts.Log("CONTROL.ATTACH refused (%s): %s", code, fmt.Sprintf(format, args...))
		ss.b.RefuseAttach(code)
		ss.signal(vfio.PCIMSIXIRQIndex, regmap.MSIXVectorError)
	}
	reg64 := func(off uint32) uint64 {
		lo, _ := ss.b.ReadReg(off)
		hi, _ := ss.b.ReadReg(off + 4)
		return uint64(hi)<<32 | uint64(lo)
	}
	// overlaps reports whether [addr, addr+n) meets a range taken already.
	overlaps := func(addr, n uint64) bool {
		for _, r := range a.areas {
			if addr < r[0]+r[1] && r[0] < addr+n {
				return true
			}
		}
		return false
	}
	smallest := 0
	for i := regmap.Ring(0); i < regmap.NumRings; i++ {
		base, capacity := reg64(regmap.RingBaseLo(i)), uint64(0)
		c, _ := ss.b.ReadReg(regmap.RingSize(i))
		capacity = uint64(c)
		if capacity < regmap.MinRingCapacity || capacity > regmap.MaxRingCapacity || capacity&(capacity-1) != 0 {
			refuse(regmap.ResultBadArgs, "ring %s: size %d", i, capacity)
			return
		}
		n := regmap.RingHeaderSize + capacity
		if base%regmap.DMAAlign != 0 || base+n < base {
			refuse(regmap.ResultRange, "ring %s: base %#x", i, base)
			return
		}
		w := ss.find(base, n)
		if w == nil || w.flags&vfioWriteable == 0 {
			refuse(regmap.ResultRange, "ring %s: %d bytes at %#x are not in a writable DMA window", i, n, base)
			return
		}
		if overlaps(base, n) {
			refuse(regmap.ResultBadArgs, "ring %s overlaps another", i)
			return
		}
		mem := w.mem[base-w.addr : base-w.addr+n]
		r, err := attachMem(mem, int(capacity))
		if err != nil {
			refuse(regmap.ResultBadArgs, "ring %s: %v", i, err)
			return
		}
		a.rings[i] = r
		a.areas = append(a.areas, [2]uint64{base, n})
		if smallest == 0 || int(capacity) < smallest {
			smallest = int(capacity)
		}
	}
	var bulk []byte
	bbase := reg64(regmap.RegBulkBaseLo)
	bsize, _ := ss.b.ReadReg(regmap.RegBulkSize)
	if bsize != 0 {
		n := uint64(bsize)
		if bbase%regmap.DMAAlign != 0 || n%regmap.DMAAlign != 0 || n > regmap.MaxBulk {
			refuse(regmap.ResultBadArgs, "bulk window of %d bytes at %#x", n, bbase)
			return
		}
		w := ss.find(bbase, n)
		if w == nil {
			refuse(regmap.ResultRange, "bulk window: %d bytes at %#x are not in a DMA window", n, bbase)
			return
		}
		if overlaps(bbase, n) {
			refuse(regmap.ResultBadArgs, "the bulk window overlaps a ring")
			return
		}
		bulk = w.mem[bbase-w.addr : bbase-w.addr+n]
		a.areas = append(a.areas, [2]uint64{bbase, n})
	}
	l := board.Link{Host: ss.host, Payload: smallest / 4, OutMax: a.rings[regmap.RingOut].MaxPayload(), Bulk: bulk}
	var err error
	if l.Cmd, err = a.rings[regmap.RingCmd].Consumer(); err == nil {
		if l.Cpl, err = a.rings[regmap.RingCpl].Producer(); err == nil {
			if l.SpkIn, err = a.rings[regmap.RingSpkIn].Consumer(); err == nil {
				l.Out, err = a.rings[regmap.RingOut].Producer()
			}
		}
	}
	if err != nil {
		refuse(regmap.ResultBadArgs, "claiming the rings: %v", err)
		return
	}
	if a.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		refuse(regmap.ResultInternal, "eventfd: %v", err)
		return
	}
	l.Interrupt = ss.interrupt
	l.Wait = func(d time.Duration) bool {
		fds := []unix.PollFd{{Fd: int32(a.wake), Events: unix.POLLIN}}
		unix.Poll(fds, int(d/time.Millisecond)+1)
		var b [8]byte
		unix.Read(a.wake, b[:])
		return !a.stopped.Load()
	}
	l.Alive = func() bool { return !a.stopped.Load() }
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.done = cancel, make(chan struct{})
	ss.att = a
	go func() {
		defer close(a.done)
		// The rings and the bulk window are the host's memory files: if one shrinks under
		// the board, its accesses fault; the fault ends this attachment, not the server.
		debug.SetPanicOnFault(true)
		defer func() {
			if p := recover(); p != nil {
				a.err = fmt.Errorf("pcie: the board faulted on host memory: %v", p)
				ss.s.opts.Log("%v", a.err)
				ss.b.RefuseAttach(regmap.ResultRange)
				ss.signal(vfio.PCIMSIXIRQIndex, regmap.MSIXVectorError)
			}
		}()
		a.err = ss.b.Serve(ctx, l)
		if a.err != nil && ctx.Err() == nil {
			// The host broke the ring protocol: the board has set STATUS.ERROR.
			ss.s.opts.Log("%v", a.err)
			ss.signal(vfio.PCIMSIXIRQIndex, regmap.MSIXVectorError)
		}
	}()
}

// vfioWriteable is DMA_MAP's writeable flag.
const vfioWriteable = vfio.DMAMapFlagWrite

// attachMem takes a ring the host formatted in DMA memory.
func attachMem(mem []byte, capacity int) (r *ring.Ring, err error) {
	if ferr := onHostMemory(func() { r, err = ring.AttachMem(mem, ring.Opts{Capacity: capacity, Heartbeat: -1}) }); ferr != nil {
		return nil, ferr
	}
	return r, err
}

// onHostMemory runs f, which touches the host's memory files, turning a fault there (a
// file that shrank under its mapping) into an error instead of the end of the server.
func onHostMemory(f func()) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("pcie: fault on host memory: %v", p)
		}
	}()
	f()
	return nil
}

// detach stops the firmware and lets go of the rings, before the memory under them goes.
func (ss *session) detach() {
	a := ss.att
	if a == nil {
		return
	}
	ss.att = nil
	a.stopped.Store(true)
	a.cancel()
	a.kick()
	<-a.done
	a.closeRings()
	unix.Close(a.wake)
}

// closeRings lets go of the board's ends (closing marks them closed in the host's memory).
func (a *attachment) closeRings() {
	for i, r := range a.rings {
		if r != nil {
			onHostMemory(func() { r.Close() })
			a.rings[i] = nil
		}
	}
}
