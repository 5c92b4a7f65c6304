package driver

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// Without XDG_RUNTIME_DIR and without a writable /run/lrchip, emulator sockets go to a
// folder of this user's in the temporary directory, so that lrctl emu serve and lrctl list
// still meet.
func TestRunDirFallbacks(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	no := func(string) bool { return false }
	yes := func(string) bool { return true }
	require.Equal(t, filepath.Join(os.TempDir(), "lrchip-"+strconv.Itoa(os.Getuid())), runDir(get, no))
	require.Equal(t, "/run/lrchip", runDir(get, yes))
	env["XDG_RUNTIME_DIR"] = "/run/user/7"
	require.Equal(t, "/run/user/7/lrchip", runDir(get, no))
	env[RunDirEnv] = "/x"
	require.Equal(t, "/x", runDir(get, no))
	require.True(t, writableDir(t.TempDir()))
	require.True(t, writableDir(filepath.Join(t.TempDir(), "new")))
}
