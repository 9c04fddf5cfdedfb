//! Meters between the wire and the pipeline: METER_MOD bodies to meter specifications, the
//! meter table's refusals to OFPMMFC_* errors, and meters with their statistics to the meter
//! config, stats and features multipart bodies.

use super::message::{MeterBand, MeterBandKind, MeterFlags, MeterMod};
use super::multipart::{Counters, MeterConfig, MeterFeatures, MeterStats};
use super::service::MeterView;
use super::wire::{duration_nsec, duration_sec, ErrorType, OfError};
use crate::pipeline::meter::{Band, BandAction, MeterError, MeterSpec, MAX_BANDS, MAX_METERS};

/// OFPMMFC_* codes.
pub mod code {
    pub const METER_EXISTS: u16 = 1;
    pub const INVALID_METER: u16 = 2;
    pub const UNKNOWN_METER: u16 = 3;
    pub const BAD_FLAGS: u16 = 5;
    pub const BAD_BAND: u16 = 8;
    pub const OUT_OF_METERS: u16 = 10;
    pub const OUT_OF_BANDS: u16 = 11;
}

fn failed(code: u16, reason: impl Into<String>) -> OfError {
    OfError::new(ErrorType::MeterModFailed, code, reason)
}

/// The specification a METER_MOD add or modify asks for: kbps unless pktps (not both).
pub fn meter_spec(meter_mod: &MeterMod) -> Result<MeterSpec, OfError> {
    let flags = meter_mod.flags;
    if flags.kbps && flags.pktps {
        return Err(failed(code::BAD_FLAGS, "a meter is kbps or pktps, not both"));
    }
    let bands = meter_mod
        .bands
        .iter()
        .map(|band| Band {
            action: match band.kind {
                MeterBandKind::Drop => BandAction::Drop,
                MeterBandKind::DscpRemark { prec_level } => BandAction::DscpRemark(prec_level),
            },
            rate: band.rate,
            burst: band.burst_size,
        })
        .collect();
    Ok(MeterSpec { pktps: flags.pktps, burst: flags.burst, stats: flags.stats, bands })
}

pub fn meter_error(error: MeterError) -> OfError {
    let code = match error {
        MeterError::Exists(_) => code::METER_EXISTS,
        MeterError::Unknown(_) => code::UNKNOWN_METER,
        MeterError::InvalidId(_) => code::INVALID_METER,
        MeterError::TooManyMeters => code::OUT_OF_METERS,
        MeterError::TooManyBands => code::OUT_OF_BANDS,
        MeterError::BadBand => code::BAD_BAND,
    };
    failed(code, error.to_string())
}

fn flags(spec: &MeterSpec) -> MeterFlags {
    MeterFlags { kbps: !spec.pktps, pktps: spec.pktps, burst: spec.burst, stats: spec.stats }
}

pub fn meter_config(view: &MeterView) -> MeterConfig {
    let bands = view
        .spec
        .bands
        .iter()
        .map(|band| MeterBand {
            kind: match band.action {
                BandAction::Drop => MeterBandKind::Drop,
                BandAction::DscpRemark(prec_level) => MeterBandKind::DscpRemark { prec_level },
            },
            rate: band.rate,
            burst_size: band.burst,
        })
        .collect();
    MeterConfig { flags: flags(&view.spec), meter_id: view.id, bands }
}

pub fn meter_stats(view: &MeterView) -> MeterStats {
    MeterStats {
        meter_id: view.id,
        flow_count: view.flows,
        packet_in_count: view.totals.packets,
        byte_in_count: view.totals.bytes,
        duration_sec: duration_sec(view.duration_ms),
        duration_nsec: duration_nsec(view.duration_ms),
        bands: view
            .totals
            .bands
            .iter()
            .map(|&(packet_count, byte_count)| Counters { packet_count, byte_count })
            .collect(),
    }
}

/// What the switch's meters can do: drop and DSCP remark bands, kbps and pktps, bursts,
/// statistics.
#[expect(clippy::cast_possible_truncation, reason = "constants: 65536 meters, 4 bands")]
pub fn meter_features() -> MeterFeatures {
    MeterFeatures {
        max_meter: MAX_METERS as u32,
        band_types: (1 << 1) | (1 << 2),
        capabilities: MeterFlags { kbps: true, pktps: true, burst: true, stats: true }.wire().into(),
        max_bands: MAX_BANDS as u8,
        max_color: 0,
    }
}
