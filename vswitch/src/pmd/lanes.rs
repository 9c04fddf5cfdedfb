//! `Lanes`: a set of the packets of one burst (bit i: packet i), what the burst stages hand each
//! other - the packets a stage still has to resolve, the repeats, the runts.
use std::ops::{BitOr, BitOrAssign, Sub, SubAssign};

use crate::dpdk::mbuf::BURST_SIZE;

const _: () = assert!(BURST_SIZE <= u64::BITS as usize, "Lanes holds a burst in a u64");

/// A set of packet positions of one burst.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lanes(u64);

impl Lanes {
    pub const NONE: Lanes = Lanes(0);

    /// Packets `0..n`.
    #[inline(always)]
    pub fn first(n: usize) -> Lanes {
        Lanes(if n >= 64 { u64::MAX } else { (1u64 << n) - 1 })
    }

    /// The set with bits `bits` (bit i: packet i).
    #[inline(always)]
    pub fn from_bits(bits: u64) -> Lanes {
        Lanes(bits)
    }

    #[inline(always)]
    pub fn bits(self) -> u64 {
        self.0
    }

    #[inline(always)]
    pub fn contains(self, i: usize) -> bool {
        i < 64 && self.0 & (1 << i) != 0
    }

    #[inline(always)]
    pub fn insert(&mut self, i: usize) {
        if i < 64 {
            self.0 |= 1 << i;
        }
    }

    #[inline(always)]
    pub fn remove(&mut self, i: usize) {
        if i < 64 {
            self.0 &= !(1 << i);
        }
    }

    #[inline(always)]
    pub fn count(self) -> u32 {
        self.0.count_ones()
    }

    #[inline(always)]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The positions, lowest first.
    #[inline(always)]
    pub fn iter(self) -> LanesIter {
        LanesIter(self.0)
    }
}

impl BitOr for Lanes {
    type Output = Lanes;

    #[inline(always)]
    fn bitor(self, other: Lanes) -> Lanes {
        Lanes(self.0 | other.0)
    }
}

impl BitOrAssign for Lanes {
    #[inline(always)]
    fn bitor_assign(&mut self, other: Lanes) {
        self.0 |= other.0;
    }
}

/// `a - b`: the lanes of `a` that are not in `b`.
impl Sub for Lanes {
    type Output = Lanes;

    #[inline(always)]
    fn sub(self, other: Lanes) -> Lanes {
        Lanes(self.0 & !other.0)
    }
}

impl SubAssign for Lanes {
    #[inline(always)]
    fn sub_assign(&mut self, other: Lanes) {
        self.0 &= !other.0;
    }
}

/// The positions of a `Lanes`, lowest first.
pub struct LanesIter(u64);

impl Iterator for LanesIter {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        assert_eq!(Lanes::first(0), Lanes::NONE);
        assert_eq!(Lanes::first(3).bits(), 0b111);
        assert_eq!(Lanes::first(64).count(), 64);
        let mut lanes = Lanes::first(5) - Lanes::from_bits(0b10);
        assert_eq!(lanes.iter().collect::<Vec<_>>(), [0, 2, 3, 4]);
        lanes.remove(3);
        lanes.insert(9);
        lanes.insert(64);
        assert!(lanes.contains(9) && !lanes.contains(3) && !lanes.contains(64));
        assert_eq!((lanes | Lanes::from_bits(0b10)).iter().collect::<Vec<_>>(), [0, 1, 2, 4, 9]);
        assert!((lanes - lanes).is_empty());
    }
}
