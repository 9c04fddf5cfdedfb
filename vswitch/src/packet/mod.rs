//! Packets: the buffer abstraction the datapath is generic over (`PacketBuf`, with `TestBuf` for
//! tests), flow-key extraction (`extract`, which also returns the header offsets as `Layers`),
//! header rewrites with their checksums (`rewrite`), and the wire constants they share (`proto`).
//! Pure safe Rust: no allocation and no panic on the per-packet path, whatever the bytes.
#![forbid(unsafe_code)]

mod buf;
pub mod checksum;
mod extract;
pub mod proto;
pub mod rewrite;
#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
pub use buf::TestBurst;
pub use buf::{PacketBuf, PacketBurst, TestBuf};
pub use extract::{extract, extract_into, header_at, same_headers, Layers, RepeatCheck};
