/* bench.c: inferences/s and p50/p99 latency through the C ABI: single-window requests of
 * lrctl pipeline's patterns from T threads (default 16) on the devices given, N requests in
 * all (default 2000). Prints one line of JSON; scripts/bench-hostlib.sh sets it against
 * lrctl pipeline's throughput measured in the same run. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lrchip.h"

static lrchip_model model;
static lrchip_model_info info;
static int n_total = 2000;
static atomic_int next;
static double *lat;

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *worker(void *arg) {
	(void)arg;
	double rates[5][64];
	for (int c = 0; c < 5; c++)
		for (uint32_t i = 0; i < info.inputs && i < 64; i++)
			rates[c][i] = (i % 5 == (uint32_t)c) ? 0.5 : 0.05;
	int32_t cls[1];
	for (int k; (k = atomic_fetch_add(&next, 1)) < n_total;) {
		lrchip_input in = {.rates = rates[k % 5], .n_rates = info.inputs};
		lrchip_output out = {.classes = cls, .classes_cap = 1};
		double t0 = now();
		lrchip_status st = lrchip_infer(model, &in, &out, 0);
		lat[k] = now() - t0;
		if (st != LRCHIP_OK) {
			fprintf(stderr, "bench: %s\n", lrchip_last_error());
			exit(1);
		}
	}
	return NULL;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv) {
	int threads = 16;
	const char *path = "examples/pipeline/pipeline.yaml";
	const char **devices = calloc((size_t)argc, sizeof *devices);
	size_t n_devices = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--requests") && i + 1 < argc)
			n_total = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--model") && i + 1 < argc)
			path = argv[++i];
		else
			devices[n_devices++] = argv[i];
	}
	lrchip_host host;
	lrchip_model_spec spec = {.name = "bench", .path = path, .gpu = "cpu"};
	if (lrchip_host_open(n_devices ? devices : NULL, n_devices, &host) != LRCHIP_OK ||
	    lrchip_model_load(host, &spec, &model) != LRCHIP_OK || lrchip_model_info_get(model, &info) != LRCHIP_OK) {
		fprintf(stderr, "bench: %s\n", lrchip_last_error());
		return 1;
	}
	lat = calloc((size_t)n_total, sizeof *lat);
	pthread_t *th = calloc((size_t)threads, sizeof *th);
	double t0 = now();
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	double el = now() - t0;
	qsort(lat, (size_t)n_total, sizeof *lat, cmp);
	printf("{\"inferences_per_s\": %.1f, \"p50_us\": %.0f, \"p99_us\": %.0f, \"threads\": %d, \"requests\": %d}\n",
	       n_total / el, lat[n_total / 2] * 1e6, lat[n_total * 99 / 100] * 1e6, threads, n_total);
	lrchip_model_close(model);
	lrchip_host_close(host);
	return 0;
}
