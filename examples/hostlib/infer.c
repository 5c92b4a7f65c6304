/* infer.c: the C example of hostlib. It loads examples/pipeline (the network and its
 * readout) through liblrchip.so, shows it lrctl pipeline's labelled test patterns — window w
 * shows class w mod 5: input neuron i fires with probability 0.5 per step when i mod 5 is
 * the class, 0.05 otherwise — as one request of K windows, and prints the readout's accuracy,
 * the same as `lrctl pipeline examples/pipeline/pipeline.yaml --windows K` prints.
 *
 *   scripts/build-hostlib.sh
 *   cc -o build/infer examples/hostlib/infer.c $(PKG_CONFIG_PATH=build pkg-config --cflags --libs lrchip)
 *   build/infer [--windows K] [--model PATH] [--gpu auto|cuda|cpu] [DEVICE...]
 *
 * DEVICE is a device URI (emu:, emu:unix:PATH, ...); none: every board found, else emu:. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrchip.h"

static int fail(const char *what, lrchip_status st) {
	fprintf(stderr, "infer: %s: %s (%s)\n", what, lrchip_last_error(), lrchip_status_string(st));
	return 1;
}

int main(int argc, char **argv) {
	const char *model_path = "examples/pipeline/pipeline.yaml", *gpu = "auto";
	long windows = 2000;
	const char **devices = calloc((size_t)argc, sizeof *devices);
	size_t n_devices = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--windows") && i + 1 < argc)
			windows = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--model") && i + 1 < argc)
			model_path = argv[++i];
		else if (!strcmp(argv[i], "--gpu") && i + 1 < argc)
			gpu = argv[++i];
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: infer [--windows K] [--model PATH] [--gpu auto|cuda|cpu] [DEVICE...]\n");
			return 2;
		} else
			devices[n_devices++] = argv[i];
	}
	if (lrchip_abi_version() != LRCHIP_ABI_VERSION) {
		fprintf(stderr, "infer: liblrchip has ABI %u, this program was built for %d\n", lrchip_abi_version(), LRCHIP_ABI_VERSION);
		return 1;
	}

	lrchip_host host;
	lrchip_status st = lrchip_host_open(n_devices ? devices : NULL, n_devices, &host);
	if (st != LRCHIP_OK)
		return fail("opening the devices", st);
	lrchip_model_spec spec = {.name = "pipeline", .path = model_path, .gpu = gpu, .max_windows = (uint32_t)windows};
	lrchip_model model;
	if ((st = lrchip_model_load(host, &spec, &model)) != LRCHIP_OK)
		return fail("loading the model", st);
	lrchip_model_info info;
	if ((st = lrchip_model_info_get(model, &info)) != LRCHIP_OK)
		return fail("model info", st);

	/* lrctl pipeline's patterns: one class per window, as many classes as scores. */
	const uint32_t classes = info.scores;
	double *rates = malloc(sizeof *rates * (size_t)windows * info.inputs);
	for (long w = 0; w < windows; w++)
		for (uint32_t i = 0; i < info.inputs; i++)
			rates[w * info.inputs + i] = (i % classes == (uint32_t)(w % classes)) ? 0.5 : 0.05;
	int32_t *predicted = malloc(sizeof *predicted * (size_t)windows);
	lrchip_input in = {.rates = rates, .n_rates = (size_t)windows * info.inputs};
	lrchip_output out = {.classes = predicted, .classes_cap = (size_t)windows};
	if ((st = lrchip_infer(model, &in, &out, 0)) != LRCHIP_OK)
		return fail("inference", st);

	long right = 0;
	for (long w = 0; w < windows; w++)
		right += predicted[w] == (int32_t)(w % classes);
	printf("model        %s: %u inputs, %u outputs, %u scores, %u steps a window, readout on %s\n", info.name, info.inputs,
	       info.outputs, info.scores, info.window, info.gpu);
	printf("run          %u windows as one request on %u device(s); %s\n", out.windows, info.replicas, lrchip_version());
	/* The fraction first, then the percentage: the same arithmetic, and so the same digits, as lrctl. */
	double accuracy = (double)right / (double)windows;
	printf("accuracy     %.1f%% (argmax = window mod %u)\n", 100 * accuracy, classes);

	free(rates);
	free(predicted);
	free(devices);
	if ((st = lrchip_model_close(model)) != LRCHIP_OK)
		return fail("closing the model", st);
	if ((st = lrchip_host_close(host)) != LRCHIP_OK)
		return fail("closing the host", st);
	return 0;
}
