package ring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The cross-process tests re-execute the test binary as a child that
// attaches to the ring (fd 3, from cmd.ExtraFiles, or a path) and plays one
// side. The child's role and parameters come from the environment.
const (
	envChild = "LRCHIP_RING_CHILD" // role; set only in children
	envN     = "LRCHIP_RING_N"     // records (per writer for mpsc)
	envSeed  = "LRCHIP_RING_SEED"
	envStyle = "LRCHIP_RING_STYLE" // produceTest / consumeTest style
	envPath  = "LRCHIP_RING_PATH"  // attach by path instead of fd 3
)

func TestMain(m *testing.M) {
	if role := os.Getenv(envChild); role != "" {
		os.Exit(childMain(role))
	}
	os.Exit(m.Run())
}

// childMain runs one side in the child process and returns its exit code.
func childMain(role string) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "child %s: %s\n", role, fmt.Sprintf(format, args...))
		return 1
	}
	if role == "exit" {
		return 0
	}
	n, _ := strconv.Atoi(os.Getenv(envN))
	seed, _ := strconv.ParseUint(os.Getenv(envSeed), 10, 64)
	style := os.Getenv(envStyle)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var r *Ring
	var err error
	if path := os.Getenv(envPath); path != "" {
		r, err = AttachPath(path, Opts{})
	} else {
		r, err = Attach(3, Opts{})
		unix.Close(3)
	}
	if err != nil {
		return fail("attach: %v", err)
	}
	defer r.Close()

	switch role {
	case "produce":
		p, err := r.Producer()
		if err != nil {
			return fail("%v", err)
		}
		if err := produceTest(ctx, p, n, seed, style, min(r.MaxPayload(), 3000)); err != nil {
			return fail("%v", err)
		}
		p.Close()
	case "consume":
		c, err := r.Consumer()
		if err != nil {
			return fail("%v", err)
		}
		got, err := consumeTest(ctx, c, style)
		if err != nil {
			return fail("after %d records: %v", got, err)
		}
		if got != n {
			return fail("got %d records, want %d", got, n)
		}
	case "mpsc":
		m, err := r.MultiProducer()
		if err != nil {
			return fail("%v", err)
		}
		writers, _ := strconv.Atoi(style)
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for w := range writers {
			wg.Go(func() {
				errs[w] = mpscWriter(ctx, m, uint32(w), n, min(r.MaxPayload()/2, 1000))
			})
		}
		wg.Wait()
		m.Close()
		if err := errors.Join(errs...); err != nil {
			return fail("%v", err)
		}
	case "hang-producer":
		p, err := r.Producer()
		if err != nil {
			return fail("%v", err)
		}
		if err := p.Write(ctx, 1, []byte("alive")); err != nil {
			return fail("%v", err)
		}
		<-ctx.Done() // until killed
	case "hang-consumer":
		c, err := r.Consumer()
		if err != nil {
			return fail("%v", err)
		}
		if _, err := c.Read(ctx); err != nil {
			return fail("%v", err)
		}
		<-ctx.Done()
	default:
		return fail("unknown role")
	}
	return 0
}

// child is a running child process.
type child struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

// startChild starts the test binary as a child playing role on r.
func startChild(t *testing.T, r *Ring, role string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+role)
	cmd.Env = append(cmd.Env, env...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if r.Fd() >= 0 {
		fd, err := unix.Dup(r.Fd())
		require.NoError(t, err)
		f := os.NewFile(uintptr(fd), "ring")
		defer f.Close()
		cmd.ExtraFiles = []*os.File{f}
	}
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd, out: out}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return c
}

// wait waits for the child and requires a clean exit.
func (c *child) wait(t *testing.T) {
	t.Helper()
	err := c.cmd.Wait()
	require.NoError(t, err, "child output:\n%s", c.out)
}

func crossN(t *testing.T) int {
	if testing.Short() {
		return 5000
	}
	return 50000
}

func TestCrossProcess(t *testing.T) {
	n := crossN(t)
	for _, tc := range []struct {
		name     string
		capacity int
		dir      string // "c2p": child produces; "p2c": parent produces
		prod     string
		cons     string
		opts     Opts
	}{
		{"child produces/batch", 4096, "c2p", "batch", "batch", Opts{}},
		{"child produces/write small ring", 256, "c2p", "write", "read", Opts{}},
		{"child produces/always sleep", 1 << 16, "c2p", "write", "read", Opts{SpinPolls: -1}},
		{"parent produces/batch", 4096, "p2c", "batch", "batch", Opts{}},
		{"parent produces/try", 1 << 16, "p2c", "try", "read", Opts{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Capacity = tc.capacity
			r, err := Create(opts)
			require.NoError(t, err)
			defer r.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			env := []string{envN + "=" + strconv.Itoa(n), envSeed + "=42"}
			if tc.dir == "c2p" {
				c, err := r.Consumer()
				require.NoError(t, err)
				ch := startChild(t, r, "produce", append(env, envStyle+"="+tc.prod)...)
				got, err := consumeTest(ctx, c, tc.cons)
				require.NoError(t, err, "after %d records; child output:\n%s", got, ch.out)
				assert.Equal(t, n, got)
				ch.wait(t)
			} else {
				p, err := r.Producer()
				require.NoError(t, err)
				ch := startChild(t, r, "consume", append(env, envStyle+"="+tc.cons)...)
				require.NoError(t, produceTest(ctx, p, n, 42, tc.prod, min(r.MaxPayload(), 3000)))
				p.Close()
				ch.wait(t)
			}
		})
	}
}

func TestCrossProcessMPSC(t *testing.T) {
	const writers = 4
	n := crossN(t) / writers
	r, err := Create(Opts{Capacity: 8192, MultiProducer: true})
	require.NoError(t, err)
	defer r.Close()
	c, err := r.Consumer()
	require.NoError(t, err)
	ch := startChild(t, r, "mpsc", envN+"="+strconv.Itoa(n), envStyle+"="+strconv.Itoa(writers))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	chk := newStreamChecker()
	recs := make([]Record, 32)
	for {
		k, err := c.ReadBatch(ctx, recs)
		if errors.Is(err, ErrClosed) {
			break
		}
		require.NoError(t, err, "child output:\n%s", ch.out)
		for _, rec := range recs[:k] {
			require.NoError(t, chk.add(rec))
		}
		c.Release()
	}
	ch.wait(t)
	assert.Equal(t, writers*n, chk.n)
	for w := range uint32(writers) {
		assert.EqualValues(t, n, chk.next[w], "stream %d", w)
	}
}

// TestFallbackFile forces the /dev/shm fallback (as under a seccomp policy
// that forbids memfd_create) and attaches by path.
func TestFallbackFile(t *testing.T) {
	saved := memfdCreate
	memfdCreate = func(string, int) (int, error) { return -1, unix.ENOSYS }
	defer func() { memfdCreate = saved }()
	r, err := Create(Opts{Capacity: 4096, Name: "lrchip-ring-test"})
	require.NoError(t, err)
	path := r.Path()
	require.True(t, strings.HasPrefix(path, shmDir+"/lrchip-ring-test-"), path)
	c, err := r.Consumer()
	require.NoError(t, err)
	ch := startChild(t, r, "produce", envN+"=2000", envStyle+"=write", envPath+"="+path)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := consumeTest(ctx, c, "read")
	require.NoError(t, err, "child output:\n%s", ch.out)
	assert.Equal(t, 2000, got)
	ch.wait(t)
	require.NoError(t, r.Close())
	_, err = os.Stat(path)
	assert.True(t, os.IsNotExist(err), "Close removes the file")
}

func TestCreateAttach(t *testing.T) {
	r, err := Create(Opts{})
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, DefaultCapacity, r.Capacity())
	assert.Empty(t, r.Path())
	require.GreaterOrEqual(t, r.Fd(), 0)
	seals, err := unix.FcntlInt(uintptr(r.Fd()), unix.F_GET_SEALS, 0)
	require.NoError(t, err)
	assert.NotZero(t, seals&unix.F_SEAL_SHRINK, "memfd sealed against shrinking")
	assert.ErrorIs(t, unix.Ftruncate(r.Fd(), 100), unix.EPERM)

	// A second mapping in this process sees the first one's records.
	r2, err := Attach(r.Fd(), Opts{Capacity: DefaultCapacity})
	require.NoError(t, err)
	defer r2.Close()
	assert.NotEqual(t, r.Fd(), r2.Fd(), "Attach keeps its own descriptor")
	p, err := r.Producer()
	require.NoError(t, err)
	c, err := r2.Consumer()
	require.NoError(t, err)
	require.NoError(t, p.TryWrite(9, []byte("across mappings")))
	rec, err := c.TryRead()
	require.NoError(t, err)
	assert.Equal(t, "across mappings", string(rec.Payload))

	_, err = Attach(r.Fd(), Opts{Capacity: 4096})
	assert.ErrorContains(t, err, "not the 4096 asked for")
	_, err = Attach(-1, Opts{})
	assert.Error(t, err)

	// A file path of our choosing, and files that are not rings.
	dir := t.TempDir()
	path := filepath.Join(dir, "ring")
	rp, err := Create(Opts{Capacity: 1024, Path: path})
	require.NoError(t, err)
	assert.Equal(t, path, rp.Path())
	_, err = Create(Opts{Capacity: 1024, Path: path})
	assert.Error(t, err, "exclusive create")
	ra, err := AttachPath(path, Opts{})
	require.NoError(t, err)
	assert.Equal(t, 1024, ra.Capacity())
	require.NoError(t, ra.Close())
	require.NoError(t, rp.Close())
	_, err = os.Stat(path)
	assert.True(t, os.IsNotExist(err))

	junk := filepath.Join(dir, "junk")
	require.NoError(t, os.WriteFile(junk, make([]byte, 8192), 0o600))
	_, err = AttachPath(junk, Opts{})
	assert.ErrorIs(t, err, ErrProtocol)
	small := filepath.Join(dir, "small")
	require.NoError(t, os.WriteFile(small, []byte("LRCRING"), 0o600))
	_, err = AttachPath(small, Opts{})
	assert.ErrorIs(t, err, ErrProtocol)
	// A valid header whose file is shorter than its capacity.
	short := filepath.Join(dir, "short")
	rs, err := Create(Opts{Capacity: 1 << 16, Path: short})
	require.NoError(t, err)
	require.NoError(t, os.Truncate(short, HeaderSize+100))
	_, err = AttachPath(short, Opts{})
	assert.ErrorContains(t, err, "smaller than header plus capacity")
	rs.Close()
	_, err = AttachPath(dir, Opts{})
	assert.Error(t, err)
	_, err = Create(Opts{Capacity: 1000})
	assert.Error(t, err)
}

// TestPeerDeath kills the peer with SIGKILL while this side waits on it.
func TestPeerDeath(t *testing.T) {
	for _, tc := range []struct {
		name string
		role string
		reap bool // reap the child before the wait notices (no zombie left)
	}{
		{"consumer waits for data", "hang-producer", false},
		{"consumer waits, child reaped", "hang-producer", true},
		{"producer waits for room", "hang-consumer", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Create(Opts{Capacity: 4096})
			require.NoError(t, err)
			defer r.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var block func() error
			var ch *child
			if tc.role == "hang-producer" {
				c, err := r.Consumer()
				require.NoError(t, err)
				ch = startChild(t, r, tc.role)
				rec, err := c.Read(ctx) // the child is attached and alive
				require.NoError(t, err, "child output:\n%s", ch.out)
				require.Equal(t, "alive", string(rec.Payload))
				c.Release()
				block = func() error { _, err := c.Read(ctx); return err }
			} else {
				p, err := r.Producer()
				require.NoError(t, err)
				ch = startChild(t, r, tc.role)
				require.NoError(t, p.Write(ctx, 1, []byte("first")))
				for atomic.LoadUint64(&r.h.ConsumerPos) == 0 && atomic.LoadUint32(&r.h.Consumer.PID) == 0 {
					time.Sleep(time.Millisecond)
				}
				for p.TryWrite(1, make([]byte, 500)) == nil {
				}
				block = func() error { return p.Write(ctx, 1, make([]byte, 500)) }
			}
			killed := make(chan time.Time, 1)
			time.AfterFunc(200*time.Millisecond, func() {
				ch.cmd.Process.Signal(syscall.SIGKILL)
				if tc.reap {
					ch.cmd.Wait()
				}
				killed <- time.Now()
			})
			err = block()
			done := time.Now()
			require.ErrorIs(t, err, ErrPeerGone)
			assert.Contains(t, err.Error(), fmt.Sprintf("(pid %d) has exited", ch.cmd.Process.Pid))
			k := <-killed
			assert.Less(t, done.Sub(k), 2*time.Second, "detected %v after the kill", done.Sub(k))
			t.Logf("%v: detected %v after SIGKILL", err, done.Sub(k).Round(time.Millisecond))
		})
	}
}

// deadPid returns the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=exit")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

func TestPeerLiveness(t *testing.T) {
	t.Run("dead pid", func(t *testing.T) {
		r := memRing(t, 1024, Opts{})
		c, err := r.Consumer()
		require.NoError(t, err)
		pid := deadPid(t)
		r.h.Producer.PID = uint32(pid)
		r.h.Producer.PIDNS = pidNamespace()
		require.ErrorIs(t, c.CheckPeer(), ErrPeerGone)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err = c.Read(ctx)
		require.ErrorIs(t, err, ErrPeerGone)
		assert.Less(t, time.Since(start), time.Second)
		// The dead holder's role can be taken over.
		p, err := r.Producer()
		require.NoError(t, err)
		assert.EqualValues(t, os.Getpid(), r.h.Producer.PID)
		require.NoError(t, p.TryWrite(1, []byte("new")))
		rec, err := c.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, "new", string(rec.Payload))
	})

	t.Run("zombie", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"=exit")
		require.NoError(t, cmd.Start())
		defer cmd.Wait()
		require.Eventually(t, func() bool { return processGone(cmd.Process.Pid) }, 10*time.Second, time.Millisecond)
		// The pidfd turns readable once the whole thread group is gone, which
		// can be a moment after the leader shows as a zombie.
		w := newProcWatch(cmd.Process.Pid)
		defer w.close()
		require.Eventually(t, w.gone, 10*time.Second, time.Millisecond)
		assert.False(t, processGone(os.Getpid()))
		self := newProcWatch(os.Getpid())
		defer self.close()
		assert.False(t, self.gone())
	})

	// A peer in another pid namespace cannot be checked by pid: only the
	// heartbeat (with PeerTimeout) tells.
	for _, beating := range []bool{false, true} {
		t.Run(fmt.Sprintf("heartbeat beating=%v", beating), func(t *testing.T) {
			r := memRing(t, 1024, Opts{PeerTimeout: 300 * time.Millisecond, WakeInterval: 20 * time.Millisecond})
			c, err := r.Consumer()
			require.NoError(t, err)
			r.h.Producer.PID = 1234567
			r.h.Producer.PIDNS = pidNamespace() + 1
			stop := make(chan struct{})
			var wg sync.WaitGroup
			defer wg.Wait()
			defer close(stop)
			if beating {
				hb := &r.h.Producer.Heartbeat
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(20 * time.Millisecond):
							atomic.AddUint64(hb, 1)
						}
					}
				})
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			_, err = c.Read(ctx)
			if beating {
				require.ErrorIs(t, err, context.DeadlineExceeded)
				return
			}
			require.ErrorIs(t, err, ErrPeerGone)
			assert.Contains(t, err.Error(), "producer (pid 1234567) showed no heartbeat or progress for")
			assert.InDelta(t, 0.3, time.Since(start).Seconds(), 0.25)
			_, err = r.Producer()
			assert.ErrorContains(t, err, "another pid namespace")
		})
	}

	t.Run("own heartbeat", func(t *testing.T) {
		r := memRing(t, 1024, Opts{Heartbeat: 10 * time.Millisecond})
		_, err := r.Consumer()
		require.NoError(t, err)
		h0 := atomic.LoadUint64(&r.h.Consumer.Heartbeat)
		require.Eventually(t, func() bool { return atomic.LoadUint64(&r.h.Consumer.Heartbeat) > h0+3 }, 5*time.Second, 5*time.Millisecond)
		require.NoError(t, r.Close())
	})
}
