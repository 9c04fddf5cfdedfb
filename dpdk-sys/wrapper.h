/* Every DPDK header the switch uses. bindgen generates the Rust side from
 * this file; its static inline functions get exported C wrappers. */
#include <rte_config.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_dev.h>
#include <rte_bus.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>
#include <rte_eth_vhost.h>
#include <rte_prefetch.h>

/* rte_errno is a thread-local macro: give Rust a function to read it. */
int dpdk_sys_errno(void);
