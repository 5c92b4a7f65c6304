// Command capi is hostlib's C ABI: built with go build -buildmode=c-shared (by
// scripts/build-hostlib.sh) it is liblrchip.so, whose API lrchip.h declares. The cgo is
// here and in lrchip.c only: this file converts C values to Go ones and back, and
// hostlib/internal/cabi does the rest.
package main

//go:generate go run ../internal/cabi/gen lrchip.h

/*
#include <stdlib.h>
#include "lrchip.h"
void lrchipc_set_error(const char *msg, size_t n);
void lrchipc_complete(lrchip_callback cb, void *user, lrchip_status st, const char *msg, size_t n, lrchip_output *out);
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"unsafe"

	"github.com/lrchip/lrchip/hostlib"
	"github.com/lrchip/lrchip/hostlib/internal/cabi"
)

func main() {}

var lib cabi.Lib

// The C spike is hostlib.Spike: a compile-time check of the sizes (the index must be 0).
var _ = [1]int{}[unsafe.Sizeof(C.lrchip_spike{})-unsafe.Sizeof(hostlib.Spike{})]

// status records err as the calling thread's error message and returns its status.
func status(err error) C.int {
	if err == nil {
		C.lrchipc_set_error(nil, 0)
		return C.int(cabi.OK)
	}
	b := []byte(err.Error())
	if len(b) == 0 {
		b = []byte("error")
	}
	C.lrchipc_set_error((*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b)))
	return C.int(cabi.StatusOf(err))
}

// guard turns a panic (a bug) into LRCHIP_ERR_INTERNAL instead of ending the caller's
// process.
func guard(st *C.int) {
	if r := recover(); r != nil {
		*st = status(fmt.Errorf("lrchip: internal error: %v", r)) // no sentinel: LRCHIP_ERR_INTERNAL
	}
}

func argErr(f string, a ...any) error {
	return fmt.Errorf("%w: "+f, append([]any{cabi.ErrArg}, a...)...)
}

var (
	versionOnce sync.Once
	versionStr  *C.char
	statusStrs  []*C.char
)

//export lrchipgo_version
func lrchipgo_version() *C.char {
	versionOnce.Do(func() {
		v := fmt.Sprintf("lrchip %s (abi %d, %s)", hostlib.Version, cabi.ABIVersion, runtime.Version())
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v = fmt.Sprintf("lrchip %s (abi %d, %s, rev %s)", hostlib.Version, cabi.ABIVersion, runtime.Version(), s.Value[:12])
				}
			}
		}
		versionStr = C.CString(v) // kept for the life of the process
		for i := range cabi.Statuses {
			statusStrs = append(statusStrs, C.CString(cabi.Status(i).Name()+": "+cabi.Status(i).String()))
		}
	})
	return versionStr
}

//export lrchipgo_status_string
func lrchipgo_status_string(st C.int) *C.char {
	lrchipgo_version()
	if st < 0 || int(st) >= len(statusStrs) {
		return statusStrs[cabi.ErrInternal]
	}
	return statusStrs[st]
}

func goString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

func goStrings(ss **C.char, n C.size_t, what string) ([]string, error) {
	if n == 0 {
		return nil, nil
	}
	if ss == nil {
		return nil, argErr("%s is NULL with a count of %d", what, n)
	}
	if n > cabi.MaxDevices {
		return nil, argErr("%d %s, at most %d", n, what, cabi.MaxDevices)
	}
	var out []string
	for i, s := range unsafe.Slice(ss, int(n)) {
		if s == nil {
			return nil, argErr("%s[%d] is NULL", what, i)
		}
		out = append(out, C.GoString(s))
	}
	return out, nil
}

//export lrchipgo_host_open
func lrchipgo_host_open(devs **C.char, n C.size_t, out *C.uint64_t) (st C.int) {
	defer guard(&st)
	if out == nil {
		return status(argErr("lrchip_host_open: out is NULL"))
	}
	uris, err := goStrings(devs, n, "devices")
	if err != nil {
		return status(fmt.Errorf("lrchip_host_open: %w", err))
	}
	id, err := lib.HostOpen(context.Background(), hostlib.Opts{Devices: uris})
	if err != nil {
		return status(err)
	}
	*out = C.uint64_t(id)
	return status(nil)
}

//export lrchipgo_host_close
func lrchipgo_host_close(id C.uint64_t) (st C.int) {
	defer guard(&st)
	return status(lib.HostClose(uint64(id)))
}

//export lrchipgo_model_load
func lrchipgo_model_load(host C.uint64_t, spec *C.lrchip_model_spec, out *C.uint64_t) (st C.int) {
	defer guard(&st)
	if spec == nil || out == nil {
		return status(argErr("lrchip_model_load: spec or out is NULL"))
	}
	devs, err := goStrings((**C.char)(unsafe.Pointer(spec.devices)), spec.n_devices, "spec->devices")
	if err != nil {
		return status(fmt.Errorf("lrchip_model_load: %w", err))
	}
	s := hostlib.Spec{
		Name: goString(spec.name), Path: goString(spec.path), ReadoutPath: goString(spec.readout),
		Input: goString(spec.input), Output: goString(spec.output), GPU: goString(spec.gpu), Devices: devs,
		Window: int(spec.window), MaxWindows: int(spec.max_windows), Depth: int(spec.depth), Batch: int(spec.batch),
		Queue: int(spec.queue), Seed: uint64(spec.seed),
	}
	if s.Path == "" {
		return status(argErr("lrchip_model_load: spec->path is NULL"))
	}
	id, err := lib.ModelLoad(context.Background(), uint64(host), s)
	if err != nil {
		return status(err)
	}
	*out = C.uint64_t(id)
	return status(nil)
}

func setChars(dst []C.char, s string) {
	n := min(len(s), len(dst)-1)
	for i := range n {
		dst[i] = C.char(s[i])
	}
	dst[n] = 0
}

//export lrchipgo_model_info
func lrchipgo_model_info(id C.uint64_t, out *C.lrchip_model_info) (st C.int) {
	defer guard(&st)
	if out == nil {
		return status(argErr("lrchip_model_info_get: out is NULL"))
	}
	m, err := lib.Model(uint64(id))
	if err != nil {
		return status(err)
	}
	info, stats := m.Info(), m.Stats()
	up := 0
	for _, r := range stats.Replicas {
		if r.Up {
			up++
		}
	}
	*out = C.lrchip_model_info{inputs: C.uint32_t(info.Inputs), outputs: C.uint32_t(info.Outputs), scores: C.uint32_t(info.Scores),
		window: C.uint32_t(info.Window), max_windows: C.uint32_t(info.MaxWindows), replicas: C.uint32_t(len(stats.Replicas)),
		replicas_up: C.uint32_t(up), seed: C.uint64_t(info.Seed)}
	setChars(out.name[:], info.Name)
	setChars(out.gpu[:], info.GPU)
	return status(nil)
}

//export lrchipgo_model_close
func lrchipgo_model_close(id C.uint64_t) (st C.int) {
	defer guard(&st)
	return status(lib.ModelClose(uint64(id)))
}

// request converts a C request and output buffers into Go values over the C memory.
func request(id C.uint64_t, in *C.lrchip_input, out *C.lrchip_output, fn string) (*hostlib.Model, hostlib.Input, cabi.Out, error) {
	if in == nil || out == nil {
		return nil, hostlib.Input{}, cabi.Out{}, argErr("%s: in or out is NULL", fn)
	}
	m, err := lib.Model(uint64(id))
	if err != nil {
		return nil, hostlib.Input{}, cabi.Out{}, fmt.Errorf("%s: %w", fn, err)
	}
	info := m.Info()
	if err := cabi.InputLimits(info, uint64(in.n_rates), uint64(in.n_spikes), in.rates == nil, in.spikes == nil); err != nil {
		return nil, hostlib.Input{}, cabi.Out{}, fmt.Errorf("%s: %w", fn, err)
	}
	gin := hostlib.Input{Windows: int(in.windows), Seed: uint64(in.seed)}
	if in.n_rates > 0 {
		gin.Rates = unsafe.Slice((*float64)(unsafe.Pointer(in.rates)), int(in.n_rates))
	}
	if in.n_spikes > 0 {
		gin.Spikes = unsafe.Slice((*hostlib.Spike)(unsafe.Pointer(in.spikes)), int(in.n_spikes))
	}
	var o cabi.Out
	// A buffer's slice reaches no further than the largest request needs.
	most := uint64(info.MaxWindows)
	if out.classes_cap > 0 {
		if out.classes == nil {
			return nil, hostlib.Input{}, cabi.Out{}, argErr("%s: out->classes is NULL with a capacity of %d", fn, out.classes_cap)
		}
		o.Classes = unsafe.Slice((*int32)(unsafe.Pointer(out.classes)), int(min(uint64(out.classes_cap), most)))
	}
	if out.scores_cap > 0 {
		if out.scores == nil {
			return nil, hostlib.Input{}, cabi.Out{}, argErr("%s: out->scores is NULL with a capacity of %d", fn, out.scores_cap)
		}
		o.Scores = unsafe.Slice((*int64)(unsafe.Pointer(out.scores)), int(min(uint64(out.scores_cap), most*uint64(info.Scores))))
	}
	if out.counts_cap > 0 {
		if out.counts == nil {
			return nil, hostlib.Input{}, cabi.Out{}, argErr("%s: out->counts is NULL with a capacity of %d", fn, out.counts_cap)
		}
		o.Counts = unsafe.Slice((*int32)(unsafe.Pointer(out.counts)), int(min(uint64(out.counts_cap), most*uint64(info.Outputs))))
	}
	return m, gin, o, nil
}

//export lrchipgo_infer
func lrchipgo_infer(id C.uint64_t, in *C.lrchip_input, out *C.lrchip_output, timeoutMS C.int64_t) (st C.int) {
	defer guard(&st)
	m, gin, o, err := request(id, in, out, "lrchip_infer")
	if err != nil {
		return status(err)
	}
	windows, err := cabi.Infer(m, gin, o, int64(timeoutMS))
	out.windows = C.uint32_t(windows)
	return status(err)
}

//export lrchipgo_submit
func lrchipgo_submit(id C.uint64_t, in *C.lrchip_input, out *C.lrchip_output, timeoutMS C.int64_t, cb C.lrchip_callback, user unsafe.Pointer) (st C.int) {
	defer guard(&st)
	if cb == nil {
		return status(argErr("lrchip_submit: cb is NULL"))
	}
	m, gin, o, err := request(id, in, out, "lrchip_submit")
	if err != nil {
		return status(err)
	}
	windows, err := cabi.Submit(m, gin, o, int64(timeoutMS), func(windows int, err error) {
		out.windows = C.uint32_t(windows)
		st, msg := cabi.OK, []byte{0}
		if err != nil {
			st, msg = cabi.StatusOf(err), append([]byte(err.Error()), 0)
		}
		// One C call sets this thread's error and calls back on the same thread.
		C.lrchipc_complete(cb, user, C.lrchip_status(st), (*C.char)(unsafe.Pointer(&msg[0])), C.size_t(len(msg)-1), out)
	})
	out.windows = C.uint32_t(windows)
	return status(err)
}
