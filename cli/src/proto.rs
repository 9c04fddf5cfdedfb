//! The one place vsctl names the vswitch crate: the control-socket protocol
//! types and the port configuration that `add-port` sends.
pub use vswitch::config::{PortConfig, PortKind, DEFAULT_QUEUE_SIZE, DEFAULT_RX_QUEUES};
pub use vswitch::control::protocol::*;
