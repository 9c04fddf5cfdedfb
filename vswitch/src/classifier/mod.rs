//! Classification in the datapath: the per-PMD caches - the exact-match
//! cache (`emc`) in front of the megaflow classifier (`megaflow`,
//! tuple-space search) - and the hash both use (`hash`). The OpenFlow
//! tables behind them are `pipeline::table`.
pub mod emc;
pub mod hash;
pub mod megaflow;
