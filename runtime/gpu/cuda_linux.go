//go:build linux

package gpu

import (
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// cudaDevice is a CUDA device behind the driver API. The driver binds a context to the
// calling OS thread, so every call locks the goroutine to its thread and makes the device's
// context current first.
type cudaDevice struct {
	api  *cuAPI
	info Info
	ctx  uintptr
	mod  uintptr
	fn   uintptr

	mu     sync.RWMutex // read-held by every call, write-held by Close
	closed bool

	ownMu sync.Mutex
	owned map[closer]struct{}
}

func openCUDA(opts Opts) (*cudaDevice, error) {
	a, err := loadAPI(opts.Library)
	if err != nil {
		return nil, err
	}
	if r := a.cuInit(0); r != cudaSuccess {
		return nil, a.errorf("cuInit", r)
	}
	var count int32
	if r := a.cuDeviceGetCount(&count); r != cudaSuccess {
		return nil, a.errorf("cuDeviceGetCount", r)
	}
	if opts.Device < 0 || opts.Device >= int(count) {
		return nil, fmt.Errorf("%w: device %d (the driver sees %d)", ErrNoDevice, opts.Device, count)
	}
	var dev int32
	if r := a.cuDeviceGet(&dev, int32(opts.Device)); r != cudaSuccess {
		return nil, a.errorf("cuDeviceGet", r)
	}
	info := Info{Backend: CUDA}
	name := make([]byte, 256)
	if r := a.cuDeviceGetName(&name[0], int32(len(name)), dev); r != cudaSuccess {
		return nil, a.errorf("cuDeviceGetName", r)
	}
	info.Name = cstring(&name[0])
	if r := a.cuDeviceTotalMem(&info.Memory, dev); r != cudaSuccess {
		return nil, a.errorf("cuDeviceTotalMem_v2", r)
	}
	var ver, major, minor, canMap int32
	if r := a.cuDriverGetVersion(&ver); r == cudaSuccess {
		info.Driver = fmt.Sprintf("%d.%d", ver/1000, ver%1000/10)
	}
	if a.cuDeviceGetAttribute(&major, cuDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
		a.cuDeviceGetAttribute(&minor, cuDevAttrComputeCapabilityMinor, dev) == cudaSuccess {
		info.Arch = fmt.Sprintf("sm_%d%d", major, minor)
	}
	if r := a.cuDeviceGetAttribute(&canMap, cuDevAttrCanMapHostMemory, dev); r == cudaSuccess && canMap == 0 {
		return nil, fmt.Errorf("%w: %s cannot map host memory", ErrNoDevice, info.Name)
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d := &cudaDevice{api: a, info: info, owned: map[closer]struct{}{}}
	if r := a.cuCtxCreate(&d.ctx, cuCtxMapHost, dev); r != cudaSuccess {
		return nil, a.errorf("cuCtxCreate_v2", r)
	}
	if err := d.loadModule(); err != nil {
		a.cuCtxDestroy(d.ctx)
		return nil, err
	}
	return d, nil
}

// loadModule JIT-compiles the embedded PTX for this device (the context is current).
func (d *cudaDevice) loadModule() error {
	a := d.api
	image := append([]byte(readoutPTX), 0)
	errLog := make([]byte, 8192)
	infoLog := make([]byte, 8192)
	opts := []int32{cuJitErrorLogBuffer, cuJitErrorLogBufferSize, cuJitInfoLogBuffer, cuJitInfoLogBufferSizeBytes}
	// Option values are pointer-sized; the sizes are passed by value in the pointer slot.
	vals := []uintptr{0, uintptr(len(errLog)), 0, uintptr(len(infoLog))}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&errLog[0])
	pin.Pin(&infoLog[0])
	pin.Pin(&image[0])
	*(*unsafe.Pointer)(unsafe.Pointer(&vals[0])) = unsafe.Pointer(&errLog[0])
	*(*unsafe.Pointer)(unsafe.Pointer(&vals[2])) = unsafe.Pointer(&infoLog[0])
	if r := a.cuModuleLoadDataEx(&d.mod, unsafe.Pointer(&image[0]), uint32(len(opts)), &opts[0], &vals[0]); r != cudaSuccess {
		err := a.errorf("cuModuleLoadDataEx", r)
		if msg := cstring(&errLog[0]); msg != "" {
			return fmt.Errorf("%w: JIT log: %s", err, msg)
		}
		return err
	}
	name := append([]byte(ReadoutEntry), 0)
	if r := a.cuModuleGetFunction(&d.fn, d.mod, &name[0]); r != cudaSuccess {
		a.cuModuleUnload(d.mod)
		return a.errorf("cuModuleGetFunction "+ReadoutEntry, r)
	}
	return nil
}

func (d *cudaDevice) Info() Info { return d.info }

// do runs fn with the device's context current on a locked OS thread.
func (d *cudaDevice) do(fn func() error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return fmt.Errorf("%w: cuda device", ErrClosed)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if r := d.api.cuCtxSetCurrent(d.ctx); r != cudaSuccess {
		return d.api.errorf("cuCtxSetCurrent", r)
	}
	return fn()
}

func (d *cudaDevice) own(c closer) {
	d.ownMu.Lock()
	d.owned[c] = struct{}{}
	d.ownMu.Unlock()
}

// release closes an object through the device and forgets it.
func (d *cudaDevice) release(c closer) error {
	d.ownMu.Lock()
	_, ok := d.owned[c]
	delete(d.owned, c)
	d.ownMu.Unlock()
	if !ok {
		return nil // closed already, or by Device.Close
	}
	return d.do(func() error { c.close(); return nil })
}

func (d *cudaDevice) RegisterHost(mem []byte) (Registration, error) {
	if len(mem) == 0 {
		return nil, fmt.Errorf("%w: register host: empty memory", ErrBatch)
	}
	r := &cudaReg{d: d, mem: mem}
	err := d.do(func() error {
		p := unsafe.Pointer(&mem[0])
		if res := d.api.cuMemHostRegister(p, uint64(len(mem)), cuMemHostRegisterPortable|cuMemHostRegisterDeviceMap); res != cudaSuccess {
			return d.api.errorf(fmt.Sprintf("cuMemHostRegister_v2 (%d bytes at %p)", len(mem), p), res)
		}
		if res := d.api.cuMemHostGetDevicePointer(&r.dptr, p, 0); res != cudaSuccess {
			d.api.cuMemHostUnregister(p)
			return d.api.errorf("cuMemHostGetDevicePointer_v2", res)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.own(r)
	return r, nil
}

func (d *cudaDevice) NewStream() (Stream, error) {
	s := &cudaStream{d: d}
	err := d.do(func() error {
		if r := d.api.cuStreamCreate(&s.h, cuStreamNonBlocking); r != cudaSuccess {
			return d.api.errorf("cuStreamCreate", r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.own(s)
	return s, nil
}

func (d *cudaDevice) NewEvent() (Event, error) {
	e := &cudaEvent{d: d}
	err := d.do(func() error {
		if r := d.api.cuEventCreate(&e.h, cuEventDefault); r != cudaSuccess {
			return d.api.errorf("cuEventCreate", r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.own(e)
	return e, nil
}

func (d *cudaDevice) LoadReadout(l Layer) (Readout, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	ro := &cudaReadout{d: d, m: l.M, n: l.N}
	wt, bias := l.transposed(), l.bias()
	err := d.do(func() error {
		a := d.api
		wBytes, bBytes := uint64(4*len(wt)), uint64(8*len(bias))
		if r := a.cuMemAlloc(&ro.wt, wBytes); r != cudaSuccess {
			return a.errorf(fmt.Sprintf("cuMemAlloc_v2 (%d bytes of weights)", wBytes), r)
		}
		if r := a.cuMemAlloc(&ro.bias, bBytes); r != cudaSuccess {
			a.cuMemFree(ro.wt)
			return a.errorf(fmt.Sprintf("cuMemAlloc_v2 (%d bytes of bias)", bBytes), r)
		}
		fail := func(err error) error { ro.close(); return err }
		if r := a.cuMemcpyHtoD(ro.wt, unsafe.Pointer(&wt[0]), wBytes); r != cudaSuccess {
			return fail(a.errorf("cuMemcpyHtoD_v2 (weights)", r))
		}
		if r := a.cuMemcpyHtoD(ro.bias, unsafe.Pointer(&bias[0]), bBytes); r != cudaSuccess {
			return fail(a.errorf("cuMemcpyHtoD_v2 (bias)", r))
		}
		// Read the bias back: a cheap check that the device holds what the kernel will use.
		back := make([]int64, len(bias))
		if r := a.cuMemcpyDtoH(unsafe.Pointer(&back[0]), ro.bias, bBytes); r != cudaSuccess {
			return fail(a.errorf("cuMemcpyDtoH_v2 (bias)", r))
		}
		for i := range back {
			if back[i] != bias[i] {
				return fail(fmt.Errorf("%w: bias %d reads back as %d, wrote %d", ErrCUDA, i, back[i], bias[i]))
			}
		}
		return nil
	})
	runtime.KeepAlive(wt)
	runtime.KeepAlive(bias)
	if err != nil {
		return nil, err
	}
	d.own(ro)
	return ro, nil
}

// Close destroys the context with everything in it; the registrations are unregistered
// first. It waits for calls in progress on other goroutines.
func (d *cudaDevice) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a := d.api
	if r := a.cuCtxSetCurrent(d.ctx); r != cudaSuccess {
		return a.errorf("cuCtxSetCurrent", r)
	}
	d.ownMu.Lock()
	owned := d.owned
	d.owned = nil
	d.ownMu.Unlock()
	for c := range owned {
		c.close()
	}
	a.cuModuleUnload(d.mod)
	if r := a.cuCtxDestroy(d.ctx); r != cudaSuccess {
		return a.errorf("cuCtxDestroy_v2", r)
	}
	return nil
}

type cudaReg struct {
	d    *cudaDevice
	mem  []byte
	dptr uint64
}

func (r *cudaReg) Bytes() []byte { return r.mem }
func (r *cudaReg) close()        { r.d.api.cuMemHostUnregister(unsafe.Pointer(&r.mem[0])) }
func (r *cudaReg) Close() error  { return r.d.release(r) }

type cudaStream struct {
	d *cudaDevice
	h uintptr
}

func (s *cudaStream) Synchronize() error {
	return s.d.do(func() error {
		if r := s.d.api.cuStreamSynchronize(s.h); r != cudaSuccess {
			return s.d.api.errorf("cuStreamSynchronize", r)
		}
		return nil
	})
}
func (s *cudaStream) close()       { s.d.api.cuStreamDestroy(s.h) }
func (s *cudaStream) Close() error { return s.d.release(s) }

type cudaEvent struct {
	d        *cudaDevice
	h        uintptr
	recorded bool
}

func (e *cudaEvent) Record(s Stream) error {
	cs, ok := s.(*cudaStream)
	if !ok || cs.d != e.d {
		return fmt.Errorf("%w: event record on a foreign stream", ErrForeign)
	}
	return e.d.do(func() error {
		if r := e.d.api.cuEventRecord(e.h, cs.h); r != cudaSuccess {
			return e.d.api.errorf("cuEventRecord", r)
		}
		e.recorded = true
		return nil
	})
}

func (e *cudaEvent) Synchronize() error {
	return e.d.do(func() error {
		if r := e.d.api.cuEventSynchronize(e.h); r != cudaSuccess {
			return e.d.api.errorf("cuEventSynchronize", r)
		}
		return nil
	})
}

func (e *cudaEvent) Since(start Event) (time.Duration, error) {
	s, ok := start.(*cudaEvent)
	if !ok || s.d != e.d {
		return 0, fmt.Errorf("%w: event since a foreign event", ErrForeign)
	}
	if !e.recorded || !s.recorded {
		return 0, fmt.Errorf("gpu: event since: %w: an event was never recorded", ErrBatch)
	}
	var ms float32
	err := e.d.do(func() error {
		if r := e.d.api.cuEventElapsedTime(&ms, s.h, e.h); r != cudaSuccess {
			return e.d.api.errorf("cuEventElapsedTime", r)
		}
		return nil
	})
	return time.Duration(float64(ms) * float64(time.Millisecond)), err
}

func (e *cudaEvent) close()       { e.d.api.cuEventDestroy(e.h) }
func (e *cudaEvent) Close() error { return e.d.release(e) }

type cudaReadout struct {
	d        *cudaDevice
	m, n     int
	wt, bias uint64
}

func (r *cudaReadout) Shape() (int, int) { return r.m, r.n }

func (r *cudaReadout) close() {
	if r.wt != 0 {
		r.d.api.cuMemFree(r.wt)
	}
	if r.bias != 0 {
		r.d.api.cuMemFree(r.bias)
	}
	r.wt, r.bias = 0, 0
}

func (r *cudaReadout) Close() error { return r.d.release(r) }

// readoutParams are the kernel's parameters in the order of its .entry.
type readoutParams struct {
	wt, bias       uint64
	m, n           uint32
	in, inStride   uint64
	out, outStride uint64
	ptrs           [8]unsafe.Pointer
}

func (r *cudaReadout) Launch(s Stream, reg Registration, b Batch) error {
	cs, ok := s.(*cudaStream)
	cr, ok2 := reg.(*cudaReg)
	if !ok || !ok2 || cs.d != r.d || cr.d != r.d {
		return fmt.Errorf("%w: readout launch", ErrForeign)
	}
	if err := b.check(r.m, r.n, len(cr.mem)); err != nil {
		return err
	}
	p := &readoutParams{
		wt: r.wt, bias: r.bias, m: uint32(r.m), n: uint32(r.n),
		in: cr.dptr + uint64(b.In), inStride: uint64(b.InStride),
		out: cr.dptr + uint64(b.Out), outStride: uint64(b.OutStride),
	}
	p.ptrs = [8]unsafe.Pointer{
		unsafe.Pointer(&p.wt), unsafe.Pointer(&p.bias), unsafe.Pointer(&p.m), unsafe.Pointer(&p.n),
		unsafe.Pointer(&p.in), unsafe.Pointer(&p.inStride), unsafe.Pointer(&p.out), unsafe.Pointer(&p.outStride),
	}
	// The driver reads the parameters through these pointers during the call (it copies
	// them at launch); pin them so that nothing moves or frees them meanwhile.
	var pin runtime.Pinner
	pin.Pin(p)
	defer pin.Unpin()
	shmem := uint32(12*ReadoutThreads + 4*r.n)
	return r.d.do(func() error {
		if r.wt == 0 {
			return fmt.Errorf("%w: readout launch", ErrClosed)
		}
		if res := r.d.api.cuLaunchKernel(r.d.fn, uint32(b.Windows), 1, 1, ReadoutThreads, 1, 1, shmem, cs.h, unsafe.Pointer(&p.ptrs[0]), nil); res != cudaSuccess {
			return r.d.api.errorf(fmt.Sprintf("cuLaunchKernel %s (%d windows)", ReadoutEntry, b.Windows), res)
		}
		return nil
	})
}
