//! Checksum arithmetic for header rewrites: the incremental update of an Internet checksum
//! (RFC 1624) and CRC32c (SCTP, RFC 4960 appendix B).

/// The Internet checksum `checksum` after the bytes `old` of the data it covers became `new`
/// (RFC 1624 equation 3: `HC' = ~(~HC + ~m + m')`), 16-bit word by 16-bit word. `old` and `new`
/// have the same even length and start at an even offset of the covered data. A checksum that was
/// wrong stays wrong by the same amount.
#[inline]
pub fn update(checksum: u16, old: &[u8], new: &[u8]) -> u16 {
    let mut sum = u32::from(!checksum);
    for (old_word, new_word) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        if let (&[old_hi, old_lo], &[new_hi, new_lo]) = (old_word, new_word) {
            sum += u32::from(!u16::from_be_bytes([old_hi, old_lo])) + u32::from(u16::from_be_bytes([new_hi, new_lo]));
        }
    }
    !fold(sum)
}

/// Folds a 32-bit one's complement sum to 16 bits (end-around carry).
#[inline]
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop leaves sum <= 0xffff.
    (sum & 0xffff) as u16
}

/// CRC32c (Castagnoli) of `data`: reflected polynomial 0x82f63b78, initial value and final xor
/// 0xffffffff. SCTP stores it in the common header's checksum field least significant byte first.
pub fn crc32c(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |crc, &byte| {
        let index = usize::from(((crc & 0xff) as u8) ^ byte);
        CRC32C_TABLE.get(index).copied().unwrap_or(0) ^ (crc >> 8)
    })
}

/// CRC32c of every byte value, for the byte-at-a-time table algorithm.
const CRC32C_TABLE: [u32; 256] = crc32c_table();

#[expect(clippy::cast_possible_truncation, reason = "byte < 256")]
const fn crc32c_table() -> [u32; 256] {
    const POLYNOMIAL: u32 = 0x82f6_3b78;
    let mut table = [0u32; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ POLYNOMIAL } else { crc >> 1 };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[]), 0);
    }

    #[test]
    fn update_of_an_unchanged_word_keeps_the_checksum() {
        assert_eq!(update(0x1234, &[0xab, 0xcd], &[0xab, 0xcd]), 0x1234);
    }

    #[test]
    fn update_matches_rfc_1624_example() {
        // RFC 1624 section 4: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000.
        assert_eq!(update(0xdd2f, &[0x55, 0x55], &[0x32, 0x85]), 0x0000);
    }
}
