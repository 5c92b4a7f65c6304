package board

import (
	"context"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Pipe serves the board in this process, to one host, over a connected pair of Unix
// sockets: it returns the host's end (what a driver attaches to, as it would to an emulator
// process's socket) and a stop function that ends the service and waits for it. The board
// is not closed.
func (b *Board) Pipe() (host *net.UnixConn, stop func(), err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("board: socketpair: %w", err)
	}
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "lrchip-board")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			if i == 0 {
				unix.Close(fds[1])
			} else {
				conns[0].Close()
			}
			return nil, nil, fmt.Errorf("board: %w", err)
		}
		conns[i] = c.(*net.UnixConn)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer conns[1].Close()
		b.ServeConn(ctx, conns[1])
	}()
	return conns[0], func() { cancel(); <-done }, nil
}
