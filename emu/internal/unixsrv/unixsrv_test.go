package unixsrv

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListenAndServe, on both kinds of socket the emulator serves: a live server's socket
// is not taken over, a stale one is; every connection is handled and closed; ctx ends
// Serve with nil once the handlers returned, and the socket is gone.
func TestListenAndServe(t *testing.T) {
	for _, network := range []string{"unix", "unixpacket"} {
		t.Run(network, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "board.sock")
			ln, err := Listen(network, path)
			require.NoError(t, err)
			fi, err := os.Stat(filepath.Dir(path))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type peer struct {
				pid  int
				comm string
			}
			peers := make(chan peer, 1)
			release := make(chan struct{})
			served := make(chan error, 1)
			go func() {
				served <- Serve(ctx, ln, func(ctx context.Context, conn *net.UnixConn) {
					pid, comm := Peer(conn)
					peers <- peer{pid, comm}
					<-release // a handler still running holds Serve up
				})
			}()
			_, err = Listen(network, path)
			require.ErrorIs(t, err, ErrInUse)

			c, err := net.Dial(network, path)
			require.NoError(t, err)
			defer c.Close()
			p := <-peers
			assert.Equal(t, os.Getpid(), p.pid)
			assert.NotEmpty(t, p.comm)

			cancel()
			select {
			case err := <-served:
				t.Fatalf("Serve returned (%v) while a handler ran", err)
			default:
			}
			close(release)
			require.NoError(t, <-served)
			buf := make([]byte, 1)
			_, err = c.Read(buf)
			assert.Error(t, err, "the connection is closed after its handler")
			_, err = os.Lstat(path)
			assert.True(t, os.IsNotExist(err), "the socket goes with the listener")

			// A socket file nobody answers on is replaced.
			require.NoError(t, os.WriteFile(path, nil, 0o600))
			ln, err = Listen(network, path)
			require.NoError(t, err)
			ln.Close()
		})
	}
}

func TestServeFailsWhenTheListenerDoes(t *testing.T) {
	ln, err := Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	require.NoError(t, err)
	ln.Close()
	err = Serve(context.Background(), ln, func(context.Context, *net.UnixConn) {})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "accept")
}
