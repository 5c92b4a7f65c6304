// Package board is the emulated lrchip board: an emu.Chip behind the board protocol of
// firmware/regmap, the way the FPGA board puts the chip behind PCIe or USB. It has the
// register file, the doorbell and interrupt logic, the four rings (commands, completions and
// events, spikes in, spikes and probes out), a timestep engine (RUN N steps, free-running
// START/STOP), an SPI flash with golden, A and B firmware slots, INA226-class power monitors
// on the core, I/O and DDR rails and a temperature sensor whose readings follow the emulated
// load, with throttling and an event over the limits.
//
// A Board serves one host at a time through a Link: its ends of the rings plus an interrupt
// and a doorbell wait. Serve runs the board's firmware loop on a Link; ServeConn and Serve on
// a listener provide the emulator's shared-memory transport over a Unix socket (memfds and
// eventfds passed with SCM_RIGHTS, as vfio-user does), which is what the driver's emu: and
// emu:unix: transports attach to.
//
// The board's state (network, timestep, flash, thermal state) outlives a host: the next one
// finds it as the last one left it, except that free-running stops when the host goes.
package board
