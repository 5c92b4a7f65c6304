// Package chip is the chip's vocabulary, shared by everything that configures, runs or
// reads a chip: its size and limits (defined here once), spikes, the fields a probe can
// record, probes and their samples, and what a device returns from a run.
//
// It imports nothing of the project: the image format (firmware/image), the emulator (emu),
// the driver and every front end build on it. The device interface that runs timesteps is
// in package device.
package chip
