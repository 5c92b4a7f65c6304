package network

// The description's pseudo-random numbers (docs/description.md, "Seeds"): every part that
// draws (a connection rule, a spike source, generated values) has a stream, keyed by a seed
// and the part's label, and draw i of a stream is a function of the key and i only. So the
// same description and seed expand to the same network and spikes on every machine, whatever
// order or chunks they are drawn in. Only integer arithmetic is used.

const golden = 0x9E3779B97F4A7C15 // SplitMix64's increment: 2^64 divided by the golden ratio

// mix64 is SplitMix64's output function (Steele, Lea and Flood, 2014).
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// fnv1a64 is the 64-bit FNV-1a hash of a label.
func fnv1a64(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return h
}

// stream is a counter-based generator: draw i is output i+1 of SplitMix64 started at key.
type stream struct{ key uint64 }

// newStream is the stream of a part: key = mix64(seed XOR FNV-1a-64(label)).
func newStream(seed uint64, label string) stream { return stream{key: mix64(seed ^ fnv1a64(label))} }

// at is draw i.
func (s stream) at(i uint64) uint64 { return mix64(s.key + (i+1)*golden) }

// sub is the stream keyed by draw i: one stream per neuron, say, for draws of varying number.
func (s stream) sub(i uint64) stream { return stream{key: s.at(i)} }

// threshold turns a probability into the bound that the top 53 bits of a draw fall below with
// that probability (p·2^53 is exact in float64, and the conversion truncates).
func threshold(p float64) uint64 { return uint64(p * (1 << 53)) }

// hit reports whether draw i falls below a threshold: an event of that probability.
func (s stream) hit(i, thresh uint64) bool { return s.at(i)>>11 < thresh }

// seq draws integers from a stream in order.
type seq struct {
	s stream
	n uint64
}

// below returns an integer uniform in [0, m), m ≥ 1, rejecting the draws of the partial last
// interval of 2^64 so that there is no bias.
func (q *seq) below(m uint64) uint64 {
	limit := -(-m % m) // 2^64 − (2^64 mod m), as a uint64 (0 means 2^64)
	for {
		x := q.s.at(q.n)
		q.n++
		if limit == 0 || x < limit {
			return x % m
		}
	}
}
