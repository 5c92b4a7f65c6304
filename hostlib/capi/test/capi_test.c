/* capi_test.c: the C ABI's test, run by scripts/test-hostlib.sh (and CI) against
 * liblrchip.so:
 *
 *   capi_test [--threads N] [--seconds S | --requests R] [--model PATH] DEVICE...
 *
 * 1. Malformed calls get a status and a message, never a crash: NULL pointers, a made-up or
 *    closed handle, wrong shapes, NaN, a spike out of range, a buffer too small.
 * 2. N threads (default 64) send varied requests (lrchip_infer, and lrchip_submit with a
 *    callback) for S seconds or R requests each: every request gives exactly one result,
 *    equal bit for bit to a single-threaded run of its input.
 * It ends with "N passed, N failed" and exits non-zero on any failure. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lrchip.h"

static atomic_int passed, failed;

#define CHECK(cond, ...)                                                                       \
	do {                                                                                       \
		if (cond) {                                                                            \
			atomic_fetch_add(&passed, 1);                                                      \
		} else {                                                                               \
			atomic_fetch_add(&failed, 1);                                                      \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                               \
			fprintf(stderr, __VA_ARGS__);                                                      \
			fprintf(stderr, " (last error: %s)\n", lrchip_last_error());                       \
		}                                                                                      \
	} while (0)

#define N_INPUTS 24
#define MAX_WIN 3

static lrchip_model model;
static lrchip_model_info info;

/* One request and its single-threaded result. */
typedef struct {
	uint32_t windows;
	double *rates;
	size_t n_rates;
	lrchip_spike spikes[16];
	size_t n_spikes;
	uint64_t seed;
	int32_t classes[MAX_WIN];
	int64_t *scores;
	int32_t *counts;
} sample;

static sample samples[N_INPUTS];

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static lrchip_input input_of(const sample *s) {
	lrchip_input in = {.windows = s->windows, .rates = s->rates, .n_rates = s->n_rates, .spikes = s->spikes,
	                   .n_spikes = s->n_spikes, .seed = s->seed};
	return in;
}

static void make_samples(void) {
	for (int k = 0; k < N_INPUTS; k++) {
		sample *s = &samples[k];
		s->windows = 1 + (uint32_t)(rnd() % MAX_WIN);
		s->n_rates = (rnd() % 3 == 0) ? info.inputs : s->windows * info.inputs; /* one row for all, or one a window */
		s->rates = malloc(sizeof(double) * s->n_rates);
		for (size_t i = 0; i < s->n_rates; i++)
			s->rates[i] = (double)(rnd() % 1000) / 1000.0 * 0.6;
		s->n_spikes = rnd() % 16;
		for (size_t i = 0; i < s->n_spikes; i++) {
			s->spikes[i].step = (uint32_t)(rnd() % (s->windows * info.window));
			s->spikes[i].neuron = (uint32_t)(rnd() % info.inputs);
			s->spikes[i].payload = 1;
		}
		s->seed = (k % 2) ? rnd() : 0;
		s->scores = malloc(sizeof(int64_t) * s->windows * info.scores);
		s->counts = malloc(sizeof(int32_t) * s->windows * info.outputs);
		lrchip_input in = input_of(s);
		lrchip_output out = {s->classes, MAX_WIN, s->scores, s->windows * info.scores, s->counts, s->windows * info.outputs, 0};
		lrchip_status st = lrchip_infer(model, &in, &out, 0);
		CHECK(st == LRCHIP_OK && out.windows == s->windows, "reference run of sample %d: %s", k, lrchip_status_string(st));
	}
}

/* Is a result that of sample k, bit for bit? */
static int same(int k, const lrchip_output *out) {
	const sample *s = &samples[k];
	return out->windows == s->windows && !memcmp(out->classes, s->classes, sizeof(int32_t) * s->windows) &&
	       !memcmp(out->scores, s->scores, sizeof(int64_t) * s->windows * info.scores) &&
	       !memcmp(out->counts, s->counts, sizeof(int32_t) * s->windows * info.outputs);
}

static void malformed(void) {
	lrchip_model bad = {.id = 987654321};
	lrchip_input in = {0};
	int32_t cls[4];
	lrchip_output out = {.classes = cls, .classes_cap = 4};
	lrchip_status st;

	st = lrchip_infer(bad, &in, &out, 0);
	CHECK(st == LRCHIP_ERR_INVALID && strstr(lrchip_last_error(), "not loaded"), "made-up handle: %d", st);
	CHECK(lrchip_infer(model, NULL, &out, 0) == LRCHIP_ERR_INVALID, "NULL input");
	CHECK(lrchip_infer(model, &in, NULL, 0) == LRCHIP_ERR_INVALID, "NULL output");
	CHECK(lrchip_model_info_get(model, NULL) == LRCHIP_ERR_INVALID, "NULL info");
	CHECK(lrchip_host_open(NULL, 0, NULL) == LRCHIP_ERR_INVALID, "NULL host out");
	CHECK(lrchip_host_open(NULL, 3, (lrchip_host[1]){0}) == LRCHIP_ERR_INVALID, "NULL devices with a count");
	CHECK(lrchip_model_load((lrchip_host){0}, NULL, NULL) == LRCHIP_ERR_INVALID, "NULL spec");
	lrchip_model_spec spec = {.name = "x", .path = NULL};
	lrchip_model m2;
	CHECK(lrchip_model_load((lrchip_host){0}, &spec, &m2) == LRCHIP_ERR_INVALID, "NULL path");
	CHECK(lrchip_submit(model, &in, &out, 0, NULL, NULL) == LRCHIP_ERR_INVALID, "NULL callback");
	CHECK(lrchip_infer(model, &in, &out, -5) == LRCHIP_ERR_INVALID, "negative timeout");

	double rates[64];
	for (int i = 0; i < 64; i++)
		rates[i] = 0.1;
	in.rates = rates;
	in.n_rates = info.inputs + 1;
	st = lrchip_infer(model, &in, &out, 0);
	CHECK(st == LRCHIP_ERR_INPUT && strstr(lrchip_last_error(), "whole number of windows"), "wrong shape: %d", st);
	rates[3] = NAN;
	in.n_rates = info.inputs;
	st = lrchip_infer(model, &in, &out, 0);
	CHECK(st == LRCHIP_ERR_INPUT && strstr(lrchip_last_error(), "rate NaN of input neuron 3"), "NaN: %d", st);
	rates[3] = 0.1;
	in.rates = NULL;
	CHECK(lrchip_infer(model, &in, &out, 0) == LRCHIP_ERR_INVALID, "NULL rates with a count");
	in = (lrchip_input){.spikes = (lrchip_spike[]){{.step = 1, .neuron = 999, .payload = 1}}, .n_spikes = 1};
	st = lrchip_infer(model, &in, &out, 0);
	CHECK(st == LRCHIP_ERR_INPUT && strstr(lrchip_last_error(), "neuron 999"), "spike neuron: %d", st);
	in = (lrchip_input){.windows = 9};
	st = lrchip_infer(model, &in, &out, 0);
	CHECK(st == LRCHIP_ERR_BUFFER && out.windows == 9, "buffer too small: %d, windows %u", st, out.windows);
	out = (lrchip_output){.classes = NULL, .classes_cap = 9};
	CHECK(lrchip_infer(model, &in, &out, 0) == LRCHIP_ERR_INVALID, "NULL buffer with a capacity");
	/* A huge capacity is not trusted beyond what a request needs. */
	int32_t big[9];
	out = (lrchip_output){.classes = big, .classes_cap = (size_t)1 << 60};
	CHECK(lrchip_infer(model, &in, &out, 0) == LRCHIP_OK && out.windows == 9, "huge capacity");
	/* A message is per thread: success clears it. */
	CHECK(lrchip_last_error()[0] == 0, "message after success: %s", lrchip_last_error());
	CHECK(strstr(lrchip_status_string(LRCHIP_ERR_DEVICE), "LRCHIP_ERR_DEVICE") != NULL, "status string");
	CHECK(strstr(lrchip_status_string((lrchip_status)999), "LRCHIP_ERR_INTERNAL") != NULL, "unknown status string");
}

/* The soak. */
static int n_threads = 64, seconds = 0, requests = 8;
static struct timespec t_end;

static int time_left(void) {
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < t_end.tv_sec || (now.tv_sec == t_end.tv_sec && now.tv_nsec < t_end.tv_nsec);
}

typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	lrchip_status st;
	char msg[256];
} completion;

static void on_done(void *user, lrchip_status st, lrchip_output *out) {
	(void)out;
	completion *c = user;
	pthread_mutex_lock(&c->mu);
	c->st = st;
	snprintf(c->msg, sizeof c->msg, "%s", lrchip_last_error());
	c->done++;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static atomic_long total;

static void *worker(void *arg) {
	long id = (long)arg;
	int32_t classes[MAX_WIN];
	int64_t *scores = malloc(sizeof(int64_t) * MAX_WIN * info.scores);
	int32_t *counts = malloc(sizeof(int32_t) * MAX_WIN * info.outputs);
	completion c;
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	for (long n = 0; seconds ? time_left() : n < requests; n++) {
		int k = (int)((id * 7 + n * 13) % N_INPUTS);
		lrchip_input in = input_of(&samples[k]);
		memset(classes, 0xff, sizeof classes);
		lrchip_output out = {classes, MAX_WIN, scores, MAX_WIN * info.scores, counts, MAX_WIN * info.outputs, 0};
		lrchip_status st;
		if ((id + n) % 2) {
			st = lrchip_infer(model, &in, &out, 0);
			CHECK(st == LRCHIP_OK, "thread %ld request %ld: %s", id, n, lrchip_status_string(st));
		} else {
			c.done = 0;
			st = lrchip_submit(model, &in, &out, 0, on_done, &c);
			CHECK(st == LRCHIP_OK, "thread %ld submit %ld: %s", id, n, lrchip_status_string(st));
			if (st != LRCHIP_OK)
				continue;
			pthread_mutex_lock(&c.mu);
			while (!c.done)
				pthread_cond_wait(&c.cv, &c.mu);
			st = c.st;
			pthread_mutex_unlock(&c.mu);
			CHECK(st == LRCHIP_OK && c.done == 1, "thread %ld submit %ld: %s (%d callbacks)", id, n, c.msg, c.done);
		}
		if (st == LRCHIP_OK)
			CHECK(same(k, &out), "thread %ld request %ld: sample %d's result differs from its single-threaded run", id, n, k);
		atomic_fetch_add(&total, 1);
	}
	free(scores);
	free(counts);
	return NULL;
}

int main(int argc, char **argv) {
	const char *path = "examples/pipeline/pipeline.yaml";
	const char **devices = calloc((size_t)argc, sizeof *devices);
	size_t n_devices = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			n_threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--requests") && i + 1 < argc)
			requests = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--model") && i + 1 < argc)
			path = argv[++i];
		else
			devices[n_devices++] = argv[i];
	}
	CHECK(lrchip_abi_version() == LRCHIP_ABI_VERSION, "ABI %u", lrchip_abi_version());
	lrchip_host host;
	lrchip_status st = lrchip_host_open(n_devices ? devices : NULL, n_devices, &host);
	if (st != LRCHIP_OK) {
		fprintf(stderr, "capi_test: opening the devices: %s\n", lrchip_last_error());
		return 1;
	}
	lrchip_model_spec spec = {.name = "capi", .path = path, .gpu = "cpu", .window = 20, .queue = 16, .max_windows = 64};
	st = lrchip_model_load(host, &spec, &model);
	if (st != LRCHIP_OK) {
		fprintf(stderr, "capi_test: loading %s: %s\n", path, lrchip_last_error());
		return 1;
	}
	CHECK(lrchip_model_load(host, &spec, &(lrchip_model){0}) != LRCHIP_OK, "a second model of the same name");
	CHECK(lrchip_model_info_get(model, &info) == LRCHIP_OK && info.window == 20 && !strcmp(info.name, "capi"), "info");

	malformed();
	make_samples();

	clock_gettime(CLOCK_MONOTONIC, &t_end);
	t_end.tv_sec += seconds;
	pthread_t *th = calloc((size_t)n_threads, sizeof *th);
	for (long i = 0; i < n_threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < n_threads; i++)
		pthread_join(th[i], NULL);
	printf("capi_test: %ld requests from %d threads on %zu device(s)\n", atomic_load(&total), n_threads, n_devices);

	CHECK(lrchip_model_close(model) == LRCHIP_OK, "close");
	lrchip_input in = {0};
	int32_t cls[1];
	lrchip_output out = {.classes = cls, .classes_cap = 1};
	CHECK(lrchip_infer(model, &in, &out, 0) == LRCHIP_ERR_INVALID, "a closed model's handle");
	CHECK(lrchip_model_close(model) == LRCHIP_ERR_INVALID, "closing twice");
	CHECK(lrchip_host_close(host) == LRCHIP_OK, "host close");
	CHECK(lrchip_host_close(host) == LRCHIP_ERR_INVALID, "host closed twice");
	free(th);
	free(devices);
	printf("%d passed, %d failed\n", atomic_load(&passed), atomic_load(&failed));
	return atomic_load(&failed) ? 1 : 0;
}
