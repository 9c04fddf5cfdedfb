//! Control-socket requests: any bytes decode to a Request or an error, and
//! a decoded request's port settings validate without panicking.
#![no_main]
#![forbid(unsafe_code)]
use libfuzzer_sys::fuzz_target;
use vswitch::control::protocol::Request;

fuzz_target!(|data: &[u8]| {
    if let Ok(Request::AddPort { port, .. }) = serde_json::from_slice::<Request>(data) {
        let _ = port.validate();
    }
});
