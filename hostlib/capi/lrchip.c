// The C side of liblrchip.so: the public functions of lrchip.h, with its exact
// prototypes, over the Go functions of main.go; and each thread's error message.
#include <string.h>
#include "lrchip.h"
#include "_cgo_export.h"

static __thread char err_buf[1024];

void lrchipc_set_error(const char *msg, size_t n) {
	if (msg == NULL) {
		err_buf[0] = 0;
		return;
	}
	if (n >= sizeof err_buf)
		n = sizeof err_buf - 1;
	memcpy(err_buf, msg, n);
	err_buf[n] = 0;
}

void lrchipc_complete(lrchip_callback cb, void *user, lrchip_status st, const char *msg, size_t n, lrchip_output *out) {
	lrchipc_set_error(st == LRCHIP_OK ? NULL : msg, n);
	cb(user, st, out);
}

uint32_t lrchip_abi_version(void) { return LRCHIP_ABI_VERSION; }
const char *lrchip_version(void) { return lrchipgo_version(); }
const char *lrchip_last_error(void) { return err_buf; }
const char *lrchip_status_string(lrchip_status st) { return lrchipgo_status_string((int)st); }

lrchip_status lrchip_host_open(const char *const *devices, size_t n_devices, lrchip_host *out) {
	return (lrchip_status)lrchipgo_host_open((char **)devices, n_devices, out ? &out->id : NULL);
}

lrchip_status lrchip_host_close(lrchip_host host) { return (lrchip_status)lrchipgo_host_close(host.id); }

lrchip_status lrchip_model_load(lrchip_host host, const lrchip_model_spec *spec, lrchip_model *out) {
	return (lrchip_status)lrchipgo_model_load(host.id, (lrchip_model_spec *)spec, out ? &out->id : NULL);
}

lrchip_status lrchip_model_info_get(lrchip_model model, lrchip_model_info *out) {
	return (lrchip_status)lrchipgo_model_info(model.id, out);
}

lrchip_status lrchip_model_close(lrchip_model model) { return (lrchip_status)lrchipgo_model_close(model.id); }

lrchip_status lrchip_infer(lrchip_model model, const lrchip_input *in, lrchip_output *out, int64_t timeout_ms) {
	return (lrchip_status)lrchipgo_infer(model.id, (lrchip_input *)in, out, timeout_ms);
}

lrchip_status lrchip_submit(lrchip_model model, const lrchip_input *in, lrchip_output *out, int64_t timeout_ms,
                            lrchip_callback cb, void *user) {
	return (lrchip_status)lrchipgo_submit(model.id, (lrchip_input *)in, out, timeout_ms, cb, user);
}
