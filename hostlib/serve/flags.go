package serve

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/hostlib"
)

// ParseModel reads a model flag of lrctl serve:
//
//	NAME=PATH[,readout=FILE][,window=N][,max-windows=N][,depth=N][,batch=N][,queue=N][,seed=N][,input=PORT][,output=PORT][,gpu=auto|cuda|cpu][,devices=URI+URI...]
//
// Errors wrap hostlib.ErrConfig and name the option.
func ParseModel(s string) (hostlib.Spec, error) {
	var spec hostlib.Spec
	parts := strings.Split(s, ",")
	name, path, ok := strings.Cut(parts[0], "=")
	if !ok || name == "" || path == "" {
		return spec, fmt.Errorf("%w: model %q: want NAME=PATH[,option=value...]", hostlib.ErrConfig, s)
	}
	spec.Name, spec.Path = name, path
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok || v == "" {
			return spec, fmt.Errorf("%w: model %q: option %q: want key=value", hostlib.ErrConfig, name, p)
		}
		num := func(dst *int) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%w: model %q: %s=%s: want a non-negative integer", hostlib.ErrConfig, name, k, v)
			}
			*dst = n
			return nil
		}
		var err error
		switch k {
		case "readout":
			spec.ReadoutPath = v
		case "input":
			spec.Input = v
		case "output":
			spec.Output = v
		case "gpu":
			spec.GPU = v
		case "devices":
			spec.Devices = strings.Split(v, "+")
		case "window":
			err = num(&spec.Window)
		case "max-windows":
			err = num(&spec.MaxWindows)
		case "depth":
			err = num(&spec.Depth)
		case "batch":
			err = num(&spec.Batch)
		case "queue":
			err = num(&spec.Queue)
		case "seed":
			spec.Seed, err = strconv.ParseUint(v, 10, 64)
			if err != nil {
				err = fmt.Errorf("%w: model %q: seed=%s: want an unsigned integer", hostlib.ErrConfig, name, v)
			}
		default:
			err = fmt.Errorf("%w: model %q: no option %q (readout, window, max-windows, depth, batch, queue, seed, input, output, gpu, devices)", hostlib.ErrConfig, name, k)
		}
		if err != nil {
			return spec, err
		}
	}
	return spec, nil
}

// Devices is lrctl serve's choice of devices: those given; else every board found; else
// one in-process emulator (emu:) for each model that names no devices of its own.
func Devices(ctx context.Context, given []string, specs []hostlib.Spec) []string {
	if len(given) > 0 {
		return given
	}
	var named []string
	free := 0
	for _, s := range specs {
		if len(s.Devices) > 0 {
			named = append(named, s.Devices...)
		} else {
			free++
		}
	}
	if found, err := device.Find(ctx); err == nil && len(found) > 0 {
		return append(found, named...)
	}
	for range max(free, 1) {
		named = append(named, "emu:")
	}
	return named
}
