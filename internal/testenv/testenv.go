// Package testenv keeps tests hermetic from the machine they run on.
package testenv

import "os"

// RunDirEnv is driver.RunDirEnv (this package is below the driver).
const RunDirEnv = "LRCHIP_RUN_DIR"

// RunM runs a package's tests with a run directory of their own, so that emulator processes,
// sockets and lock files of the machine (a developer's lrctl emu serve) neither change what
// the tests find nor receive what they leave; it returns the exit code for os.Exit.
func RunM(m interface{ Run() int }) int {
	dir, err := os.MkdirTemp("", "lrchip-run-")
	if err != nil {
		return m.Run()
	}
	defer os.RemoveAll(dir)
	os.Setenv(RunDirEnv, dir)
	return m.Run()
}
