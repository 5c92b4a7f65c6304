package driver

import (
	"cmp"
	"context"
	"errors"
	"hash/crc32"
	"slices"
	"time"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/runtime/ring"
)

// Event is something the board reported on its own (throttling, a reset, dropped input...).
type Event struct {
	Code     regmap.EventCode `json:"-"`
	Name     string           `json:"event"`
	Arg      uint32           `json:"arg"`
	Timestep uint64           `json:"timestep"`
	Value    int64            `json:"value"`
}

// output takes one OUT record into the Read buffer.
func (d *Device) output(r ring.Record) error {
	size := len(r.Payload)
	d.mu.Lock()
	defer d.mu.Unlock()
	full := d.outBytes+size > d.opts.OutputLimit
	switch r.Type {
	case regmap.TypeSpikes:
		if full {
			_, _, err := regmap.DecodeSpikes(r.Payload, nil)
			if err != nil {
				return d.wireErr(err)
			}
			d.out.Dropped++
			return nil
		}
		var tmp [64]regmap.Spike
		h, s, err := regmap.DecodeSpikes(r.Payload, tmp[:0])
		if err != nil {
			return d.wireErr(err)
		}
		for _, x := range s {
			d.out.Spikes = append(d.out.Spikes, chip.Spike{Step: h.Timestep, Port: int(h.Port), Neuron: int(x.Neuron), Payload: x.Payload})
		}
	case regmap.TypeProbe:
		h, v, err := regmap.DecodeProbe(r.Payload, nil)
		if err != nil {
			return d.wireErr(err)
		}
		if full {
			d.out.Dropped++
			return nil
		}
		d.out.Samples = append(d.out.Samples, chip.Sample{Probe: int(h.Probe), Step: h.Timestep, Values: v})
	default:
		return d.protoErr("record type %#x in OUT", r.Type)
	}
	d.outBytes += size
	return nil
}

// Read appends the output (spikes on output ports, probe samples) the device emitted since
// the last Read to out. After Run returns, the output of its steps is all there. It does not
// wait. Output the device had to drop because Opts.OutputLimit was reached is counted in
// out.Dropped.
func (d *Device) Read(ctx context.Context, out *chip.Output) error {
	release, err := d.enter()
	if err != nil {
		return err
	}
	defer release()
	if err := ctx.Err(); err != nil {
		return ctxError(ctx, "read")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(out.Spikes) == 0 && len(out.Samples) == 0 {
		// Hand over the buffers rather than copy them; take the caller's back for reuse.
		out.Spikes, d.out.Spikes = d.out.Spikes, out.Spikes[:0]
		out.Samples, d.out.Samples = d.out.Samples, out.Samples[:0]
	} else {
		out.Spikes = append(out.Spikes, d.out.Spikes...)
		out.Samples = append(out.Samples, d.out.Samples...)
		d.out.Spikes, d.out.Samples = d.out.Spikes[:0], d.out.Samples[:0]
	}
	out.Dropped += d.out.Dropped
	d.out.Dropped, d.outBytes = 0, 0
	return nil
}

// Events returns the events the board reported since the last call (at most the last 256).
func (d *Device) Events() []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	ev := d.events
	d.events = nil
	return ev
}

// Reset soft-resets the board: stop, unload the network, timestep 0, drop pending input and
// output.
func (d *Device) Reset(ctx context.Context) error {
	release, err := d.enter()
	if err != nil {
		return err
	}
	defer release()
	if _, err := d.do(ctx, regmap.OpReset); err != nil {
		return err
	}
	d.mu.Lock()
	d.inputs, d.time = 0, 0
	d.out, d.outBytes = chip.Output{}, 0
	d.mu.Unlock()
	return nil
}

// LoadResult says what a loaded network has.
type LoadResult struct {
	Inputs  int `json:"inputs"`
	Outputs int `json:"outputs"`
	Cores   int `json:"cores"`
	Bytes   int `json:"bytes"`
}

// LoadBytes loads a network image (the bytes of a firmware/image encoding) onto the device,
// replacing what was there; the timestep starts again from 0 and probes are removed. The
// bytes travel through the bulk window where the transport has one and fit, else in
// CAP_PAYLOAD-sized LOAD_DATA commands that complete only on failure; the board checks the
// size and CRC, decodes and loads, and says what and where when it refuses.
func (d *Device) LoadBytes(ctx context.Context, img []byte) (LoadResult, error) {
	return d.load(ctx, img, 0)
}

// Load encodes img and loads it (see LoadBytes).
func (d *Device) Load(ctx context.Context, img *image.Image) error {
	b, err := img.MarshalBinary()
	if err != nil {
		return errorf("load: %w", err)
	}
	_, err = d.LoadBytes(ctx, b)
	return err
}

// Loaded says what the last load loaded.
func (d *Device) Loaded() LoadResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.loaded
}

// Transfer sends img as a load does but has the board only check it (size and CRC), not
// decode or load it: the transfer's cost alone (benchmarks, validate).
func (d *Device) Transfer(ctx context.Context, img []byte) error {
	_, err := d.load(ctx, img, regmap.LoadFlagDryRun)
	return err
}

// loadChunk is the most image bytes one LOAD_DATA carries: small enough that a chunk stays
// in cache between the copy into the ring and its CRC, and that the board starts copying
// while the host still fills the ring.
var loadChunk = 64 << 10

func (d *Device) load(ctx context.Context, img []byte, flags uint32) (LoadResult, error) {
	release, err := d.enter()
	if err != nil {
		return LoadResult{}, err
	}
	defer release()
	var c regmap.Completion
	if len(img) <= len(d.bulk) && !d.noBulk {
		c, err = d.loadBulk(ctx, img, flags)
	} else {
		c, err = d.loadRing(ctx, img, flags)
	}
	if err != nil {
		return LoadResult{}, err
	}
	r, err := regmap.DecodeLoadResult(c.Data)
	if err != nil {
		e := d.wireErr(err)
		d.fail(e)
		return LoadResult{}, e
	}
	res := LoadResult{Inputs: int(r.Inputs), Outputs: int(r.Outputs), Cores: int(r.Cores), Bytes: len(img)}
	if flags == 0 {
		d.mu.Lock()
		d.inputs, d.time, d.loaded = int(r.Inputs), 0, res
		d.out, d.outBytes = chip.Output{}, 0
		d.mu.Unlock()
	}
	return res, nil
}

// loadBulk streams the image through the bulk DMA window: it copies a piece into the window
// (its CRC as it goes) and sends a quiet LOAD_DMA for it, so the board reads piece k while
// this copies piece k+1; LOAD_END has the board decode the image from the window.
func (d *Device) loadBulk(ctx context.Context, img []byte, flags uint32) (regmap.Completion, error) {
	if err := d.acquire(ctx, d.bulkSem, "load"); err != nil {
		return regmap.Completion{}, err
	}
	defer func() { <-d.bulkSem }()
	c, err := d.loadPieces(ctx, img, flags, func(off, end int, b *batch) error {
		copy(d.bulk[off:end], img[off:end])
		tag, err := d.send(ctx, regmap.OpLoadDMA, regmap.CmdFlagQuiet, &call{op: regmap.OpLoadDMA, batch: b},
			regmap.AppendLoadDMAArgs(nil, uint64(off), uint64(end-off)))
		b.tags = append(b.tags, tag)
		return err
	}, dmaPiece)
	if err != nil && !errors.As(err, new(*CommandError)) {
		// The board may still read the window: it is not ours again until a command
		// behind the load completes.
		d.do(context.Background(), regmap.OpNop)
	}
	return c, err
}

// dmaPiece is the bytes one LOAD_DMA covers.
const dmaPiece = 256 << 10

// loadRing sends the image in LOAD_DATA pieces through the command ring.
func (d *Device) loadRing(ctx context.Context, img []byte, flags uint32) (regmap.Completion, error) {
	var hdr [regmap.DataArgsHeaderSize]byte
	return d.loadPieces(ctx, img, flags, func(off, end int, b *batch) error {
		tag, err := d.send(ctx, regmap.OpLoadData, regmap.CmdFlagQuiet, &call{op: regmap.OpLoadData, batch: b},
			regmap.AppendDataArgsHeader(hdr[:0], regmap.OpLoadData, 0, uint64(off)), img[off:end])
		b.tags = append(b.tags, tag)
		return err
	}, min(loadChunk, d.info.MaxPayload-regmap.DataArgsHeaderSize))
}

// loadPieces is LOAD_BEGIN, piece for every chunk bytes of img (with the image's CRC taken
// after each piece, while it is in cache), LOAD_END.
func (d *Device) loadPieces(ctx context.Context, img []byte, flags uint32, piece func(off, end int, b *batch) error, chunk int) (regmap.Completion, error) {
	if _, err := d.do(ctx, regmap.OpLoadBegin, regmap.AppendU64(nil, uint64(len(img)))); err != nil {
		return regmap.Completion{}, err
	}
	b := &batch{}
	defer d.finish(b)
	var crc uint32
	for off := 0; off < len(img); off += chunk {
		if err := ctx.Err(); err != nil {
			// End the load, so that the board is not left in it.
			d.do(context.Background(), regmap.OpLoadEnd, regmap.LoadEndArgs{Flags: regmap.LoadFlagDryRun}.Append(nil))
			return regmap.Completion{}, ctxError(ctx, "load")
		}
		end := min(off+chunk, len(img))
		if err := piece(off, end, b); err != nil {
			return regmap.Completion{}, err
		}
		crc = crc32.Update(crc, crc32.IEEETable, img[off:end])
	}
	args := regmap.LoadEndArgs{Size: uint64(len(img)), CRC32: crc, Flags: flags}
	c, err := d.do(ctx, regmap.OpLoadEnd, args.Append(nil))
	if err != nil {
		var ce *CommandError
		if errors.As(err, &ce) && b.err != nil && ce.Result != regmap.ResultBadImage {
			return c, b.err // the first failure says more
		}
	}
	return c, err
}

// Run runs n timesteps. The output of every step is in Read's buffer when it returns.
// Cancelling ctx stops the board at the next step boundary (CONTROL.STOP) and returns the
// context's error. Run has no timeout of its own: a board that takes long, or is stopped,
// is waited for (bound it with ctx); a board that is gone fails it with ErrGone.
func (d *Device) Run(ctx context.Context, n int) error {
	if n < 0 {
		return errorf("run: %d steps", n)
	}
	release, err := d.enter()
	if err != nil {
		return err
	}
	defer release()
	cl := &call{op: regmap.OpRun, ch: make(chan regmap.Completion, 1)}
	tag, err := d.send(ctx, regmap.OpRun, 0, cl, regmap.AppendU64(nil, uint64(n)))
	if err != nil {
		return err
	}
	c, err := d.wait(ctx, tag, cl, 0)
	if err != nil && cl.cancelled {
		// The RUN is still going: stop it at the next step boundary (it completes ABORTED,
		// which nobody waits for any more).
		d.control(regmap.ControlStop)
	}
	if err == nil {
		d.setTime(c.Timestep)
	}
	return err
}

// Time returns the timestep the last Run or Stop reached since the load.
func (d *Device) Time() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.time
}

func (d *Device) setTime(t uint64) {
	d.mu.Lock()
	d.time = t
	d.mu.Unlock()
}

// Size is the chip's shape, from the capability registers.
func (d *Device) Size() chip.Size {
	i := d.Info()
	return chip.Size{Cores: i.Cores, NeuronsPerCore: i.NeuronsPerCore}
}

// control writes CONTROL bits (W1S: the board acts on each and clears it).
func (d *Device) control(bits uint32) {
	if err := d.link.WriteReg(regmap.RegControl, bits); err != nil {
		d.gone(err)
	}
}

// Start starts free-running: the board steps until Stop, its output going to Read's buffer.
func (d *Device) Start(ctx context.Context) error {
	release, err := d.enter()
	if err != nil {
		return err
	}
	defer release()
	_, err = d.do(ctx, regmap.OpStart)
	return err
}

// Stop stops free-running at the next step boundary and returns the timestep reached; the
// output up to it is in Read's buffer.
func (d *Device) Stop(ctx context.Context) (uint64, error) {
	release, err := d.enter()
	if err != nil {
		return 0, err
	}
	defer release()
	c, err := d.do(ctx, regmap.OpStop)
	if err == nil {
		d.setTime(c.Timestep)
	}
	return c.Timestep, err
}

// Inject queues spikes on input ports (see chip.Spike: Step is the step in which the port
// emits the spike, 0 for the next step). Spikes for later steps may be queued ahead: the
// board keeps them until their step. Spikes of the same port and step travel together, in
// one record; a record the board cannot use is dropped with an INPUT_DROP event.
func (d *Device) Inject(ctx context.Context, spikes []chip.Spike) error {
	release, err := d.enter()
	if err != nil {
		return err
	}
	defer release()
	d.mu.Lock()
	inputs, now := d.inputs, d.time
	d.mu.Unlock()
	sorted := true
	for i, s := range spikes {
		if s.Port < 0 || s.Port > 0xffff || (inputs >= 0 && s.Port >= inputs) || s.Neuron < 0 || int64(s.Neuron) > 0xffffffff {
			return errorf("inject: spike on port %d neuron %d: no such input (the network has %d input ports)", s.Port, s.Neuron, inputs)
		}
		if s.Step != 0 && s.Step <= now {
			return errorf("inject: spike on port %d neuron %d for step %d: the device is at step %d", s.Port, s.Neuron, s.Step, now)
		}
		if i > 0 && (s.Step < spikes[i-1].Step || s.Step == spikes[i-1].Step && s.Port < spikes[i-1].Port) {
			sorted = false
		}
	}
	if !sorted {
		// By step, then port; stable, so that the later of two spikes on one neuron wins.
		spikes = slices.Clone(spikes)
		slices.SortStableFunc(spikes, func(a, b chip.Spike) int {
			if a.Step != b.Step {
				return cmp.Compare(a.Step, b.Step)
			}
			return a.Port - b.Port
		})
	}
	if err := d.acquire(ctx, d.inSem, "inject"); err != nil {
		return err
	}
	defer func() { <-d.inSem }()
	p := d.inRing
	maxSpikes := (p.MaxPayload() - regmap.SpikesHeaderSize) / regmap.SpikeSize
	var batch []regmap.Spike
	for i := 0; i < len(spikes); {
		j := i
		batch = batch[:0]
		for j < len(spikes) && spikes[j].Port == spikes[i].Port && spikes[j].Step == spikes[i].Step && j-i < maxSpikes {
			batch = append(batch, regmap.Spike{Neuron: uint32(spikes[j].Neuron), Payload: spikes[j].Payload})
			j++
		}
		n := regmap.SpikesSize(len(batch))
		buf, err := d.reserve(ctx, p, regmap.RingSpkIn, regmap.TypeSpikes, n)
		if err != nil {
			return d.ringErr(ctx, err, "inject")
		}
		regmap.PutSpikes(buf, uint16(spikes[i].Port), spikes[i].Step, batch)
		p.Commit()
		i = j
	}
	p.Publish()
	d.doorbell(regmap.RingSpkIn)
	return nil
}

// AddProbe records a field of some neurons of a core after every step, as samples in
// Read's output, and returns the probe's index. Loading or resetting removes every probe.
func (d *Device) AddProbe(ctx context.Context, p chip.Probe) (int, error) {
	release, err := d.enter()
	if err != nil {
		return 0, err
	}
	defer release()
	a := regmap.ProbeAddArgs{Core: uint32(p.Core)}
	switch p.Field.Kind {
	case chip.FieldState:
		a.Kind, a.Index = regmap.ProbeState, uint16(p.Field.Index)
	case chip.FieldInput:
		a.Kind = regmap.ProbeInput
	case chip.FieldSpike:
		a.Kind = regmap.ProbeSpike
	default:
		return 0, errorf("probe: field kind %d", p.Field.Kind)
	}
	if p.Core < 0 || p.Field.Index < 0 || p.Field.Index > 0xffff {
		return 0, errorf("probe: core %d, register %d", p.Core, p.Field.Index)
	}
	for _, n := range p.Neurons {
		if n < 0 || int64(n) > 0xffffffff {
			return 0, errorf("probe: neuron %d", n)
		}
		a.Neurons = append(a.Neurons, uint32(n))
	}
	c, err := d.do(ctx, regmap.OpProbeAdd, a.Append(nil))
	if err != nil {
		return 0, err
	}
	id, err := regmap.DecodeProbeAddResult(c.Data)
	if err != nil {
		e := d.wireErr(err)
		d.fail(e)
		return 0, e
	}
	return int(id), nil
}

// RailReading is one power rail.
type RailReading struct {
	Rail    string  `json:"rail"`
	Voltage Voltage `json:"voltage_v"`
	Current Current `json:"current_a"`
	Power   Power   `json:"power_w"`
}

// Sensors is what the board's power monitors and temperature sensor read.
type Sensors struct {
	Temperature Temperature   `json:"temperature_c"`
	Throttled   []string      `json:"throttled"` // reasons in force: "thermal", "power"
	Clock       Frequency     `json:"clock_hz"`
	StepTime    time.Duration `json:"step_ns"`
	Rails       []RailReading `json:"rails"`
	Total       Power         `json:"total_w"`
}

// Sensors reads the power monitors and the temperature.
func (d *Device) Sensors(ctx context.Context) (Sensors, error) {
	release, err := d.enter()
	if err != nil {
		return Sensors{}, err
	}
	defer release()
	c, err := d.do(ctx, regmap.OpSensors)
	if err != nil {
		return Sensors{}, err
	}
	s, err := regmap.DecodeSensors(c.Data)
	if err != nil {
		e := d.wireErr(err)
		d.fail(e)
		return Sensors{}, e
	}
	out := Sensors{Temperature: Temperature(s.TemperatureMC), Clock: Frequency(s.ClockKHz) * 1000, StepTime: time.Duration(s.StepNS), Throttled: []string{}}
	if s.Throttle&regmap.ThrottleThermal != 0 {
		out.Throttled = append(out.Throttled, "thermal")
	}
	if s.Throttle&regmap.ThrottlePower != 0 {
		out.Throttled = append(out.Throttled, "power")
	}
	for _, r := range s.Rails {
		rr := RailReading{Rail: r.Rail.String(), Voltage: Voltage(r.BusUV), Current: Current(r.CurrentUA), Power: Power(r.PowerUW)}
		out.Rails = append(out.Rails, rr)
		out.Total += rr.Power
	}
	return out, nil
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
