//! Frames that reach an underlay bridge's LOCAL port, as membership queries: the IGMP / MLD
//! query parse of the flood-and-learn VTEP never panics, and what it finds is a group address
//! or a general query.
#![no_main]
#![forbid(unsafe_code)]
use libfuzzer_sys::fuzz_target;
use vswitch::tunnel::vtep::parse_membership_query;

fuzz_target!(|data: &[u8]| {
    if let Some(query) = parse_membership_query(data) {
        assert!(query.group.is_none_or(|group| !group.is_unspecified()), "{query:?}");
    }
});
