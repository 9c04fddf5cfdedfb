//! GROUP_MOD and the group multiparts (group desc, group stats, group features) of a connection:
//! the wire messages turned into queries to the management thread and its answers turned into
//! replies. OpenFlow 1.3 and later have them; 1.0 has Open vSwitch's extensions (NXT_GROUP_MOD
//! in 1.5's layout, the NXST_GROUP* stats).

use super::{eperm, split, unexpected};
use crate::openflow::message::{GroupCommand, GroupMod};
use crate::openflow::multipart::{Counters, GroupDesc, GroupFeatures, GroupStats, ReplyBody};
use crate::openflow::service::{Answer, GroupModFailure, Query};
use crate::openflow::wire::{duration_nsec, duration_sec, ErrorType, OfError, Version};
use crate::pipeline::group::{Group, GroupModError, GroupOp, GROUP_ALL, MAX_GROUPS};

/// The encoded replies to a message, or the error to answer it with.
type Replies = Result<Vec<Vec<u8>>, OfError>;

/// OFPGMFC_* codes.
mod group_mod_failed {
    pub const GROUP_EXISTS: u16 = 0;
    pub const INVALID_GROUP: u16 = 1;
    pub const OUT_OF_GROUPS: u16 = 3;
    pub const OUT_OF_BUCKETS: u16 = 4;
    pub const LOOP: u16 = 7;
    pub const UNKNOWN_GROUP: u16 = 8;
    pub const CHAINED_GROUP: u16 = 9;
    pub const BAD_WATCH: u16 = 13;
    pub const UNKNOWN_BUCKET: u16 = 15;
    pub const BUCKET_EXISTS: u16 = 16;
}

/// OFPBAC_BAD_OUT_GROUP.
const BAD_OUT_GROUP: u16 = 9;

/// OFPGFC_SELECT_WEIGHT | SELECT_LIVENESS | CHAINING | CHAINING_CHECKS.
const CAPABILITIES: u32 = 0xf;
/// The actions a bucket may hold, as 1 << OFPAT_*: output, push/pop VLAN, group, set_nw_ttl,
/// dec_nw_ttl, set_field.
const BUCKET_ACTIONS: u32 = 1 | 1 << 17 | 1 << 18 | 1 << 22 | 1 << 23 | 1 << 24 | 1 << 25;
/// The same in OpenFlow 1.0's action numbers (NXST_GROUP_FEATURES): output, set_vlan_vid/pcp,
/// strip_vlan, the Ethernet, IPv4 address, TOS and port rewrites.
const BUCKET_ACTIONS_V1_0: u32 = 0x7ff;

/// Applies a GROUP_MOD; nothing to send back when it worked.
pub(super) fn group_mod(group_mod: &GroupMod, ask: impl FnOnce(Query) -> Result<Answer, OfError>) -> Replies {
    let group = Group { id: group_mod.group_id, group_type: group_mod.group_type, buckets: group_mod.buckets.clone() };
    let op = match group_mod.command {
        GroupCommand::Add => GroupOp::Add(group),
        GroupCommand::Modify => GroupOp::Modify(group),
        GroupCommand::Delete => GroupOp::Delete(group_mod.group_id),
        GroupCommand::InsertBuckets(place) => GroupOp::InsertBuckets { group: group.id, place, buckets: group.buckets },
        GroupCommand::RemoveBuckets(place) => GroupOp::RemoveBuckets { group: group.id, place },
    };
    match ask(Query::GroupMod(op))? {
        Answer::GroupMod(Ok(())) => Ok(Vec::new()),
        Answer::GroupMod(Err(GroupModFailure::Table(error))) => Err(group_mod_error(&error)),
        Answer::GroupMod(Err(GroupModFailure::Internal(error))) => Err(eperm(error)),
        other => Err(unexpected(&other)),
    }
}

/// The OFPT_ERROR of a refused GROUP_MOD.
fn group_mod_error(error: &GroupModError) -> OfError {
    let code = match error {
        GroupModError::Exists(_) => group_mod_failed::GROUP_EXISTS,
        GroupModError::Unknown(_) => group_mod_failed::UNKNOWN_GROUP,
        GroupModError::Invalid(_) => group_mod_failed::INVALID_GROUP,
        GroupModError::OutOfGroups => group_mod_failed::OUT_OF_GROUPS,
        GroupModError::OutOfBuckets => group_mod_failed::OUT_OF_BUCKETS,
        GroupModError::BadWatch(_) => group_mod_failed::BAD_WATCH,
        GroupModError::Loop(_) => group_mod_failed::LOOP,
        GroupModError::Chained { .. } => group_mod_failed::CHAINED_GROUP,
        GroupModError::UnknownBucket(_) => group_mod_failed::UNKNOWN_BUCKET,
        GroupModError::BucketExists(_) => group_mod_failed::BUCKET_EXISTS,
        GroupModError::BadOutGroup(_) => return OfError::new(ErrorType::BadAction, BAD_OUT_GROUP, error.to_string()),
    };
    OfError::new(ErrorType::GroupModFailed, code, error.to_string())
}

/// OFPMP_GROUP_DESC: group `id` (`GROUP_ALL`: every group) with its buckets.
pub(super) fn group_desc(
    version: Version,
    xid: u32,
    id: u32,
    ask: impl FnOnce(Query) -> Result<Answer, OfError>,
) -> Replies {
    let groups = match ask(Query::GroupDesc)? {
        Answer::Groups(groups) => groups,
        other => return Err(unexpected(&other)),
    };
    let descs = groups
        .into_iter()
        .filter(|group| id == GROUP_ALL || group.id == id)
        .map(|group| GroupDesc { group_type: group.group_type, group_id: group.id, buckets: group.buckets })
        .collect();
    split(version, xid, descs, ReplyBody::GroupDesc)
}

/// OFPMP_GROUP: the counters of group `id` (OFPG_ALL: of every group).
pub(super) fn group_stats(
    version: Version,
    xid: u32,
    id: u32,
    ask: impl FnOnce(Query) -> Result<Answer, OfError>,
) -> Replies {
    let stats = match ask(Query::GroupStats(id))? {
        Answer::GroupStats(stats) => stats,
        other => return Err(unexpected(&other)),
    };
    let stats = stats
        .into_iter()
        .map(|stat| GroupStats {
            group_id: stat.group_id,
            ref_count: stat.ref_count,
            packet_count: stat.packets,
            byte_count: stat.bytes,
            duration_sec: duration_sec(stat.duration_ms),
            duration_nsec: duration_nsec(stat.duration_ms),
            buckets: stat
                .buckets
                .into_iter()
                .map(|(packet_count, byte_count)| Counters { packet_count, byte_count })
                .collect(),
        })
        .collect();
    split(version, xid, stats, ReplyBody::Group)
}

/// OFPMP_GROUP_FEATURES: every type, weights, liveness and chaining, the group limit per type
/// and the actions buckets may hold.
pub(super) fn features(version: Version) -> GroupFeatures {
    let max = u32::try_from(MAX_GROUPS).unwrap_or(u32::MAX);
    let actions = match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => BUCKET_ACTIONS,
        Version::V1_0 => BUCKET_ACTIONS_V1_0,
    };
    GroupFeatures { types: 0xf, capabilities: CAPABILITIES, max_groups: [max; 4], actions: [actions; 4] }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Action, OfPort};
    use crate::openflow::message::{decode, Bucket, GroupType, Message};
    use crate::openflow::multipart::MultipartReply;
    use crate::openflow::service::GroupStat;
    use crate::pipeline::group::GROUP_ANY;

    #[test]
    fn group_mods_become_group_ops_and_errors_carry_their_codes() {
        let bucket = Bucket {
            id: 0,
            weight: 1,
            watch_port: OfPort::NONE,
            watch_group: GROUP_ANY,
            actions: vec![Action::output(OfPort(2))],
        };
        let add = GroupMod {
            command: GroupCommand::Add,
            group_type: GroupType::Select,
            group_id: 5,
            buckets: vec![bucket.clone()],
        };
        let mut asked = None;
        let replies = group_mod(&add, |query| {
            asked = Some(query);
            Ok(Answer::GroupMod(Ok(())))
        });
        assert_eq!(replies, Ok(Vec::new()));
        let expected = Group { id: 5, group_type: GroupType::Select, buckets: vec![bucket] };
        assert_eq!(asked, Some(Query::GroupMod(GroupOp::Add(expected))));
        let delete = GroupMod { command: GroupCommand::Delete, buckets: Vec::new(), ..add.clone() };
        let refused = group_mod(&delete, |query| {
            assert_eq!(query, Query::GroupMod(GroupOp::Delete(5)));
            Ok(Answer::GroupMod(Err(GroupModFailure::Table(GroupModError::Chained { group: 5, by: 6 }))))
        });
        let error = refused.unwrap_err();
        assert_eq!((error.kind, error.code), (ErrorType::GroupModFailed, group_mod_failed::CHAINED_GROUP));
        for (error, kind, code) in [
            (GroupModError::Exists(1), ErrorType::GroupModFailed, 0),
            (GroupModError::Unknown(1), ErrorType::GroupModFailed, 8),
            (GroupModError::Invalid(String::new()), ErrorType::GroupModFailed, 1),
            (GroupModError::BadWatch(String::new()), ErrorType::GroupModFailed, 13),
            (GroupModError::Loop(1), ErrorType::GroupModFailed, 7),
            (GroupModError::BadOutGroup(1), ErrorType::BadAction, 9),
        ] {
            let of_error = group_mod_error(&error);
            assert_eq!((of_error.kind, of_error.code), (kind, code), "{error:?}");
        }
    }

    #[test]
    fn group_stats_reply_with_bucket_counters() {
        let stat = GroupStat {
            group_id: 3,
            ref_count: 2,
            packets: 10,
            bytes: 640,
            buckets: vec![(4, 256), (6, 384)],
            duration_ms: 2500,
        };
        let replies = group_stats(Version::V1_3, 7, 3, |query| {
            assert_eq!(query, Query::GroupStats(3));
            Ok(Answer::GroupStats(vec![stat.clone()]))
        })
        .unwrap();
        let (_, Message::MultipartReply(MultipartReply { body: ReplyBody::Group(groups), .. })) =
            decode(&replies[0]).unwrap()
        else {
            panic!("not a group stats reply")
        };
        assert_eq!(groups.len(), 1);
        assert_eq!(
            (groups[0].group_id, groups[0].ref_count, groups[0].packet_count, groups[0].duration_sec),
            (3, 2, 10, 2)
        );
        assert_eq!(
            groups[0].buckets,
            [Counters { packet_count: 4, byte_count: 256 }, Counters { packet_count: 6, byte_count: 384 }]
        );
    }
}
