// Package layers holds the test that keeps the project's imports pointing down the layers of
// docs/architecture.md: foundations ← the device seam ← its implementations (driver, emu) ←
// the users of a device ← front ends. It has no code of its own.
package layers
