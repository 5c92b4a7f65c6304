package driver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/runtime/ring"
)

// settle waits until the goroutine count drops to base (goroutines end asynchronously) and
// fails with a dump if it does not.
func settle(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:n])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keepBusy keeps d busy as a caller does, in a goroutine of its own, until a call fails:
// that error comes on the channel. "run": one endless Run; "free-running": Start, then read
// the output and inject a spike, over and over; "idle": poll, every few milliseconds. It
// returns once the activity is under way (the board has stepped, or the first round is
// done), so that what the test does next happens in the middle of it.
func keepBusy(t *testing.T, ctx context.Context, d *Device, mode string, poll func() error) <-chan error {
	t.Helper()
	errc := make(chan error, 1)
	going := make(chan struct{})
	var once sync.Once
	started := func() { once.Do(func() { close(going) }) }
	switch mode {
	case "run":
		go func() { errc <- d.Run(ctx, 1<<40) }()
		go func() {
			for ctx.Err() == nil {
				if st, err := d.Status(); err != nil || st.Timestep > 0 {
					break
				}
				runtime.Gosched()
			}
			started()
		}()
	case "free-running":
		require.NoError(t, d.Start(ctx))
		go func() {
			for {
				if _, err := read(d, ctx); err != nil {
					errc <- err
					started()
					return
				}
				if err := d.Inject(ctx, []chip.Spike{{Neuron: 1, Payload: 1}}); err != nil {
					errc <- err
					started()
					return
				}
				started()
				time.Sleep(time.Millisecond) // pacing: the board runs meanwhile
			}
		}()
	case "idle":
		go func() {
			for {
				err := poll()
				started()
				if err != nil {
					errc <- err
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	default:
		t.Fatalf("no mode %q", mode)
	}
	<-going
	return errc
}

// requireGone waits for the first error on errc, which must be ErrGone and come within
// limit of gone, the moment the board went.
func requireGone(t *testing.T, errc <-chan error, gone time.Time, limit time.Duration) {
	t.Helper()
	select {
	case err := <-errc:
		took := time.Since(gone)
		require.ErrorIs(t, err, ErrGone)
		t.Logf("%v after %v", err, took)
		assert.Less(t, took, limit)
	case <-time.After(5 * time.Second):
		t.Fatal("no error 5 s after the board went")
	}
}

// requireBusyNamingMe checks that uri, which this process holds open, refuses every other
// opener with ErrBusy naming this process: in this process (the lock file says who), in this
// process without the lock file (the board refuses, naming the holder it knows), and in
// another process (the test binary as a client). It returns how the name reads.
func requireBusyNamingMe(t *testing.T, ctx context.Context, uri string) (me string) {
	t.Helper()
	me = fmt.Sprintf("pid %d (", os.Getpid())
	_, err := Open(ctx, uri, Opts{})
	require.ErrorIs(t, err, ErrBusy)
	require.ErrorContains(t, err, me)
	t.Log(err)
	_, err = Open(ctx, uri, Opts{NoLock: true})
	require.ErrorIs(t, err, ErrBusy)
	require.ErrorContains(t, err, me)
	t.Log(err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envClient+"="+uri)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	require.Contains(t, string(out), "device busy")
	require.Contains(t, string(out), me)
	t.Logf("other process: %s", strings.TrimSpace(string(out)))
	return me
}

func TestKilledEmulatorIsGoneWithoutLeaks(t *testing.T) {
	for _, mode := range []string{"run", "free-running", "idle"} {
		t.Run(mode, func(t *testing.T) {
			s := startServer(t)
			ctx := ctxT(t)
			baseG, baseFd := runtime.NumGoroutine(), fdSet(t)
			d, err := Open(ctx, s.uri, Opts{})
			require.NoError(t, err)
			_, err = loadImage(d, ctx, lifImage(t, 8, 32, 1))
			require.NoError(t, err)
			errc := keepBusy(t, ctx, d, mode, func() error { _, err := read(d, ctx); return err })
			killed := time.Now()
			require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
			requireGone(t, errc, killed, 2*time.Second)
			_, err = d.Sensors(ctx)
			require.ErrorIs(t, err, ErrGone)
			require.NoError(t, d.Close())
			s.kill()
			_, err = d.Sensors(ctx)
			require.ErrorIs(t, err, ErrClosed)
			settle(t, baseG)
			requireNoNewFds(t, baseFd)
		})
	}
}

func TestSecondOpenIsBusy(t *testing.T) {
	s := startServer(t)
	ctx := ctxT(t)
	d, err := Open(ctx, s.uri, Opts{})
	require.NoError(t, err)
	defer d.Close()
	me := requireBusyNamingMe(t, ctx, s.uri)

	// Discovery says who holds it.
	found, err := List(ctx, ListOpts{RunDir: s.path[:strings.LastIndexByte(s.path, '/')]})
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Contains(t, found[0].Holder, me)

	// Once closed, the next one gets in.
	require.NoError(t, d.Close())
	d2, err := Open(ctx, s.uri, Opts{})
	require.NoError(t, err)
	require.NoError(t, d2.Close())
}

func TestVersionMismatch(t *testing.T) {
	ctx := ctxT(t)
	_, err := openBoard(ctx, board.Opts{Protocol: regmap.MakeVersion(2, 0)}, Opts{})
	require.ErrorIs(t, err, ErrVersion)
	require.ErrorContains(t, err, "speaks protocol 2.0, this driver speaks 1.0")

	_, err = openBoard(ctx, board.Opts{CapVersion: 9}, Opts{})
	require.ErrorIs(t, err, ErrVersion)
	require.ErrorContains(t, err, "capability layout 9, this driver knows 1 to 1")

	// A newer minor is fine: both speak the lower.
	d, err := openBoard(ctx, board.Opts{Protocol: regmap.MakeVersion(1, 7)}, Opts{})
	require.NoError(t, err)
	require.Equal(t, regmap.MakeVersion(1, 0), d.Info().Protocol)
	require.Equal(t, regmap.MakeVersion(1, 7), d.Info().BoardProtocol)
	hv, err := d.ReadRegister(regmap.RegHostVersion)
	require.NoError(t, err)
	require.Equal(t, uint32(regmap.MakeVersion(1, 0)), hv)
	d.Close()

	// The emulator process refuses at setup.
	s := startServer(t, envProto+"=3.1")
	_, err = Open(ctx, s.uri, Opts{})
	require.ErrorIs(t, err, ErrVersion)
	require.ErrorContains(t, err, "speaks protocol 3.1, this driver speaks 1.0")
}

// rawRing is a test's own mapping of one of a device's rings, to play a board that breaks
// the protocol.
type rawRing struct {
	mem []byte
	cap uint64
}

func mapRing(t *testing.T, d *Device, r regmap.Ring) *rawRing {
	rg := d.link.(*shmLink).rings[r]
	mem, err := unix.Mmap(rg.Fd(), 0, ring.HeaderSize+rg.Capacity(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Munmap(mem) })
	return &rawRing{mem: mem, cap: uint64(rg.Capacity())}
}

func (r *rawRing) u64(off uintptr) *uint64 { return (*uint64)(unsafe.Pointer(&r.mem[off])) }

// put writes a record with the given header at the producer position and publishes it.
func (r *rawRing) put(length uint32, typ uint16, payload []byte) {
	pos := atomic.LoadUint64(r.u64(ring.OffProducerPos))
	off := ring.HeaderSize + pos&(r.cap-1)
	copy(r.mem[off+8:], payload)
	atomic.StoreUint64(r.u64(uintptr(off)), uint64(length)|uint64(typ)<<32|uint64(ring.RecordCommitted)<<48)
	atomic.StoreUint64(r.u64(ring.OffProducerPos), pos+(uint64(length)+7)&^7)
}

func TestBoardBreakingTheProtocol(t *testing.T) {
	spikes := make([]byte, regmap.SpikesSize(1))
	regmap.PutSpikes(spikes, 0, 1, []regmap.Spike{{Neuron: 1, Payload: 1}})
	badCount := append([]byte(nil), spikes...)
	badCount[4] = 200 // count 200 in a record of one spike
	cpl := make([]byte, regmap.CompletionSize(0))
	regmap.PutCompletion(cpl, regmap.Completion{Tag: 999, Op: regmap.OpRun})
	tests := []struct {
		name string
		ring regmap.Ring
		act  func(r *rawRing)
		want string
	}{
		{"unaligned producer position", regmap.RingCpl, func(r *rawRing) { atomic.StoreUint64(r.u64(ring.OffProducerPos), 12345) }, "not a multiple of 8"},
		{"position beyond capacity", regmap.RingOut, func(r *rawRing) { atomic.StoreUint64(r.u64(ring.OffProducerPos), r.cap*4) }, "ahead of consumer"},
		{"record longer than published", regmap.RingCpl, func(r *rawRing) {
			pos := atomic.LoadUint64(r.u64(ring.OffProducerPos))
			atomic.StoreUint64(r.u64(uintptr(ring.HeaderSize+pos&(r.cap-1))), 4096|uint64(regmap.TypeCompletion)<<32|uint64(ring.RecordCommitted)<<48)
			atomic.StoreUint64(r.u64(ring.OffProducerPos), pos+8)
		}, "published bytes"},
		{"spike count beyond the record", regmap.RingOut, func(r *rawRing) { r.put(uint32(8+len(badCount)), regmap.TypeSpikes, badCount) }, "count 200 needs"},
		{"unknown record type", regmap.RingOut, func(r *rawRing) { r.put(16, 0x77, make([]byte, 8)) }, "record type 0x77 in OUT"},
		{"completion for a tag never issued", regmap.RingCpl, func(r *rawRing) { r.put(uint32(8+len(cpl)), regmap.TypeCompletion, cpl) }, "tag 999, which is not outstanding"},
		{"short completion", regmap.RingCpl, func(r *rawRing) { r.put(8+4, regmap.TypeCompletion, make([]byte, 4)) }, "shorter than its 16-byte header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			baseG := runtime.NumGoroutine()
			d, err := Open(ctx, "emu:", Opts{})
			require.NoError(t, err)
			defer func() {
				require.NoError(t, d.Close())
				settle(t, baseG)
			}()
			require.NoError(t, d.Echo(ctx, []byte("hello")))
			r := mapRing(t, d, tt.ring)
			tt.act(r)
			d.link.Wake()
			select {
			case <-d.done:
			case <-time.After(5 * time.Second):
				t.Fatal("the driver did not notice")
			}
			_, err = d.Sensors(ctx)
			require.ErrorIs(t, err, ErrProtocol)
			require.ErrorContains(t, err, tt.want)
			t.Log(err)
		})
	}
}

func TestRunHonoursItsContext(t *testing.T) {
	ctx := ctxT(t)
	d, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	defer d.Close()
	_, err = loadImage(d, ctx, lifImage(t, 8, 64, 3))
	require.NoError(t, err)

	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err = d.Run(cctx, 1<<40)
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, time.Since(start), time.Second)

	dctx, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	err = d.Run(dctx, 1<<40)
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// The board stopped the runs: the device works on. (A NOP completes after the
	// aborted RUN did.)
	require.NoError(t, d.Echo(ctx, nil))
	before, err := d.Status()
	require.NoError(t, err)
	ts, err := runSteps(d, ctx, 3)
	require.NoError(t, err)
	require.Equal(t, before.Timestep+3, ts)
	ev := d.Events()
	require.NotEmpty(t, ev)
	require.Equal(t, "STOPPED", ev[0].Name)
}

func TestUnansweredCommandTimesOut(t *testing.T) {
	s := startServer(t)
	ctx := ctxT(t)
	d, err := Open(ctx, s.uri, Opts{Timeout: 300 * time.Millisecond})
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGSTOP))
	waitStopped(t, s.cmd.Process.Pid) // the signal is asynchronous: the board could still answer
	_, err = d.Sensors(ctx)
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorContains(t, err, "SENSORS: no completion in 300ms")
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGCONT))
	// The late completion is dropped; the next command works.
	_, err = d.Sensors(ctx)
	require.NoError(t, err)
}

func TestConcurrentUse(t *testing.T) {
	ctx := ctxT(t)
	d, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	defer d.Close()
	_, err = loadImage(d, ctx, lifImage(t, 8, 32, 5))
	require.NoError(t, err)
	errc := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 50 && err == nil; i++ {
				switch (g + i) % 6 {
				case 0:
					_, err = runSteps(d, ctx, 2)
				case 1:
					err = d.Inject(ctx, []chip.Spike{{Neuron: i % 8, Payload: 1}})
				case 2:
					_, err = d.Sensors(ctx)
				case 3:
					_, err = read(d, ctx)
				case 4:
					_, err = d.Status()
				case 5:
					err = d.Echo(ctx, []byte{byte(i)})
				}
			}
			errc <- err
		}()
	}
	for g := 0; g < 8; g++ {
		require.NoError(t, <-errc)
	}
	st, err := d.Status()
	require.NoError(t, err)
	require.True(t, st.Ready && st.Loaded)
}

func TestCloseWhileCallsWait(t *testing.T) {
	ctx := ctxT(t)
	baseG, baseFd := runtime.NumGoroutine(), fdSet(t)
	d, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	_, err = loadImage(d, ctx, lifImage(t, 8, 32, 5))
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { _, err := runSteps(d, ctx, 1<<40); errc <- err }()
	require.Eventually(t, func() bool { st, _ := d.Status(); return st.Timestep > 0 }, time.Minute, 100*time.Microsecond, "the run is under way")
	require.NoError(t, d.Close())
	err = <-errc
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, d.Close()) // idempotent
	settle(t, baseG)
	requireNoNewFds(t, baseFd)
}

func TestErrorsAreLowercaseAndWrapped(t *testing.T) {
	_, err := Open(context.Background(), "emu:unix:/nonexistent/x.sock", Opts{})
	require.ErrorIs(t, err, ErrNotFound)
	require.True(t, strings.HasPrefix(err.Error(), "driver: "), err.Error())
	_, err = Open(context.Background(), "usb:1209:0001", Opts{})
	require.ErrorIs(t, err, usbWithoutBoard)
	_, err = Open(context.Background(), "bogus:", Opts{})
	require.ErrorIs(t, err, ErrNotFound)
}

// waitStopped waits until the process is in the stopped state ('T' in /proc/PID/stat).
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		// The state follows the command name, which is in parentheses.
		i := bytes.LastIndexByte(b, ')')
		return i >= 0 && i+2 < len(b) && b[i+2] == 'T'
	}, 5*time.Second, time.Millisecond, "process %d did not stop", pid)
}

// steadyRun runs steps steps of a busy LIF network on the device, its whole input injected
// ahead, and returns the output. before, when not nil, runs after the input is queued and
// before the Run is sent; during runs while the Run is in progress.
func steadyRun(t *testing.T, d *Device, steps int, before func(), during func(run <-chan error)) chip.Output {
	ctx := ctxT(t)
	require.NoError(t, d.Load(ctx, lifImage(t, 32, 128, 21)))
	require.NoError(t, d.Inject(ctx, randomInput(32, steps, 0.2, 22)))
	if before != nil {
		before()
	}
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx, steps) }()
	if during != nil {
		during(errc)
	}
	require.NoError(t, <-errc)
	require.Equal(t, uint64(steps), d.Time())
	out, err := read(d, ctx)
	require.NoError(t, err)
	require.Zero(t, out.Dropped)
	require.NotEmpty(t, out.Spikes)
	return out
}

// A board that stops (SIGSTOP) with a run outstanding is slow, not gone: commands time out
// naming themselves, the run waits, and when the board continues the run completes with the
// same output as one that was never stopped.
func TestRunSurvivesAStoppedBoard(t *testing.T) {
	const steps = 4000
	ctx := ctxT(t)
	ref, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	want := steadyRun(t, ref, steps, nil, nil)
	ref.Close()

	s := startServer(t)
	d, err := Open(ctx, s.uri, Opts{Timeout: 200 * time.Millisecond})
	require.NoError(t, err)
	defer d.Close()
	stop := func() {
		require.NoError(t, s.cmd.Process.Signal(syscall.SIGSTOP))
		waitStopped(t, s.cmd.Process.Pid)
	}
	got := steadyRun(t, d, steps, stop, func(run <-chan error) {
		// The board is stopped and the RUN waits in its ring. The driver's reader sleeps
		// through several of its waits and liveness checks meanwhile: each SENSORS below
		// waits out its whole timeout.
		for range 5 {
			_, err := d.Sensors(ctx)
			require.ErrorIs(t, err, ErrTimeout)
			require.ErrorContains(t, err, "SENSORS: no completion in 200ms")
		}
		select {
		case err := <-run:
			t.Fatalf("the run returned while the board was stopped: %v", err)
		default:
		}
		require.NoError(t, s.cmd.Process.Signal(syscall.SIGCONT))
	})
	require.Equal(t, want, got)
	_, err = d.Sensors(ctx)
	require.NoError(t, err, "the device works on")
}

// A run over the emulator's transport while every core is busy with other work completes,
// and gives the bits of an idle machine's run.
func TestRunUnderCPULoad(t *testing.T) {
	steps := 8000
	if testing.Short() {
		steps = 2000
	}
	ctx := ctxT(t)
	ref, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	want := steadyRun(t, ref, steps, nil, nil)
	ref.Close()

	s := startServer(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 * runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := 0; !stop.Load(); x++ {
			}
		}()
	}
	// The server process is hogged too: children of the test binary spinning.
	for range runtime.NumCPU() {
		hog := exec.Command("sh", "-c", "while :; do :; done")
		require.NoError(t, hog.Start())
		defer func() { hog.Process.Kill(); hog.Wait() }()
	}
	d, err := Open(ctx, s.uri, Opts{})
	require.NoError(t, err)
	defer d.Close()
	got := steadyRun(t, d, steps, nil, nil)
	stop.Store(true)
	wg.Wait()
	require.Equal(t, want, got)
}
