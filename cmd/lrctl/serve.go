package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/hostlib"
	hlserve "github.com/lrchip/lrchip/hostlib/serve"
)

func newServeCmd() *cobra.Command {
	var listen string
	var models, devices []string
	var timeout time.Duration
	var maxBody int64
	cmd := &cobra.Command{
		Use:   "serve --model NAME=PATH[,readout=FILE]... [--listen ADDR] [--device URI]...",
		Short: "Serve models over the Open Inference Protocol (KServe v2 REST) with Prometheus metrics",
		Long: `Loads each --model (a network description or image, with its readout layer: readout.json
beside it unless readout= names one) onto the devices, one replica per device, and serves them
over KServe's Open Inference Protocol v2 REST API (see hostlib/serve): /v2, /v2/health/live,
/v2/health/ready, /v2/models/NAME, .../ready, POST .../infer, and Prometheus metrics at /metrics.

--model NAME=PATH[,readout=FILE][,window=N][,max-windows=N][,depth=N][,batch=N][,queue=N]
        [,seed=N][,input=PORT][,output=PORT][,gpu=auto|cuda|cpu][,devices=URI+URI...]

Devices: --device URI (repeatable); default every board found, else one in-process emulator
per model. A model runs on the devices its devices= names, else on every free one.
Interrupting drains: requests already taken are answered.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			if len(models) == 0 {
				return errors.New("serve: give at least one --model NAME=PATH")
			}
			var specs []hostlib.Spec
			for _, m := range models {
				s, err := hlserve.ParseModel(m)
				if err != nil {
					return fmt.Errorf("serve: %w", err)
				}
				specs = append(specs, s)
			}
			host, err := hostlib.Open(ctx, hostlib.Opts{Devices: hlserve.Devices(ctx, devices, specs), Log: cmd.ErrOrStderr()})
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			defer host.Close()
			for _, s := range specs {
				m, err := host.Load(ctx, s)
				if err != nil {
					return fmt.Errorf("serve: %w", err)
				}
				i := m.Info()
				fmt.Fprintf(cmd.OutOrStdout(), "model %s: %s, %d inputs → %d outputs → %d scores, %d steps a window, %d replica(s), readout on %s\n",
					i.Name, s.Path, i.Inputs, i.Outputs, i.Scores, i.Window, len(m.Stats().Replicas), i.GPU)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			srv := &http.Server{Handler: hlserve.New(host, hlserve.Opts{Timeout: timeout, MaxBody: maxBody}), ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(cmd.OutOrStdout(), "serving on http://%s (Open Inference Protocol v2; metrics at /metrics)\n", ln.Addr())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			select {
			case err := <-done:
				return fmt.Errorf("serve: %w", err)
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return errors.Join(srv.Shutdown(sctx), host.Shutdown(sctx))
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8000", "address to listen on")
	f.StringArrayVar(&models, "model", nil, "NAME=PATH[,readout=FILE][,option=value...]: a model to serve (repeatable)")
	f.StringArrayVar(&devices, "device", nil, "device URI (repeatable); default: every board found, else one emu: per model")
	f.DurationVar(&timeout, "timeout", hlserve.DefaultTimeout, "bound on one inference request")
	f.Int64Var(&maxBody, "max-body", hlserve.DefaultMaxBody, "largest request body in bytes")
	return cmd
}
