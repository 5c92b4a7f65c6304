package hostlib_test

import (
	"os"
	"testing"

	"github.com/lrchip/lrchip/hostlib/internal/emuproc"
	"github.com/lrchip/lrchip/internal/testenv"
)

func TestMain(m *testing.M) {
	emuproc.Main() // the test binary doubles as an emulated board process
	os.Exit(testenv.RunM(m))
}
