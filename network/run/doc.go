// Package run runs a network image on a chip — the in-process emulator (Emu) or, through the
// small Device interface, a board — step by step: it injects input spikes read from CSV or
// JSON files (ParseSpikes), records output spikes by port name and probed fields by population
// name (ParseProbe: "exc:v:0-9"), and writes the result as CSV or JSON (Result.Write).
//
// Timing follows the chip (docs/chip.md §2): an input spike given for step s is routed in step
// s, like a spike a core emits in step s, so its targets see it in their input a in step s+1.
// Output spikes and probes are read after each step's compute phase.
package run
