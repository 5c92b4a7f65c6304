// Package regmap is the board protocol, as data: the register file, the records that travel
// through the rings, the flash layout, the sensor rails, the USB and PCIe ids, and the setup
// messages of the emulator's shared-memory transport. Every number here crosses the wire; the
// driver, the emulator (emu/board), the udev rules, docs/regmap.md and the C header for the
// FPGA firmware (firmware/include/lrchip_regmap.h) all take them from this package, and a test
// fails when the generated files are stale (`go generate ./firmware/...`).
//
// # The protocol in one page
//
// A board is a register file (BAR 0 on PCIe, vendor control requests on USB, a shared memory
// page on the emulator) plus four rings of records in host memory, in the layout of
// runtime/ring (a 4 KiB header with producer and consumer positions, then records of
// {Length u32, Type u16, Flags u16} and a payload, 8-byte aligned):
//
//	ring 0  CMD     host → board   Command records
//	ring 1  CPL     board → host   Completion and Event records
//	ring 2  SPKIN   host → board   Spikes records (spikes injected on input ports)
//	ring 3  OUT     board → host   Spikes records (output ports) and Probe records
//
// The host writes a Command (a tag, an opcode, arguments) into CMD and rings the doorbell; the
// board executes commands strictly in order and answers each with a Completion carrying the
// same tag, a Status and the timestep, except commands sent with CmdFlagQuiet, which complete
// only when they fail. A failed completion carries a message saying what and where. Every
// record that a step produces in OUT is published before the completion of the command that
// ran that step, so a host that has the completion has the output.
//
// Waking, in both directions, follows the need-wakeup rule (io_uring's SQ_NEED_WAKEUP): the
// board sets StatusSleeping before it sleeps and re-checks its work; the host, after
// publishing a record or freeing ring space, rings the doorbell only when it sees that bit.
// The other way, the host arms IRQ_MASK before it sleeps and re-checks the rings; the board
// raises IRQ_STATUS bits and interrupts (MSI-X, or an eventfd on the emulator) only where the
// mask is armed, and disarms the whole mask when it does (one-shot).
//
// Versions are negotiated at open: the host reads PROTO_VERSION and CAP_VERSION, refuses a
// board whose protocol major or capability layout it does not know (Negotiate, CheckCaps),
// and writes the version it will speak to HOST_VERSION.
//
// Everything a board sends is untrusted: every decoder here checks lengths and counts against
// the bytes it was given and returns an error wrapping ErrMalformed, never panics, never reads
// out of bounds. Decoders are fuzzed.
package regmap
