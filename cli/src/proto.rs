//! The one place vsctl names the vswitch crate: the control-socket protocol
//! types and the port configuration that `add-port` sends (with a tunnel port's options).
pub use vswitch::config::{PortConfig, PortKind, TunnelConfig, DEFAULT_QUEUE_SIZE, DEFAULT_RX_QUEUES};
pub use vswitch::control::protocol::*;
pub use vswitch::tunnel::TunnelKind;
