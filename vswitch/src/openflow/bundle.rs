//! The bundles of one connection (the OpenFlow 1.3 bundle extension, ONF EXT-230, as
//! `ovs-ofctl --bundle` uses it): flow_mods collected under a bundle id, checked as they are
//! added, and committed as one table version, so the change is visible all at once or not at
//! all. Only flow_mods may be bundled (others: MSG_UNSUP). Bounded: a connection has at most
//! [`MAX_BUNDLES`] open bundles of at most [`MAX_BUNDLE_MESSAGES`] messages each.

use std::collections::HashMap;

use super::nicira::BundleFlags;
use super::wire::{ErrorType, OfError};
use crate::pipeline::table::FlowOp;

pub const MAX_BUNDLES: usize = 16;
pub const MAX_BUNDLE_MESSAGES: usize = 1_000_000;

/// OFPBFC_* codes.
pub mod code {
    pub const BAD_ID: u16 = 2;
    pub const BUNDLE_EXIST: u16 = 3;
    pub const BUNDLE_CLOSED: u16 = 4;
    pub const OUT_OF_BUNDLES: u16 = 5;
    pub const BAD_TYPE: u16 = 6;
    pub const BAD_FLAGS: u16 = 7;
    pub const MSG_UNSUP: u16 = 10;
    pub const MSG_TOO_MANY: u16 = 12;
    pub const MSG_FAILED: u16 = 13;
}

pub fn bundle_error(code: u16, reason: impl Into<String>) -> OfError {
    OfError::new(ErrorType::BundleFailed, code, reason)
}

/// A flow_mod of a bundle: its xid (errors of a failed commit name it) and the table
/// operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundledFlowMod {
    pub xid: u32,
    pub op: FlowOp,
}

#[derive(Debug, Default)]
struct Bundle {
    flags: BundleFlags,
    closed: bool,
    flow_mods: Vec<BundledFlowMod>,
}

/// The open bundles of a connection, by id.
#[derive(Debug, Default)]
pub struct Bundles {
    open: HashMap<u32, Bundle>,
}

impl Bundles {
    pub fn open(&mut self, id: u32, flags: BundleFlags) -> Result<(), OfError> {
        if self.open.contains_key(&id) {
            return Err(bundle_error(code::BUNDLE_EXIST, format!("bundle {id} is open already")));
        }
        self.make_room(id)?;
        self.open.insert(id, Bundle { flags, ..Bundle::default() });
        Ok(())
    }

    pub fn close(&mut self, id: u32, flags: BundleFlags) -> Result<(), OfError> {
        let bundle = self.existing(id, flags)?;
        if bundle.closed {
            return Err(bundle_error(code::BUNDLE_CLOSED, format!("bundle {id} is closed already")));
        }
        bundle.closed = true;
        Ok(())
    }

    /// Adds a flow_mod; a bundle that does not exist yet is opened by it.
    pub fn add(&mut self, id: u32, flags: BundleFlags, flow_mod: BundledFlowMod) -> Result<(), OfError> {
        if !self.open.contains_key(&id) {
            self.open(id, flags)?;
        }
        let bundle = self.existing(id, flags)?;
        if bundle.closed {
            return Err(bundle_error(code::BUNDLE_CLOSED, format!("bundle {id} is closed")));
        }
        if bundle.flow_mods.len() >= MAX_BUNDLE_MESSAGES {
            return Err(bundle_error(code::MSG_TOO_MANY, format!("bundle {id} has {MAX_BUNDLE_MESSAGES} messages")));
        }
        bundle.flow_mods.push(flow_mod);
        Ok(())
    }

    /// Takes a bundle out for its commit.
    pub fn take(&mut self, id: u32, flags: BundleFlags) -> Result<Vec<BundledFlowMod>, OfError> {
        self.existing(id, flags)?;
        Ok(self.open.remove(&id).map(|bundle| bundle.flow_mods).unwrap_or_default())
    }

    pub fn discard(&mut self, id: u32) -> Result<(), OfError> {
        self.open.remove(&id).map(|_| ()).ok_or_else(|| bundle_error(code::BAD_ID, format!("no bundle {id}")))
    }

    fn existing(&mut self, id: u32, flags: BundleFlags) -> Result<&mut Bundle, OfError> {
        let bundle = self.open.get_mut(&id).ok_or_else(|| bundle_error(code::BAD_ID, format!("no bundle {id}")))?;
        if bundle.flags != flags {
            return Err(bundle_error(code::BAD_FLAGS, format!("bundle {id} was opened with other flags")));
        }
        Ok(bundle)
    }

    fn make_room(&self, id: u32) -> Result<(), OfError> {
        if self.open.len() >= MAX_BUNDLES {
            return Err(bundle_error(code::OUT_OF_BUNDLES, format!("{MAX_BUNDLES} bundles open; not {id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: BundleFlags = BundleFlags { atomic: true, ordered: true };

    fn flow_mod(xid: u32) -> BundledFlowMod {
        BundledFlowMod { xid, op: FlowOp::Delete(crate::flow::FlowSelector::default()) }
    }

    fn code_of(result: Result<impl std::fmt::Debug, OfError>) -> u16 {
        let error = result.unwrap_err();
        assert_eq!(error.kind, ErrorType::BundleFailed);
        error.code
    }

    #[test]
    fn a_bundle_collects_until_commit_in_order() {
        let mut bundles = Bundles::default();
        bundles.open(7, FLAGS).unwrap();
        bundles.add(7, FLAGS, flow_mod(1)).unwrap();
        bundles.add(7, FLAGS, flow_mod(2)).unwrap();
        bundles.close(7, FLAGS).unwrap();
        assert_eq!(code_of(bundles.add(7, FLAGS, flow_mod(3))), code::BUNDLE_CLOSED);
        assert_eq!(code_of(bundles.close(7, FLAGS)), code::BUNDLE_CLOSED);
        assert_eq!(bundles.take(7, FLAGS).unwrap(), [flow_mod(1), flow_mod(2)]);
        assert_eq!(code_of(bundles.take(7, FLAGS)), code::BAD_ID, "a commit ends the bundle");
    }

    #[test]
    fn ids_flags_and_bounds_are_checked() {
        let mut bundles = Bundles::default();
        bundles.add(1, FLAGS, flow_mod(1)).unwrap();
        assert_eq!(code_of(bundles.open(1, FLAGS)), code::BUNDLE_EXIST);
        assert_eq!(code_of(bundles.add(1, BundleFlags::default(), flow_mod(2))), code::BAD_FLAGS);
        assert_eq!(code_of(bundles.close(2, FLAGS)), code::BAD_ID);
        assert_eq!(code_of(bundles.discard(2)), code::BAD_ID);
        bundles.discard(1).unwrap();
        for id in 0..u32::try_from(MAX_BUNDLES).unwrap() {
            bundles.open(id, FLAGS).unwrap();
        }
        assert_eq!(code_of(bundles.open(99, FLAGS)), code::OUT_OF_BUNDLES);
    }
}
