//! The one place vsctl names the vswitch crate: the control-socket protocol
//! types, the port configuration that `add-port` sends (with a tunnel port's options) and the
//! route prefix syntax `route-add`/`route-del` check before sending.
pub use vswitch::config::{PortConfig, PortKind, TunnelConfig, DEFAULT_QUEUE_SIZE, DEFAULT_RX_QUEUES};
pub use vswitch::control::protocol::*;
pub use vswitch::tunnel::route::Prefix;
pub use vswitch::tunnel::TunnelKind;
