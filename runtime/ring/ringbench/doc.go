// Package ringbench measures the shared-memory ring (package ring) between two processes
// against the alternatives it replaces: a Unix-domain socket for throughput, one cache line
// bounced between two cores for latency, and memcpy for bandwidth.
//
// Run starts a second process, the peer, hands it the rings, a socket and a shared page as
// inherited descriptors, and runs each measurement Opts.Reps times:
//
//   - 64-byte messages per second through the ring (records published in batches of 64) and
//     through a Unix stream socket (one write(2) per message; the reader reads up to 64 KiB
//     at once);
//   - one-way latency, half the median round trip of an 8-byte ping-pong through two rings
//     (busy-polling) and through one cache line bounced with atomic stores (spinning);
//   - bandwidth of 4 KiB records through the ring (written with non-temporal stores,
//     ring.CopyNT; the peer reads and checks every word) and of memcpy of 4 KiB blocks in one
//     process, over the same 1 MiB working set.
//
// The peer is a program that calls Peer. By default Run re-executes the running program
// (os.Executable) with no arguments and with PeerEnv set in its environment, so a program
// (or a test binary, from TestMain) that runs benchmarks checks IsPeer first thing:
//
//	func main() {
//		if ringbench.IsPeer() {
//			if err := ringbench.Peer(context.Background()); err != nil {
//				fmt.Fprintln(os.Stderr, err)
//				os.Exit(1)
//			}
//			os.Exit(0)
//		}
//		...
//	}
//
// A program with subcommands can instead name one in Opts.Command whose only job is to call
// Peer (lrctl has the hidden `lrctl bench ring-peer`).
//
// The descriptors the peer inherits, as exec.Cmd.ExtraFiles, are: 3 the control socket
// (SOCK_SEQPACKET, one text command per datagram), 4 ring A (Run → peer), 5 ring B (peer →
// Run), 6 the Unix stream socket, 7 the cache line's memfd (one page), 8 ring PA (Run →
// peer) and 9 ring PB (peer → Run). A and B carry the throughput runs and their
// acknowledgements; their waits spin briefly and then sleep (the ring's defaults), which
// lets the other process run on a machine with few cores. PA and PB carry the ping-pong;
// their waits busy-poll, as a latency-bound consumer would. The spin count is a property of
// a ring mapping, hence two pairs.
package ringbench
