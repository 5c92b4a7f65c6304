//go:build linux

package gpu

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// cuResult is the driver API's CUresult.
type cuResult uint32

// CUresult values this package names.
const (
	cudaSuccess          cuResult = 0
	cudaErrorNoDevice    cuResult = 100
	cudaErrorInvalidDev  cuResult = 101
	cudaErrorNotReady    cuResult = 600
	cudaErrorInsuffDrv   cuResult = 35 // CUDA_ERROR_INSUFFICIENT_DRIVER
	cudaErrorStubLibrary cuResult = 34 // CUDA_ERROR_STUB_LIBRARY
)

// Driver API constants.
const (
	cuCtxMapHost               = 0x08 // CU_CTX_MAP_HOST
	cuMemHostRegisterPortable  = 0x01 // CU_MEMHOSTREGISTER_PORTABLE
	cuMemHostRegisterDeviceMap = 0x02 // CU_MEMHOSTREGISTER_DEVICEMAP
	cuStreamNonBlocking        = 0x01 // CU_STREAM_NON_BLOCKING
	cuEventDefault             = 0x00 // CU_EVENT_DEFAULT (timing enabled)

	cuJitInfoLogBuffer          = 3 // CU_JIT_INFO_LOG_BUFFER
	cuJitInfoLogBufferSizeBytes = 4 // CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES
	cuJitErrorLogBuffer         = 5 // CU_JIT_ERROR_LOG_BUFFER
	cuJitErrorLogBufferSize     = 6 // CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES

	cuDevAttrComputeCapabilityMajor = 75 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
	cuDevAttrComputeCapabilityMinor = 76 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
	cuDevAttrCanMapHostMemory       = 19 // CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY
)

// cuAPI holds the driver API functions, bound at run time with purego. Handles (CUcontext,
// CUmodule, CUfunction, CUstream, CUevent) are opaque pointers, passed as uintptr;
// CUdeviceptr is a uint64; CUdevice an int32.
type cuAPI struct {
	lib uintptr

	cuInit                    func(flags uint32) cuResult
	cuDriverGetVersion        func(v *int32) cuResult
	cuDeviceGetCount          func(n *int32) cuResult
	cuDeviceGet               func(dev *int32, ordinal int32) cuResult
	cuDeviceGetName           func(name *byte, n int32, dev int32) cuResult
	cuDeviceTotalMem          func(bytes *uint64, dev int32) cuResult
	cuDeviceGetAttribute      func(v *int32, attr int32, dev int32) cuResult
	cuCtxCreate               func(ctx *uintptr, flags uint32, dev int32) cuResult
	cuCtxDestroy              func(ctx uintptr) cuResult
	cuCtxSetCurrent           func(ctx uintptr) cuResult
	cuModuleLoadDataEx        func(mod *uintptr, image unsafe.Pointer, n uint32, opts *int32, vals *uintptr) cuResult
	cuModuleUnload            func(mod uintptr) cuResult
	cuModuleGetFunction       func(fn *uintptr, mod uintptr, name *byte) cuResult
	cuMemAlloc                func(dptr *uint64, size uint64) cuResult
	cuMemFree                 func(dptr uint64) cuResult
	cuMemcpyHtoD              func(dst uint64, src unsafe.Pointer, n uint64) cuResult
	cuMemcpyDtoH              func(dst unsafe.Pointer, src uint64, n uint64) cuResult
	cuMemHostRegister         func(p unsafe.Pointer, n uint64, flags uint32) cuResult
	cuMemHostUnregister       func(p unsafe.Pointer) cuResult
	cuMemHostGetDevicePointer func(dptr *uint64, p unsafe.Pointer, flags uint32) cuResult
	cuLaunchKernel            func(f uintptr, gx, gy, gz, bx, by, bz, shmem uint32, stream uintptr, params unsafe.Pointer, extra unsafe.Pointer) cuResult
	cuStreamCreate            func(s *uintptr, flags uint32) cuResult
	cuStreamDestroy           func(s uintptr) cuResult
	cuStreamSynchronize       func(s uintptr) cuResult
	cuEventCreate             func(e *uintptr, flags uint32) cuResult
	cuEventDestroy            func(e uintptr) cuResult
	cuEventRecord             func(e, s uintptr) cuResult
	cuEventSynchronize        func(e uintptr) cuResult
	cuEventElapsedTime        func(ms *float32, start, end uintptr) cuResult
	cuGetErrorName            func(r cuResult, s **byte) cuResult
	cuGetErrorString          func(r cuResult, s **byte) cuResult
}

// symbols binds every function; the _v2 entry points are the 64-bit ones every driver since
// CUDA 4 exports (the unversioned names are the old 32-bit ABI).
func (a *cuAPI) symbols() []struct {
	fn   any
	name string
} {
	return []struct {
		fn   any
		name string
	}{
		{&a.cuInit, "cuInit"},
		{&a.cuDriverGetVersion, "cuDriverGetVersion"},
		{&a.cuDeviceGetCount, "cuDeviceGetCount"},
		{&a.cuDeviceGet, "cuDeviceGet"},
		{&a.cuDeviceGetName, "cuDeviceGetName"},
		{&a.cuDeviceTotalMem, "cuDeviceTotalMem_v2"},
		{&a.cuDeviceGetAttribute, "cuDeviceGetAttribute"},
		{&a.cuCtxCreate, "cuCtxCreate_v2"},
		{&a.cuCtxDestroy, "cuCtxDestroy_v2"},
		{&a.cuCtxSetCurrent, "cuCtxSetCurrent"},
		{&a.cuModuleLoadDataEx, "cuModuleLoadDataEx"},
		{&a.cuModuleUnload, "cuModuleUnload"},
		{&a.cuModuleGetFunction, "cuModuleGetFunction"},
		{&a.cuMemAlloc, "cuMemAlloc_v2"},
		{&a.cuMemFree, "cuMemFree_v2"},
		{&a.cuMemcpyHtoD, "cuMemcpyHtoD_v2"},
		{&a.cuMemcpyDtoH, "cuMemcpyDtoH_v2"},
		{&a.cuMemHostRegister, "cuMemHostRegister_v2"},
		{&a.cuMemHostUnregister, "cuMemHostUnregister"},
		{&a.cuMemHostGetDevicePointer, "cuMemHostGetDevicePointer_v2"},
		{&a.cuLaunchKernel, "cuLaunchKernel"},
		{&a.cuStreamCreate, "cuStreamCreate"},
		{&a.cuStreamDestroy, "cuStreamDestroy_v2"},
		{&a.cuStreamSynchronize, "cuStreamSynchronize"},
		{&a.cuEventCreate, "cuEventCreate"},
		{&a.cuEventDestroy, "cuEventDestroy_v2"},
		{&a.cuEventRecord, "cuEventRecord"},
		{&a.cuEventSynchronize, "cuEventSynchronize"},
		{&a.cuEventElapsedTime, "cuEventElapsedTime"},
		{&a.cuGetErrorName, "cuGetErrorName"},
		{&a.cuGetErrorString, "cuGetErrorString"},
	}
}

var (
	apiMu    sync.Mutex
	apiCache = map[string]*cuAPI{}
)

// loadAPI loads the driver library once per path and binds its functions. The library
// stays loaded for the life of the process (a driver cannot be unloaded safely).
func loadAPI(lib string) (*cuAPI, error) {
	apiMu.Lock()
	defer apiMu.Unlock()
	if a, ok := apiCache[lib]; ok {
		return a, nil
	}
	h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDriver, err)
	}
	a := &cuAPI{lib: h}
	for _, s := range a.symbols() {
		addr, err := purego.Dlsym(h, s.name)
		if err != nil || addr == 0 {
			_ = purego.Dlclose(h)
			return nil, fmt.Errorf("%w: %s lacks %s (driver too old?)", ErrNoDriver, lib, s.name)
		}
		purego.RegisterFunc(s.fn, addr)
	}
	apiCache[lib] = a
	return a, nil
}

// cstring reads a NUL-terminated C string.
func cstring(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for i := 0; i < 4096; i++ {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(p), i))
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// errorf turns a failed call into an error wrapping ErrCUDA (or ErrNoDevice) that names the
// call and the result, e.g. "gpu: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory".
func (a *cuAPI) errorf(call string, r cuResult) error {
	var name, desc *byte
	n, s := "CUDA_ERROR", ""
	if a.cuGetErrorName(r, &name) == cudaSuccess {
		n = cstring(name)
	}
	if a.cuGetErrorString(r, &desc) == cudaSuccess {
		s = ": " + cstring(desc)
	}
	kind := ErrCUDA
	switch r {
	case cudaErrorNoDevice, cudaErrorInvalidDev:
		kind = ErrNoDevice
	case cudaErrorInsuffDrv, cudaErrorStubLibrary:
		kind = ErrNoDriver
	}
	return &cudaError{kind: kind, code: r, msg: fmt.Sprintf("gpu: %s: %s (%d)%s", call, n, r, s)}
}

// cudaError is a failed driver call.
type cudaError struct {
	kind error
	code cuResult
	msg  string
}

func (e *cudaError) Error() string { return e.msg }
func (e *cudaError) Unwrap() error { return e.kind }
