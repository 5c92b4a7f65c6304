// A stand-in for libcuda.so.1 that the tests build with the C compiler when there is no GPU.
// It implements the driver API calls the CUDA backend makes with host memory, checks how it
// is called (a context current on the calling thread, device pointers that are not host
// pointers, launches within registered memory, the readout kernel's grid and shared
// memory), emulates the readout kernel in C, and counts live objects so that a test can see
// that Close releases everything.
//
// fakecuda_set_nodevice(1) makes cuInit fail with CUDA_ERROR_NO_DEVICE.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int CUresult;
#define OK 0
#define INVALID_VALUE 1
#define OUT_OF_MEMORY 2
#define NOT_INITIALIZED 3
#define NO_DEVICE 100
#define INVALID_CONTEXT 201
#define INVALID_IMAGE 200
#define NOT_FOUND 500
#define INVALID_HANDLE 400
#define ILLEGAL_ADDRESS 700

// Device pointers are host pointers moved by these offsets, so that mixing them up
// faults in the emulated kernel instead of working by accident.
#define MAPPED_OFFSET 0x100000000000ull
#define ALLOC_OFFSET 0x200000000000ull

static int initialized, nodevice;
static int live_ctx, live_mod, live_alloc, live_reg, live_stream, live_event, launches;
static __thread uintptr_t current;
static uintptr_t the_ctx;

#define MAXREG 64
static struct { char *p; size_t n; int used; } regs[MAXREG];
#define MAXALLOC 256
static struct { char *p; size_t n; int used; } allocs[MAXALLOC];

static CUresult need_ctx(void) {
	if (!initialized) return NOT_INITIALIZED;
	if (current == 0 || current != the_ctx) return INVALID_CONTEXT;
	return OK;
}

CUresult cuInit(unsigned flags) {
	if (flags != 0) return INVALID_VALUE;
	if (nodevice) return NO_DEVICE;
	initialized = 1;
	return OK;
}
CUresult cuDriverGetVersion(int *v) { *v = 12040; return OK; }
CUresult cuDeviceGetCount(int *n) { if (!initialized) return NOT_INITIALIZED; *n = 1; return OK; }
CUresult cuDeviceGet(int *d, int ord) { if (ord != 0) return 101; *d = 0; return OK; }
CUresult cuDeviceGetName(char *name, int len, int dev) {
	if (dev != 0 || len < 32) return INVALID_VALUE;
	strcpy(name, "Fake CUDA Device");
	return OK;
}
CUresult cuDeviceTotalMem_v2(size_t *b, int dev) { *b = (size_t)1 << 30; return OK; }
CUresult cuDeviceGetAttribute(int *v, int attr, int dev) {
	switch (attr) {
	case 75: *v = 9; return OK;
	case 76: *v = 0; return OK;
	case 19: *v = 1; return OK;
	}
	return INVALID_VALUE;
}
CUresult cuCtxCreate_v2(uintptr_t *ctx, unsigned flags, int dev) {
	if (!initialized) return NOT_INITIALIZED;
	if (!(flags & 0x08)) return INVALID_VALUE; // the backend must ask for CU_CTX_MAP_HOST
	the_ctx = (uintptr_t)malloc(16);
	*ctx = the_ctx;
	current = the_ctx;
	live_ctx++;
	return OK;
}
CUresult cuCtxDestroy_v2(uintptr_t ctx) {
	if (ctx != the_ctx || ctx == 0) return INVALID_CONTEXT;
	free((void *)ctx);
	the_ctx = 0;
	live_ctx--;
	return OK;
}
CUresult cuCtxSetCurrent(uintptr_t ctx) { current = ctx; return OK; }

CUresult cuModuleLoadDataEx(uintptr_t *mod, const char *image, unsigned n, int *opts, void **vals) {
	CUresult r = need_ctx();
	if (r) return r;
	if (!strstr(image, ".entry lrchip_readout") || !strstr(image, ".version")) {
		for (unsigned i = 0; i < n; i++)
			if (opts[i] == 5) strcpy((char *)vals[i], "fake: not the readout PTX");
		return INVALID_IMAGE;
	}
	*mod = (uintptr_t)malloc(8);
	live_mod++;
	return OK;
}
CUresult cuModuleUnload(uintptr_t mod) { free((void *)mod); live_mod--; return OK; }
CUresult cuModuleGetFunction(uintptr_t *fn, uintptr_t mod, const char *name) {
	CUresult r = need_ctx();
	if (r) return r;
	if (strcmp(name, "lrchip_readout") != 0) return NOT_FOUND;
	*fn = mod + 1;
	return OK;
}

CUresult cuMemAlloc_v2(uint64_t *dptr, size_t n) {
	CUresult r = need_ctx();
	if (r) return r;
	for (int i = 0; i < MAXALLOC; i++) {
		if (!allocs[i].used) {
			allocs[i].p = malloc(n);
			allocs[i].n = n;
			allocs[i].used = 1;
			*dptr = (uint64_t)(uintptr_t)allocs[i].p + ALLOC_OFFSET;
			live_alloc++;
			return OK;
		}
	}
	return OUT_OF_MEMORY;
}
static char *alloc_at(uint64_t d, size_t n) {
	for (int i = 0; i < MAXALLOC; i++) {
		uint64_t b = (uint64_t)(uintptr_t)allocs[i].p + ALLOC_OFFSET;
		if (allocs[i].used && d >= b && d + n <= b + allocs[i].n) return (char *)(uintptr_t)(d - ALLOC_OFFSET);
	}
	return NULL;
}
CUresult cuMemFree_v2(uint64_t d) {
	CUresult r = need_ctx();
	if (r) return r;
	for (int i = 0; i < MAXALLOC; i++) {
		if (allocs[i].used && (uint64_t)(uintptr_t)allocs[i].p + ALLOC_OFFSET == d) {
			free(allocs[i].p);
			allocs[i].used = 0;
			live_alloc--;
			return OK;
		}
	}
	return INVALID_VALUE;
}
CUresult cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t n) {
	CUresult r = need_ctx();
	if (r) return r;
	char *p = alloc_at(dst, n);
	if (!p) return INVALID_VALUE;
	memcpy(p, src, n);
	return OK;
}
CUresult cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t n) {
	CUresult r = need_ctx();
	if (r) return r;
	char *p = alloc_at(src, n);
	if (!p) return INVALID_VALUE;
	memcpy(dst, p, n);
	return OK;
}
CUresult cuMemHostRegister_v2(void *p, size_t n, unsigned flags) {
	CUresult r = need_ctx();
	if (r) return r;
	if (!(flags & 0x02)) return INVALID_VALUE; // DEVICEMAP, or kernels cannot reach it
	for (int i = 0; i < MAXREG; i++) {
		if (regs[i].used && regs[i].p == p) return 712; // HOST_MEMORY_ALREADY_REGISTERED
	}
	for (int i = 0; i < MAXREG; i++) {
		if (!regs[i].used) {
			regs[i].p = p;
			regs[i].n = n;
			regs[i].used = 1;
			live_reg++;
			return OK;
		}
	}
	return OUT_OF_MEMORY;
}
CUresult cuMemHostUnregister(void *p) {
	CUresult r = need_ctx();
	if (r) return r;
	for (int i = 0; i < MAXREG; i++) {
		if (regs[i].used && regs[i].p == p) {
			regs[i].used = 0;
			live_reg--;
			return OK;
		}
	}
	return 713; // HOST_MEMORY_NOT_REGISTERED
}
CUresult cuMemHostGetDevicePointer_v2(uint64_t *d, void *p, unsigned flags) {
	CUresult r = need_ctx();
	if (r) return r;
	if (flags != 0) return INVALID_VALUE;
	for (int i = 0; i < MAXREG; i++) {
		if (regs[i].used && (char *)p >= regs[i].p && (char *)p < regs[i].p + regs[i].n) {
			*d = (uint64_t)(uintptr_t)p + MAPPED_OFFSET;
			return OK;
		}
	}
	return INVALID_VALUE;
}
static char *mapped_at(uint64_t d, size_t n) {
	for (int i = 0; i < MAXREG; i++) {
		uint64_t b = (uint64_t)(uintptr_t)regs[i].p + MAPPED_OFFSET;
		if (regs[i].used && d >= b && d + n <= b + regs[i].n) return (char *)(uintptr_t)(d - MAPPED_OFFSET);
	}
	return NULL;
}

CUresult cuStreamCreate(uintptr_t *s, unsigned flags) {
	CUresult r = need_ctx();
	if (r) return r;
	*s = (uintptr_t)malloc(8);
	live_stream++;
	return OK;
}
CUresult cuStreamDestroy_v2(uintptr_t s) { free((void *)s); live_stream--; return OK; }
CUresult cuStreamSynchronize(uintptr_t s) { return need_ctx(); }
CUresult cuEventCreate(uintptr_t *e, unsigned flags) {
	CUresult r = need_ctx();
	if (r) return r;
	*e = (uintptr_t)calloc(1, sizeof(struct timespec) + 8);
	live_event++;
	return OK;
}
CUresult cuEventDestroy_v2(uintptr_t e) { free((void *)e); live_event--; return OK; }
CUresult cuEventRecord(uintptr_t e, uintptr_t s) {
	CUresult r = need_ctx();
	if (r) return r;
	if (!s) return INVALID_HANDLE; // the backend uses its own streams, never the legacy one
	clock_gettime(CLOCK_MONOTONIC, (struct timespec *)e);
	return OK;
}
CUresult cuEventSynchronize(uintptr_t e) { return need_ctx(); }
CUresult cuEventElapsedTime(float *ms, uintptr_t a, uintptr_t b) {
	CUresult r = need_ctx();
	if (r) return r;
	struct timespec *x = (struct timespec *)a, *y = (struct timespec *)b;
	*ms = (float)((y->tv_sec - x->tv_sec) * 1e3 + (y->tv_nsec - x->tv_nsec) / 1e6);
	return OK;
}

CUresult cuGetErrorName(CUresult e, const char **s) {
	switch (e) {
	case INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; return OK;
	case NO_DEVICE: *s = "CUDA_ERROR_NO_DEVICE"; return OK;
	case INVALID_CONTEXT: *s = "CUDA_ERROR_INVALID_CONTEXT"; return OK;
	case ILLEGAL_ADDRESS: *s = "CUDA_ERROR_ILLEGAL_ADDRESS"; return OK;
	}
	*s = "CUDA_ERROR_UNKNOWN";
	return OK;
}
CUresult cuGetErrorString(CUresult e, const char **s) { *s = "fake driver error"; return OK; }

// The readout kernel, as the PTX computes it.
CUresult cuLaunchKernel(uintptr_t fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned shmem, uintptr_t stream, void **params, void **extra) {
	CUresult r = need_ctx();
	if (r) return r;
	if (!fn || !stream || extra || gy != 1 || gz != 1 || by != 1 || bz != 1 || gx == 0) return INVALID_VALUE;
	if (bx == 0 || (bx & (bx - 1)) != 0) return INVALID_VALUE;
	uint64_t wt = *(uint64_t *)params[0], bias = *(uint64_t *)params[1];
	uint32_t M = *(uint32_t *)params[2], N = *(uint32_t *)params[3];
	uint64_t in = *(uint64_t *)params[4], ins = *(uint64_t *)params[5];
	uint64_t out = *(uint64_t *)params[6], outs = *(uint64_t *)params[7];
	if (shmem != 12 * bx + 4 * N) return INVALID_VALUE;
	int32_t *W = (int32_t *)alloc_at(wt, (size_t)4 * M * N);
	int64_t *B = (int64_t *)alloc_at(bias, (size_t)8 * M);
	if (!W || !B) return ILLEGAL_ADDRESS;
	for (unsigned w = 0; w < gx; w++) {
		int32_t *c = (int32_t *)mapped_at(in + w * ins, (size_t)4 * N);
		char *o = mapped_at(out + w * outs, 8 + (size_t)8 * M);
		if (!c || !o) return ILLEGAL_ADDRESS;
		int32_t best = -1;
		int64_t bs = 0;
		for (uint32_t m = 0; m < M; m++) {
			uint64_t acc = (uint64_t)B[m];
			for (uint32_t n = 0; n < N; n++) acc += (uint64_t)((int64_t)W[n * M + m] * (int64_t)c[n]);
			memcpy(o + 8 + 8 * m, &acc, 8);
			if (best < 0 || (int64_t)acc > bs) {
				best = m;
				bs = (int64_t)acc;
			}
		}
		memcpy(o, &best, 4);
		memset(o + 4, 0, 4);
	}
	launches++;
	return OK;
}

// fakecuda_live returns the number of live objects of each kind and the launches so far.
void fakecuda_live(int *out) {
	out[0] = live_ctx;
	out[1] = live_mod;
	out[2] = live_alloc;
	out[3] = live_reg;
	out[4] = live_stream;
	out[5] = live_event;
	out[6] = launches;
}

void fakecuda_set_nodevice(int v) { nodevice = v; }
