// Package gpu is the "left brain" side of the corpus callosum: a small GPU backend
// interface, a CUDA backend that needs no CUDA toolkit to build, and a CPU backend that
// computes the same bits and is what CI runs.
//
// # Backends
//
// Open("cuda") loads the NVIDIA driver library (libcuda.so.1) at run time with purego and
// binds the driver API's _v2 entry points; without a driver it returns an error wrapping
// ErrNoDriver, without a device one wrapping ErrNoDevice. Open("cpu") computes on the
// host. Open("auto") takes CUDA when it can and the CPU otherwise.
//
// A Device registers host memory (RegisterHost: cuMemHostRegister with
// CU_MEMHOSTREGISTER_DEVICEMAP, so kernels read and write the memory in place, over the
// bus, with no copy), makes streams and timing events, and loads readout layers, whose
// weights live in device memory.
//
// # The readout
//
// The readout turns a window's spike counts (N int32, one per output neuron of the chip)
// into M scores through a dense layer with int32 weights and int64 biases, accumulated in
// int64 (wrapping modulo 2^64), and picks the argmax (the first largest score). Integer sums
// are exact and order-free, so the CUDA kernel and the CPU backend agree bit for bit.
//
// Readout.Launch takes a Batch: windows at fixed strides in registered memory, typically
// the records of a runtime/ring ring, which the kernel reads in place; each window's output
// (argmax, then the scores; see OutputSize and Output) is written back into host memory,
// in place too.
//
// The kernel is hand-written PTX (kernels/readout.ptx, ISA 7.0, target sm_52), embedded in
// the binary and JIT-compiled by the driver for whatever device it finds: one block of
// ReadoutThreads threads per window stages the counts in shared memory, each thread
// accumulates the scores of m = tid, tid+B, ..., and a tree reduction finds the argmax.
//
// Readout files (ReadLayer, WriteLayer) hold a layer as JSON with a format name and a
// version.
//
// # Ownership
//
// A Device owns what it hands out: Close releases the registrations, streams, events and
// readouts still open, and then the device. Each of them has its own Close too. The Device
// is safe for concurrent use; streams, events and readouts are used by one goroutine at a
// time. Close a device only after the goroutines using it have stopped.
package gpu
