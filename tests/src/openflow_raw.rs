//! OpenFlow by hand, for tests that must send what no tool sends (errors, roles, floods,
//! garbage) or watch the wire: a 1.3 or 1.0 client over TCP, whole-message reads, OFPT_ERROR
//! fields.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A client of the switch's listener on `port` after the HELLOs (ours offers 1.3 only).
pub fn client(port: u16) -> TcpStream {
    client_of_version(port, 4)
}

/// A client of the switch's listener on `port` after the HELLOs, ours offering only the
/// version of wire number `version` (1: OpenFlow 1.0, 4: 1.3).
pub fn client_of_version(port: u16, version: u8) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(&[version, 0, 0, 8, 0, 0, 0, 1]).expect("hello");
    let hello = read_message(&mut stream).expect("the switch's hello");
    assert_eq!(hello[1], 0, "first message is a HELLO: {hello:?}");
    stream
}

/// One whole message from any stream (TCP, unix, TLS), or None when the connection is closed
/// (or silent past its timeout).
pub fn read_message(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut header = [0u8; 8];
    stream.read_exact(&mut header).ok()?;
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let mut message = header.to_vec();
    message.resize(length.max(8), 0);
    stream.read_exact(&mut message[8..]).ok()?;
    Some(message)
}

/// (xid, type, code) of an OFPT_ERROR.
pub fn error_of(message: &[u8]) -> (u32, u16, u16) {
    assert_eq!(message[1], 1, "an OFPT_ERROR: {message:?}");
    let xid = u32::from_be_bytes([message[4], message[5], message[6], message[7]]);
    (xid, u16::from_be_bytes([message[8], message[9]]), u16::from_be_bytes([message[10], message[11]]))
}
