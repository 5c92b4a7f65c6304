//go:build !linux

package gpu

import (
	"fmt"
	"runtime"
)

type cudaDevice struct{ Device }

func openCUDA(opts Opts) (*cudaDevice, error) {
	return nil, fmt.Errorf("%w: the CUDA backend is built for Linux only, not %s", ErrNoDriver, runtime.GOOS)
}
