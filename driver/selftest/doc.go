// Package selftest checks a device end to end, as xbutil validate does for an FPGA card:
// the register file, protocol round trips, a write and read-back of every core's memory, a
// Lava conformance vector run as a network image and compared value by value, the sensors,
// and the ring bandwidth in both directions. lrctl validate prints its report.
package selftest
