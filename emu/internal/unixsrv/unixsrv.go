// Package unixsrv is what the emulator's socket servers share — the board over shared memory
// (emu/board, SOCK_SEQPACKET) and its PCIe function over vfio-user (emu/pcie, SOCK_STREAM):
// the listening socket, where a socket left by a dead server is replaced and a live one is
// left alone; the accept loop, a goroutine per connection until the context ends; and who is
// at the other end.
package unixsrv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrInUse is returned by Listen when a live server answers on the socket already.
var ErrInUse = errors.New("socket in use by a live server")

// probeTimeout bounds Listen's look for a live server on an existing socket.
const probeTimeout = time.Second

// Listen makes a Unix socket of network ("unix" or "unixpacket") at path, in a directory it
// creates (mode 0700) if missing. A socket left behind by a dead server is replaced; one a
// live server answers on is not (ErrInUse). The listener removes the socket when closed.
func Listen(network, path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		c, err := net.DialTimeout(network, path, probeTimeout)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", path, ErrInUse)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale socket: %w", err)
		}
	}
	ln, err := net.ListenUnix(network, &net.UnixAddr{Name: path, Net: network})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(true)
	return ln, nil
}

// Serve accepts connections on ln, each handled by serve in a goroutine of its own and
// closed when it returns, until ctx ends (it closes ln and returns nil once every handler
// returned) or ln fails.
func Serve(ctx context.Context, ln *net.UnixListener, serve func(context.Context, *net.UnixConn)) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			serve(ctx, conn)
		}()
	}
}

// Peer asks the kernel who is at the other end of conn: its process id and command name
// (0 and "" where it cannot say).
func Peer(conn *net.UnixConn) (pid int, comm string) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, ""
	}
	raw.Control(func(fd uintptr) {
		cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil || cred.Pid <= 0 {
			return
		}
		pid = int(cred.Pid)
	})
	if pid == 0 {
		return 0, ""
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil {
		comm = strings.TrimSpace(string(b))
	}
	return pid, comm
}
