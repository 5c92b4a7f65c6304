package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/runtime/ring"
)

// newBenchCmd returns `lrctl bench`, the parent of the benchmarks. Add a benchmark with one
// more AddCommand here.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks of the runtime and the emulator",
	}
	cmd.AddCommand(newBenchRingCmd(), newBenchRingPeerCmd(), newBenchEmuCmd())
	return cmd
}

// ringBenchPeer is the hidden subcommand the ring benchmark re-executes lrctl with.
const ringBenchPeer = "ring-peer"

// Benchmark sizes at --scale 1.
const (
	ringBenchMsgs   = 2_000_000 // 64-byte records through the ring
	ringBenchUDS    = 200_000   // 64-byte messages through the Unix socket
	ringBenchPings  = 20_000    // round trips, ring and cache line
	ringBench4K     = 50_000    // 4 KiB records through the ring (200 MB)
	ringBenchBatch  = 64        // 64-byte records per publish
	ringBenchBatch4 = 8         // 4 KiB records per publish
	ringBenchCap    = 1 << 20   // ring A's data area (ring.DefaultCapacity), and the memcpy working set
	ringBenchSpin   = 1 << 22   // polls before a ping-pong ring's wait sleeps: busy-polling
	ringBenchRecord = 1         // record type of the benchmark's records
)

// ringBenchResult is what `lrctl bench ring --json` prints: medians over the repetitions.
type ringBenchResult struct {
	Reps                 int     `json:"reps"`
	RingMsgsPerS64       float64 `json:"ring_msgs_per_s_64"`
	UDSMsgsPerS64        float64 `json:"uds_msgs_per_s_64"`
	RingOverUDS          float64 `json:"ring_over_uds"`
	RingOnewayP50NS      float64 `json:"ring_oneway_p50_ns"`
	CachelineOnewayP50NS float64 `json:"cacheline_oneway_p50_ns"`
	RingOverCacheline    float64 `json:"ring_over_cacheline"`
	RingGBps4K           float64 `json:"ring_gbps_4k"`
	MemcpyGBps4K         float64 `json:"memcpy_gbps_4k"`
	RingOverMemcpy4K     float64 `json:"ring_over_memcpy_4k"`
	Targets              struct {
		Throughput bool `json:"ring_over_uds_ge_20"`
		Latency    bool `json:"ring_over_cacheline_le_3"`
		Bandwidth  bool `json:"ring_over_memcpy_4k_ge_0_3"`
	} `json:"targets_met"`
	// Every repetition's value, in order.
	Runs map[string][]float64 `json:"runs"`
}

func newBenchRingCmd() *cobra.Command {
	var asJSON, check bool
	var reps int
	var scale float64
	cmd := &cobra.Command{
		Use:   "ring [--json]",
		Short: "Measure the shared-memory ring between two processes against a Unix socket, a cache line and memcpy",
		Long: `Starts a second lrctl process as the peer, hands it a ring (its memfd), a Unix-domain
socket and a shared cache line, and measures between the two processes:

  - 64-byte messages per second through the ring (records published in batches of 64) and
    through the Unix socket (one write(2) per message; the reader reads up to 64 KiB at once);
  - one-way latency, half the median round trip of an 8-byte ping-pong through two rings
    (busy-polling) and through one cache line bounced with atomic stores (spinning);
  - bandwidth of 4 KiB records through the ring (written with non-temporal stores,
    ring.CopyNT; the peer reads and checks every word) and of memcpy of 4 KiB blocks in one
    process, over the same 1 MiB working set.

The throughput runs wait as the ring does by default (spin briefly, then sleep on a futex),
which lets the other process run on a machine with few cores. Each figure is the median of
--reps repetitions. The targets are: ring ≥ 20× the socket's
messages per second, ring one-way ≤ 3× the cache line's, 4 KiB records ≥ 30% of memcpy.
--check exits with status 1 when a target is missed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if reps < 1 || scale <= 0 {
				return fmt.Errorf("bench ring: --reps %d and --scale %v must be positive", reps, scale)
			}
			r, err := runRingBench(cmd.Context(), reps, scale, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(out, r); err != nil {
					return err
				}
			} else {
				printRingBench(out, r)
			}
			if check && !(r.Targets.Throughput && r.Targets.Latency && r.Targets.Bandwidth) {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	cmd.Flags().BoolVar(&check, "check", false, "exit with status 1 if a target is missed")
	cmd.Flags().IntVar(&reps, "reps", 5, "repetitions of each measurement (medians are reported)")
	cmd.Flags().Float64Var(&scale, "scale", 1, "scale the message counts (1: about a second per repetition)")
	return cmd
}

func printRingBench(w io.Writer, r *ringBenchResult) {
	mark := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	fmt.Fprintf(w, "ring benchmark: two processes, medians of %d repetitions\n", r.Reps)
	fmt.Fprintf(w, "  64-byte messages  ring %7.2f M/s   unix socket %7.2f M/s   %6.1f×  (target ≥ 20×)   %s\n",
		r.RingMsgsPerS64/1e6, r.UDSMsgsPerS64/1e6, r.RingOverUDS, mark(r.Targets.Throughput))
	fmt.Fprintf(w, "  one-way latency   ring %7.0f ns    cache line  %7.0f ns    %6.2f×  (target ≤ 3×)    %s\n",
		r.RingOnewayP50NS, r.CachelineOnewayP50NS, r.RingOverCacheline, mark(r.Targets.Latency))
	fmt.Fprintf(w, "  4 KiB records     ring %7.2f GB/s  memcpy      %7.2f GB/s  %6.0f%%  (target ≥ 30%%)  %s\n",
		r.RingGBps4K, r.MemcpyGBps4K, 100*r.RingOverMemcpy4K, mark(r.Targets.Bandwidth))
}

// ringBenchEnv is what the two processes share. In the peer, the descriptors arrive as
// ExtraFiles: 3 control socket, 4 ring A (parent → peer), 5 ring B (peer → parent), 6 Unix
// socket, 7 the cache line's memfd, 8 ring PA (parent → peer), 9 ring PB (peer → parent).
//
// A and B carry the throughput runs and their acknowledgements; their waits spin briefly
// and then sleep (the ring's defaults), which lets the other process run on a busy machine.
// PA and PB carry the ping-pong; their waits busy-poll (ringBenchSpin), as a latency-bound
// consumer would. The spin count is a property of a ring mapping, hence two pairs.
type ringBenchEnv struct {
	ctrl   *os.File
	a, b   *ring.Ring
	pa, pb *ring.Ring
	uds    int    // Unix stream socket, blocking
	line   []byte // one shared page; the first cache line is bounced
}

func (e *ringBenchEnv) close() {
	if e.ctrl != nil {
		e.ctrl.Close()
	}
	if e.a != nil {
		e.a.Close()
	}
	if e.b != nil {
		e.b.Close()
	}
	if e.pa != nil {
		e.pa.Close()
	}
	if e.pb != nil {
		e.pb.Close()
	}
	if e.uds > 0 {
		unix.Close(e.uds)
	}
	if e.line != nil {
		unix.Munmap(e.line)
	}
}

func ringBenchOpts(busy bool) ring.Opts {
	o := ring.Opts{WakeInterval: 20 * time.Millisecond, Heartbeat: -1}
	if busy {
		o.SpinPolls = ringBenchSpin
	}
	return o
}

// send and recv exchange control messages (one datagram each).
func (e *ringBenchEnv) send(format string, args ...any) error {
	_, err := fmt.Fprintf(e.ctrl, format, args...)
	return err
}

func (e *ringBenchEnv) recv() (string, error) {
	buf := make([]byte, 512)
	n, err := e.ctrl.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// expect waits for the peer to say want (it says "error: ..." when it fails).
func (e *ringBenchEnv) expect(want string) error {
	got, err := e.recv()
	if err != nil {
		return fmt.Errorf("bench ring: peer: %w", err)
	}
	if got != want {
		return fmt.Errorf("bench ring: peer: %s", got)
	}
	return nil
}

func runRingBench(ctx context.Context, reps int, scale float64, stderr io.Writer) (*ringBenchResult, error) {
	n := func(base int, least int) int { return max(int(float64(base)*scale), least) }
	msgs, udsMsgs, pings, big := n(ringBenchMsgs, 1000), n(ringBenchUDS, 1000), n(ringBenchPings, 100), n(ringBench4K, 100)

	env := &ringBenchEnv{}
	defer env.close()
	var peerFiles []*os.File
	defer func() {
		for _, f := range peerFiles {
			f.Close()
		}
	}()
	peerFile := func(fd int, name string) *os.File {
		f := os.NewFile(uintptr(fd), name)
		peerFiles = append(peerFiles, f)
		return f
	}

	ctl, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("bench ring: control socket: %w", err)
	}
	env.ctrl = os.NewFile(uintptr(ctl[0]), "bench-control")
	ctrlPeer := peerFile(ctl[1], "bench-control-peer")

	// newRing creates a ring and a descriptor of it for the peer.
	newRing := func(name string, capacity int, busy bool) (*ring.Ring, *os.File, error) {
		opts := ringBenchOpts(busy)
		opts.Capacity, opts.Name = capacity, name
		r, err := ring.Create(opts)
		if err != nil {
			return nil, nil, fmt.Errorf("bench ring: %w", err)
		}
		d, err := unix.Dup(r.Fd())
		if err != nil {
			r.Close()
			return nil, nil, fmt.Errorf("bench ring: %w", err)
		}
		return r, peerFile(d, name), nil
	}
	var aPeer, bPeer, paPeer, pbPeer *os.File
	if env.a, aPeer, err = newRing("lrctl-bench-a", ringBenchCap, false); err != nil {
		return nil, err
	}
	if env.b, bPeer, err = newRing("lrctl-bench-b", 64<<10, false); err != nil {
		return nil, err
	}
	if env.pa, paPeer, err = newRing("lrctl-bench-pa", 64<<10, true); err != nil {
		return nil, err
	}
	if env.pb, pbPeer, err = newRing("lrctl-bench-pb", 64<<10, true); err != nil {
		return nil, err
	}

	uds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("bench ring: unix socket: %w", err)
	}
	env.uds = uds[0]
	udsPeer := peerFile(uds[1], "uds-peer")

	lineFd, err := unix.MemfdCreate("lrctl-bench-line", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("bench ring: memfd: %w", err)
	}
	linePeer := peerFile(lineFd, "line")
	if err := unix.Ftruncate(lineFd, 4096); err != nil {
		return nil, fmt.Errorf("bench ring: memfd: %w", err)
	}
	if env.line, err = unix.Mmap(lineFd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return nil, fmt.Errorf("bench ring: mmap: %w", err)
	}

	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench ring: %w", err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, 10*time.Minute, errors.New("bench ring: took over 10 minutes"))
	defer cancel()
	peer := exec.Command(exe, "bench", ringBenchPeer)
	peer.ExtraFiles = []*os.File{ctrlPeer, aPeer, bPeer, udsPeer, linePeer, paPeer, pbPeer}
	peer.Stdout, peer.Stderr = stderr, stderr
	peer.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := peer.Start(); err != nil {
		return nil, fmt.Errorf("bench ring: start peer: %w", err)
	}
	for _, f := range peerFiles {
		f.Close() // the peer has them now
	}
	peerFiles = nil
	peerDone := make(chan error, 1)
	go func() { peerDone <- peer.Wait() }()
	defer func() {
		_ = env.send("quit")
		select {
		case <-peerDone:
		case <-time.After(5 * time.Second):
			peer.Process.Kill()
			<-peerDone
		}
	}()
	// A peer that dies ends the waits: the rings see it by its pid, the control socket by
	// its end of file; the context covers the busy loops.
	stop := context.AfterFunc(ctx, func() { peer.Process.Kill() })
	defer stop()

	ap, err := env.a.Producer()
	if err != nil {
		return nil, fmt.Errorf("bench ring: %w", err)
	}
	bc, err := env.b.Consumer()
	if err != nil {
		return nil, fmt.Errorf("bench ring: %w", err)
	}
	pap, err := env.pa.Producer()
	if err != nil {
		return nil, fmt.Errorf("bench ring: %w", err)
	}
	pbc, err := env.pb.Consumer()
	if err != nil {
		return nil, fmt.Errorf("bench ring: %w", err)
	}
	if err := env.expect("hello"); err != nil {
		return nil, err
	}

	runs := map[string][]float64{}
	add := func(k string, v float64) { runs[k] = append(runs[k], v) }
	src4k := make([]byte, 4096)
	for i := range src4k {
		src4k[i] = byte(rand.Uint32())
	}
	var xor4k uint64
	for i := 8; i < len(src4k); i += 8 {
		xor4k ^= binary.LittleEndian.Uint64(src4k[i:])
	}

	for range reps {
		// 64-byte messages through the ring.
		if err := env.send("ring %d %d", msgs, 64); err != nil {
			return nil, err
		}
		if err := env.expect("ready"); err != nil {
			return nil, err
		}
		t0 := time.Now()
		if err := ringBenchProduce(ctx, ap, msgs, 64, ringBenchBatch, nil); err != nil {
			return nil, err
		}
		if err := ringBenchAck(ctx, bc); err != nil {
			return nil, err
		}
		add("ring_msgs_per_s_64", float64(msgs)/time.Since(t0).Seconds())
		if err := env.expect("done"); err != nil {
			return nil, err
		}

		// 64-byte messages through the Unix socket.
		if err := env.send("uds %d", udsMsgs); err != nil {
			return nil, err
		}
		if err := env.expect("ready"); err != nil {
			return nil, err
		}
		rate, err := udsBenchSend(env.uds, udsMsgs)
		if err != nil {
			return nil, err
		}
		add("uds_msgs_per_s_64", rate)
		if err := env.expect("done"); err != nil {
			return nil, err
		}

		// Ping-pong through two rings.
		if err := env.send("ringping %d", pings); err != nil {
			return nil, err
		}
		if err := env.expect("ready"); err != nil {
			return nil, err
		}
		p50, err := ringBenchPing(ctx, pap, pbc, pings)
		if err != nil {
			return nil, err
		}
		add("ring_oneway_p50_ns", p50)
		if err := env.expect("done"); err != nil {
			return nil, err
		}

		// Ping-pong through one cache line.
		if err := env.send("lineping %d", pings); err != nil {
			return nil, err
		}
		if err := env.expect("ready"); err != nil {
			return nil, err
		}
		p50, err = lineBenchPing(ctx, env.line, pings)
		if err != nil {
			return nil, err
		}
		add("cacheline_oneway_p50_ns", p50)
		if err := env.expect("done"); err != nil {
			return nil, err
		}

		// 4 KiB records through the ring.
		if err := env.send("ring %d %d %d", big, 4096, xor4k); err != nil {
			return nil, err
		}
		if err := env.expect("ready"); err != nil {
			return nil, err
		}
		t0 = time.Now()
		if err := ringBenchProduce(ctx, ap, big, 4096, ringBenchBatch4, src4k); err != nil {
			return nil, err
		}
		if err := ringBenchAck(ctx, bc); err != nil {
			return nil, err
		}
		add("ring_gbps_4k", float64(big)*4096/time.Since(t0).Seconds()/1e9)
		if err := env.expect("done"); err != nil {
			return nil, err
		}

		// memcpy of 4 KiB blocks, same count, same working set.
		add("memcpy_gbps_4k", memcpyBench4K(src4k, big))
	}

	med := func(k string) float64 {
		s := slices.Clone(runs[k])
		slices.Sort(s)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	r := &ringBenchResult{
		Reps:                 reps,
		RingMsgsPerS64:       med("ring_msgs_per_s_64"),
		UDSMsgsPerS64:        med("uds_msgs_per_s_64"),
		RingOnewayP50NS:      med("ring_oneway_p50_ns"),
		CachelineOnewayP50NS: med("cacheline_oneway_p50_ns"),
		RingGBps4K:           med("ring_gbps_4k"),
		MemcpyGBps4K:         med("memcpy_gbps_4k"),
		Runs:                 runs,
	}
	r.RingOverUDS = r.RingMsgsPerS64 / r.UDSMsgsPerS64
	r.RingOverCacheline = r.RingOnewayP50NS / r.CachelineOnewayP50NS
	r.RingOverMemcpy4K = r.RingGBps4K / r.MemcpyGBps4K
	r.Targets.Throughput = r.RingOverUDS >= 20
	r.Targets.Latency = r.RingOverCacheline <= 3
	r.Targets.Bandwidth = r.RingOverMemcpy4K >= 0.3
	return r, nil
}

// ringBenchProduce writes n records of size bytes, publishing every batch records. Each
// starts with its sequence number; a 4 KiB record copies src after it (with ring.CopyNT).
func ringBenchProduce(ctx context.Context, p *ring.Producer, n, size, batch int, src []byte) error {
	for i := range n {
		buf, err := p.Reserve(ctx, ringBenchRecord, size)
		if err != nil {
			return fmt.Errorf("bench ring: record %d: %w", i, err)
		}
		if src != nil {
			// Streaming stores: the consumer is another process on another core, so plain
			// stores would first pull every line back from its cache (about half the
			// bandwidth on the machines measured).
			ring.CopyNT(buf, src)
		} else {
			clear(buf[8:])
		}
		binary.LittleEndian.PutUint64(buf, uint64(i))
		p.Commit()
		if (i+1)%batch == 0 {
			p.Publish()
		}
	}
	p.Publish()
	return nil
}

// ringBenchAck waits for the peer's acknowledgement record.
func ringBenchAck(ctx context.Context, c *ring.Consumer) error {
	if _, err := c.Read(ctx); err != nil {
		return fmt.Errorf("bench ring: waiting for the peer: %w", err)
	}
	c.Release()
	return nil
}

// ringBenchConsume is the peer's side of ringBenchProduce: it reads n records, checks their
// sequence numbers (and, for 4 KiB records, every word against xor), and acknowledges.
func ringBenchConsume(ctx context.Context, c *ring.Consumer, ack *ring.Producer, n, size int, xor uint64) error {
	// Release every 32 KiB or so: releasing late would stall the producer on a full ring.
	recs := make([]ring.Record, min(max(32<<10/(size+ring.RecordHeaderSize), 1), 256))
	for got := 0; got < n; {
		k, err := c.ReadBatch(ctx, recs)
		if err != nil {
			return err
		}
		for _, r := range recs[:k] {
			if len(r.Payload) != size {
				return fmt.Errorf("record %d has %d bytes, want %d", got, len(r.Payload), size)
			}
			words := unsafe.Slice((*uint64)(unsafe.Pointer(&r.Payload[0])), size/8)
			if words[0] != uint64(got) {
				return fmt.Errorf("record %d carries sequence number %d", got, words[0])
			}
			if size > 64 {
				var x uint64
				for _, w := range words[1:] {
					x ^= w
				}
				if x != xor {
					return fmt.Errorf("record %d: payload checksum %#x, want %#x", got, x, xor)
				}
			}
			got++
		}
		c.Release()
	}
	return ack.Write(ctx, ringBenchRecord, []byte("ack\x00\x00\x00\x00\x00"))
}

// ringBenchPing runs n round trips of an 8-byte record and returns half the median.
func ringBenchPing(ctx context.Context, p *ring.Producer, c *ring.Consumer, n int) (float64, error) {
	rtt := make([]int64, n)
	var seq [8]byte
	for i := range n {
		binary.LittleEndian.PutUint64(seq[:], uint64(i))
		t0 := time.Now()
		if err := p.Write(ctx, ringBenchRecord, seq[:]); err != nil {
			return 0, fmt.Errorf("bench ring: ping %d: %w", i, err)
		}
		r, err := c.Read(ctx)
		if err != nil {
			return 0, fmt.Errorf("bench ring: pong %d: %w", i, err)
		}
		if len(r.Payload) != 8 || binary.LittleEndian.Uint64(r.Payload) != uint64(i) {
			return 0, fmt.Errorf("bench ring: pong %d: wrong payload %x", i, r.Payload)
		}
		c.Release()
		rtt[i] = int64(time.Since(t0))
	}
	slices.Sort(rtt)
	return float64(rtt[n/2]) / 2, nil
}

// ringBenchPong is the peer's side of ringBenchPing.
func ringBenchPong(ctx context.Context, c *ring.Consumer, p *ring.Producer, n int) error {
	for range n {
		r, err := c.Read(ctx)
		if err != nil {
			return err
		}
		err = p.Write(ctx, ringBenchRecord, r.Payload)
		c.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// lineBenchPing bounces the first word of line: this side stores odd numbers, the peer
// answers with the next even one. It returns half the median round trip.
func lineBenchPing(ctx context.Context, line []byte, n int) (float64, error) {
	w := (*uint64)(unsafe.Pointer(&line[0]))
	atomic.StoreUint64(w, 0)
	rtt := make([]int64, n)
	for i := range n {
		v := uint64(2*i + 1)
		t0 := time.Now()
		atomic.StoreUint64(w, v)
		for spins := 0; atomic.LoadUint64(w) != v+1; spins++ {
			if spins&0xffff == 0xffff && ctx.Err() != nil {
				return 0, fmt.Errorf("bench ring: cache line ping %d: %w", i, context.Cause(ctx))
			}
		}
		rtt[i] = int64(time.Since(t0))
	}
	slices.Sort(rtt)
	return float64(rtt[n/2]) / 2, nil
}

func lineBenchPong(ctx context.Context, line []byte, n int) error {
	w := (*uint64)(unsafe.Pointer(&line[0]))
	for i := range n {
		v := uint64(2*i + 1)
		for spins := 0; atomic.LoadUint64(w) != v; spins++ {
			if spins&0xffff == 0xffff && ctx.Err() != nil {
				return ctx.Err()
			}
		}
		atomic.StoreUint64(w, v+1)
	}
	return nil
}

// udsBenchSend writes n 64-byte messages, one write(2) each, and waits for the peer's
// one-byte acknowledgement; it returns messages per second.
func udsBenchSend(fd, n int) (float64, error) {
	msg := make([]byte, 64)
	t0 := time.Now()
	for i := range n {
		binary.LittleEndian.PutUint64(msg, uint64(i))
		for off := 0; off < len(msg); {
			k, err := unix.Write(fd, msg[off:])
			if err != nil && err != unix.EINTR {
				return 0, fmt.Errorf("bench ring: unix socket write: %w", err)
			}
			off += max(k, 0)
		}
	}
	var ack [1]byte
	if err := readFull(fd, ack[:]); err != nil {
		return 0, fmt.Errorf("bench ring: unix socket ack: %w", err)
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

func udsBenchRecv(fd, n int) error {
	buf := make([]byte, 64<<10)
	want := 64 * n
	for got := 0; got < want; {
		k, err := unix.Read(fd, buf[:min(len(buf), want-got)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if k == 0 {
			return io.ErrUnexpectedEOF
		}
		got += k
	}
	_, err := unix.Write(fd, []byte{1})
	return err
}

func readFull(fd int, b []byte) error {
	for off := 0; off < len(b); {
		k, err := unix.Read(fd, b[off:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if k == 0 {
			return io.ErrUnexpectedEOF
		}
		off += k
	}
	return nil
}

// memcpyBench4K copies n 4 KiB blocks into a working set of the ring's size and returns
// GB/s.
func memcpyBench4K(src []byte, n int) float64 {
	dst := make([]byte, ringBenchCap)
	t0 := time.Now()
	for i := range n {
		off := (i * 4096) % len(dst)
		copy(dst[off:off+4096], src)
	}
	return float64(n) * 4096 / time.Since(t0).Seconds() / 1e9
}

// newBenchRingPeerCmd is the peer process of `bench ring`. It is hidden: only `bench ring`
// starts it, with the descriptors described at ringBenchEnv.
func newBenchRingPeerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    ringBenchPeer,
		Short:  "The peer process of bench ring (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRingBenchPeer(cmd.Context())
		},
	}
}

func runRingBenchPeer(ctx context.Context) error {
	env := &ringBenchEnv{ctrl: os.NewFile(3, "bench-control")}
	defer env.close()
	fail := func(err error) error {
		_ = env.send("error: %v", err)
		return fmt.Errorf("bench ring peer: %w", err)
	}
	var err error
	for _, x := range []struct {
		r    **ring.Ring
		fd   int
		busy bool
	}{{&env.a, 4, false}, {&env.b, 5, false}, {&env.pa, 8, true}, {&env.pb, 9, true}} {
		if *x.r, err = ring.Attach(x.fd, ringBenchOpts(x.busy)); err != nil {
			return fail(err)
		}
		unix.Close(x.fd)
	}
	env.uds = 6
	if env.line, err = unix.Mmap(7, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fail(err)
	}
	unix.Close(7)
	ac, err := env.a.Consumer()
	if err != nil {
		return fail(err)
	}
	bp, err := env.b.Producer()
	if err != nil {
		return fail(err)
	}
	pac, err := env.pa.Consumer()
	if err != nil {
		return fail(err)
	}
	pbp, err := env.pb.Producer()
	if err != nil {
		return fail(err)
	}
	if err := env.send("hello"); err != nil {
		return err
	}
	for {
		msg, err := env.recv()
		if err != nil || msg == "quit" {
			return nil // the parent has gone or is done
		}
		f := strings.Fields(msg)
		arg := func(i int) int {
			if i >= len(f) {
				return 0
			}
			v, _ := strconv.ParseUint(f[i], 10, 64)
			return int(v)
		}
		if err := env.send("ready"); err != nil {
			return err
		}
		switch f[0] {
		case "ring":
			err = ringBenchConsume(ctx, ac, bp, arg(1), arg(2), uint64(arg(3)))
		case "uds":
			err = udsBenchRecv(env.uds, arg(1))
		case "ringping":
			err = ringBenchPong(ctx, pac, pbp, arg(1))
		case "lineping":
			err = lineBenchPong(ctx, env.line, arg(1))
		default:
			err = fmt.Errorf("unknown command %q", msg)
		}
		if err != nil {
			return fail(err)
		}
		if err := env.send("done"); err != nil {
			return err
		}
	}
}
