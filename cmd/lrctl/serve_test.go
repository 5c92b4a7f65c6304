package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServeCommand runs lrctl serve, asks it over HTTP for its health and an inference, and
// stops it by cancelling its context (as an interrupt does).
func TestServeCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	root := newRoot()
	root.SetOut(pw)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"serve", "--model", "p=" + examplePipeline + ",gpu=cpu,window=20", "--device", "emu:", "--listen", "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	lines := bufio.NewScanner(pr)
	url := ""
	for url == "" && lines.Scan() {
		if _, rest, ok := strings.Cut(lines.Text(), "serving on "); ok {
			url = strings.Fields(rest)[0]
		}
	}
	require.NotEmpty(t, url, "lrctl serve said where it serves")
	go io.Copy(io.Discard, pr)

	resp, err := http.Get(url + "/v2/health/ready")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	body, err := os.Open("../../examples/hostlib/request.json")
	require.NoError(t, err)
	defer body.Close()
	resp, err = http.Post(url+"/v2/models/p/infer", "application/json", body)
	require.NoError(t, err)
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, string(out))
	require.Contains(t, string(out), `"name":"class"`)

	cancel()
	require.NoError(t, <-done, "an interrupt drains and stops")
}

func TestServeCommandErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"serve"}, "give at least one --model"},
		{[]string{"serve", "--model", "nopath"}, "want NAME=PATH"},
		{[]string{"serve", "--model", "a=x.yaml,colour=red", "--device", "emu:"}, `no option "colour"`},
		{[]string{"serve", "--model", "a=nowhere.yaml", "--device", "emu:"}, "nowhere.yaml"},
		{[]string{"serve", "--model", "a=" + examplePipeline + ",gpu=cpu", "--device", "emu:", "--listen", "256.0.0.1:1"}, "256.0.0.1"},
	} {
		_, _, err := lrctlCtx(context.Background(), c.args...)
		require.ErrorContains(t, err, c.msg, c.args)
	}
}
