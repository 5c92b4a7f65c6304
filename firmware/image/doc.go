// Package image defines the network image: the binary a driver loads onto a board (or that
// emu.Chip.LoadImage loads into the emulator). An image is a network already placed on a chip:
// which program and neurons each core runs, with their constants, parameters and initial
// state; the connections between cores and from input ports, with effective weights, each
// occupying one accumulator bank of its destination core; the input ports; and, so that results
// can be reported by name, the populations (which neurons of which cores they are) and the
// output ports. The network package builds images from network descriptions (network.Map).
//
// # Layout, version 1
//
// All integers are little-endian. u32 is unsigned 32-bit, i32 signed 32-bit (two's
// complement), i16 signed 16-bit, u16 unsigned 16-bit. Every record starts at a multiple of 4
// bytes; "pad" is zero bytes up to the next multiple of 4. A str is a u32 length L (0..255),
// L bytes of UTF-8, pad.
//
//	offset  size      field
//	0       4         magic "LRNI"
//	4       2         version, 1
//	6       2         flags, 0 (reserved; a nonzero value is rejected)
//	8       4         cores: the number of cores the image needs (1..128)
//	12      4         neurons per core: the neuron slots per core it needs (1..8192)
//	16      4         section count, 6
//	20      4         total length of the image in bytes, checksum included
//	24      16×6      section table, one entry per section, in this order:
//	                    u32 kind, u32 record count, u32 offset, u32 length (a multiple of 4)
//	120     ...       the sections, back to back: each starts where the previous ends
//	T−32    32        SHA-256 of bytes [0, T−32), T the total length
//
// The sections, by kind, and their records:
//
//	1 meta     exactly 1 record: str network name (may be empty)
//	2 cores    one record per core, by ascending core index:
//	             u32 core index, u32 neurons n,
//	             u32 program length B, B bytes of program binary (isa.Program.MarshalBinary,
//	             itself magic "LRNP", checksummed), pad,
//	             i32 × nconst constants, in the program's order,
//	             i32 × nparam × n parameters, one row of n per parameter,
//	             i32 × nstate × n initial state, one row of n per state register
//	             (nconst, nparam, nstate are the program's counts)
//	3 inputs   one record per input port: str name, u32 size
//	4 conns    one record per connection (one accumulator bank of its destination core):
//	             str name (of the network connection it comes from; may be empty),
//	             u32 source kind (0 core, 1 input port), u32 source (core index or input
//	             port index), u32 source start, u32 source count,
//	             u32 destination core, u32 destination start, u32 destination count,
//	             u32 sign mode (1 MIXED, 2 EXCITATORY, 3 INHIBITORY), u32 num_weight_bits
//	             (1..8), i32 weight exponent (−16..15), u32 flags (bit 0 graded, bit 1
//	             sparse; others 0), u32 synapses S, then
//	               dense:  S = source count × destination count; i16 × S effective weights,
//	                       row-major [source][destination], pad
//	               sparse: i32 × (source count + 1) index (synapses of source i are
//	                       [index[i], index[i+1]), index[0] = 0, index[last] = S),
//	                       u16 × S target neurons (relative to destination start), pad,
//	                       i16 × S effective weights, pad
//	5 pops     one record per population: str name, u32 size, u32 segment count G,
//	             G × (u32 core, u32 start, u32 count): population neuron i is the i-th
//	             neuron walking the segments in order
//	6 outputs  one record per output port: str name, u32 population index, u32 start,
//	             u32 count: port neuron j is population neuron start+j
//
// Weights are stored as the chip uses them, after syn.Effective; a weight that is not its own
// effective weight is rejected. Every byte of a valid image is determined by its content, so
// decoding and encoding again gives back the same bytes.
//
// # Checks
//
// Decode checks, in order: the magic, the version (ErrVersion), the header's fields and total
// length, the SHA-256 (ErrChecksum), the section table, every record field against its range
// and every length against the bytes that remain in its section before anything is allocated
// (ErrFormat; the message gives the byte offset, the section and record, and the field), and
// then the rules of Validate (ErrInvalid, *FieldError with the record's offset): sources,
// destinations and ranges exist, at most chip.MaxBanksPerCore accumulator banks (connections with a
// negative weight exponent) per core, populations on
// distinct neurons, unique names. A decoded image can be loaded without further checks.
package image
