/* Hand-written helpers for what bindgen cannot express. */
#include "wrapper.h"

int dpdk_sys_errno(void) { return rte_errno; }
