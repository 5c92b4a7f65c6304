// Package nir imports models in NIR, the Neuromorphic Intermediate Representation that
// snnTorch, Norse, Sinabs, Rockpool, Spyx and Lava-dl export, as network descriptions
// (package network) for the chip, with Lava's fixed-point conventions for Loihi.
//
// Import (ReadFile, then Convert) reads a .nir file and returns the network and a Report of
// what the conversion did to the numbers; lrctl import nir is its command line. docs/nir.md is
// the reference: which node becomes what, the numerics and their sources, the errors they
// bring, and the reset defaults per NIR version. In short:
//
//   - Neuron nodes (LIF, CubaLIF, IF, LI, CubaLI, I, Threshold) become populations: Lava's
//     standard lif program where it expresses the node exactly (reset to zero, one decay and
//     threshold per population, no constant input into the current), else a program
//     generated with the same arithmetic plus what the node needs (program.go).
//   - Linear nodes (Affine, Linear, Scale, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, the
//     Input and Output nodes of nested graphs) are composed along every path from a spike
//     source to a neuron node into one weight matrix per pair (convolutions expanded with
//     PyTorch's semantics), quantized per connection: mantissas truncated at 2^8 per unit with
//     the smallest weight exponent that fits 8 bits. Their biases become the neurons' biases.
//   - A recurrent edge becomes a connection of a population to itself; every connection
//     delays spikes by one step, as Lava's Dense. Delay nodes become chains of relay
//     populations.
//
// # Reading HDF5
//
// Files are read with github.com/scigolib/hdf5 (pure Go). That library was not written for
// hostile input: a crafted file can make it allocate terabytes or recurse forever inside its
// Open, which no recover survives. ReadFile therefore reads the HDF5 file in a child process
// by default — the running executable started again with LRCHIP_NIR_READER=1, which this
// package's init intercepts before main runs (the pattern of Docker's reexec) — under a heap
// limit (RLIMIT_DATA) and a timeout, and gets the file's groups and datasets back as gob. A
// file that breaks the library gives an error wrapping ErrFormat; the caller's process never
// sees the damage. ReadOpts.InProcess reads in process instead, for trusted files.
//
// Everything after the HDF5 layer — the graph, shapes, conversion — runs in process under caps
// (Limits, MaxDatasetElements and the other constants): a graph beyond them gets an error
// wrapping ErrLimit before anything of that size is allocated. Errors about one node are
// *NodeError values that name it.
package nir
