//! Flow strings from outside (config files, vsctl): never panic, and what
//! parses prints back to text that parses to the same rule.
#![no_main]
#![forbid(unsafe_code)]
use libfuzzer_sys::fuzz_target;
use vswitch::flow::parse_add_flow;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(rule) = parse_add_flow(text) {
        let printed = rule.to_string();
        let reparsed = parse_add_flow(&printed).expect("canonical text must parse");
        assert_eq!(rule, reparsed, "round trip of {printed:?}");
    }
});
