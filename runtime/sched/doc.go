// Package sched is the co-scheduler of the chip ("right brain") and the GPU ("left brain"):
// a two-stage pipeline in which the chip runs windows of timesteps while the GPU reads out
// the window before.
//
// # Stages
//
// The chip stage takes a free slot (at most Opts.Depth windows are in flight: the
// backpressure of a slow GPU stage reaches the chip here), reserves a window record in a
// runtime/ring ring, runs Opts.Window timesteps on the Chip (injecting the spikes that
// Opts.Input gives for each step) and counts each output neuron's spikes straight into the
// record, then publishes it.
//
// The GPU stage reads the published records in batches (up to Opts.Batch), launches the
// readout kernel of the runtime/gpu backend on them, one launch per run of records at a
// constant stride, and waits for it. The ring lives in host memory registered with the GPU,
// so the kernel reads the counts and writes the scores and the argmax in place, inside the
// records: nothing is copied between the stages. The stage then delivers each window's
// Result to Opts.OnResult, releases the records and frees their slots.
//
// The window record layout is documented at RecordType; RecordSize gives its size.
//
// # Measurements
//
// Every stage is timed into log-linear histograms (Histogram; p50/p90/p99 in Summary): the
// chip stage per window, the queueing between publication and pick-up, the GPU stage per
// batch as the host sees it, the kernels by device events, and each window end to end.
// Stats also counts windows, steps, output spikes and launches, the most windows in flight
// and the time the chip stage stalled on backpressure.
//
// # Cancellation and errors
//
// Cancelling Run's context stops the chip stage between two timesteps (the window in
// progress is dropped); the GPU stage drains the windows already published and delivers
// them; Run then returns. An error in either stage stops both. Run's one extra goroutine
// has returned when Run returns, and the ring it used is closed.
//
// # Devices
//
// Chip is a small interface (Outputs, RunWindow); EmuChip adapts the in-process emulator
// (emu.Chip). A driver device will get an adapter of its own. The GPU side is any
// gpu.Device: the CUDA backend, or the CPU backend, which gives the same bits.
package sched
