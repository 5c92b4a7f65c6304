package gpu

import _ "embed"

//go:embed kernels/readout.ptx
var readoutPTX string

// ReadoutPTX returns the readout kernel's PTX text, as the CUDA backend loads it (PTX ISA
// 7.0, target sm_52: every driver since CUDA 11 JIT-compiles it for its device).
func ReadoutPTX() string { return readoutPTX }

// ReadoutThreads is the block size of the readout kernel (a power of two; the kernel's
// reduction needs one).
const ReadoutThreads = 128

// ReadoutEntry is the kernel's entry point in the PTX.
const ReadoutEntry = "lrchip_readout"
