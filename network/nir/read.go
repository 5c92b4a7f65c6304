package nir

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// ReadOpts say how ReadFile reads a file.
type ReadOpts struct {
	// InProcess reads the HDF5 file in this process. By default ReadFile reads it in a child
	// process (this executable, started again; see the package documentation), because the
	// HDF5 library can be driven by a crafted file to exhaust memory or stack, which no error
	// or recover in this process could catch; the child's death becomes an error wrapping
	// ErrFormat. Set InProcess for files you trust, or where the executable cannot be started
	// again.
	InProcess bool
	// Timeout bounds the child process (0: 60 s).
	Timeout time.Duration
	// MemoryLimit bounds the child's heap in bytes (RLIMIT_DATA, on Linux; 0: 1 GiB, room
	// for the largest tree the caps allow).
	MemoryLimit int64
}

// ReadFile reads a .nir file into its graph. The graph is checked as a graph (every node has
// a known type and the datasets it needs, with consistent shapes; every edge names nodes) but
// not yet for what the chip can run: Convert does that.
func ReadFile(ctx context.Context, path string, o ReadOpts) (*Graph, error) {
	var (
		t   *group
		err error
	)
	if o.InProcess {
		t, err = readHDF5(path)
	} else {
		t, err = readIsolated(ctx, path, o)
	}
	if err != nil {
		return nil, err
	}
	return parseFile(t)
}

// The child protocol: the parent starts its own executable with these variables set; the
// package's init sees them, reads the file, writes a gob-encoded reply to stdout and exits
// before main runs.
const (
	childEnv   = "LRCHIP_NIR_READER" // = childProto in the child
	childProto = "1"
	fileEnv    = "LRCHIP_NIR_FILE"
	memEnv     = "LRCHIP_NIR_MEMORY"
	maxReply   = 1 << 30 // bytes of reply read from the child
)

type reply struct {
	Tree  *group
	Err   string
	Limit bool // Err is about a cap (ErrLimit), not the file's format
}

func init() {
	if os.Getenv(childEnv) == childProto {
		os.Exit(childMain())
	}
}

func childMain() int {
	if m, err := strconv.ParseInt(os.Getenv(memEnv), 10, 64); err == nil && m > 0 {
		limitMemory(m)
	}
	debug.SetMaxStack(64 << 20) // unbounded recursion in the library dies here, quickly
	var r reply
	t, err := readHDF5(os.Getenv(fileEnv))
	if err != nil {
		r.Err, r.Limit = err.Error(), errors.Is(err, ErrLimit)
	} else {
		r.Tree = t
	}
	if err := gob.NewEncoder(os.Stdout).Encode(&r); err != nil {
		fmt.Fprintln(os.Stderr, "nir reader:", err)
		return 1
	}
	return 0
}

func readIsolated(ctx context.Context, path string, o ReadOpts) (*group, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("nir: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("nir: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("nir: %s: cannot start the reader process (%v); read in process instead (ReadOpts.InProcess)", path, err)
	}
	timeout, mem := o.Timeout, o.MemoryLimit
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if mem <= 0 {
		mem = 1 << 30
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"="+childProto, fileEnv+"="+abs, memEnv+"="+strconv.FormatInt(mem, 10))
	cmd.Stdin = nil
	var stderr limitedBuffer
	stderr.max = 16 << 10
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("nir: %w", err)
	}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("nir: %s: %w: the HDF5 reader took longer than %v", path, ErrFormat, timeout)
		}
		return nil, fmt.Errorf("nir: %s: cannot start the reader process: %w", path, err)
	}
	var r reply
	decErr := gob.NewDecoder(io.LimitReader(out, maxReply)).Decode(&r)
	_, _ = io.Copy(io.Discard, out)
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("nir: %s: %w: the HDF5 reader took longer than %v", path, ErrFormat, timeout)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("nir: %s: %w", path, ctx.Err())
	case waitErr != nil || decErr != nil:
		why := firstLine(stderr.String())
		if why == "" {
			why = fmt.Sprint(errors.Join(waitErr, decErr))
		}
		return nil, fmt.Errorf("nir: %s: %w: the HDF5 reader failed on this file (%s)", path, ErrFormat, why)
	case r.Err != "":
		sentinel := ErrFormat
		if r.Limit {
			sentinel = ErrLimit
		}
		return nil, &childError{msg: r.Err, err: sentinel}
	case r.Tree == nil:
		return nil, fmt.Errorf("nir: %s: %w: the reader returned nothing", path, ErrFormat)
	}
	return r.Tree, nil
}

// childError is an error the child reported, with its sentinel restored.
type childError struct {
	msg string
	err error
}

func (e *childError) Error() string { return e.msg }
func (e *childError) Unwrap() error { return e.err }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
