//! A DPDK userspace virtual switch: ports and vhost-user, poll-mode threads,
//! flow rules, and the management plane around them. See docs/architecture.md.
pub mod classifier;
pub mod config;
pub mod control;
pub mod datapath;
pub mod dpdk;
pub mod flow;
pub mod openflow;
pub mod packet;
pub mod pipeline;
pub mod pmd;
pub mod revalidate;
pub mod switch;
pub mod token_bucket;
pub mod tunnel;
pub mod unix_socket;
