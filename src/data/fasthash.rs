//! Fast non-cryptographic hashing for the reader's hot maps (customer ids, duplicate keys).
//! Input files are trusted batch data, so hash-flooding resistance (SipHash, std's default)
//! is not worth its cost here; the server uses them only for one customer's duplicate keys,
//! bounded by its transaction limit.

use std::hash::{BuildHasherDefault, Hasher};

/// The multiply-rotate hash of rustc's FxHasher family, 8 bytes at a time.
#[derive(Clone, Copy, Default)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Final avalanche so the low bits (bucket index) depend on every input bit.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// `HashMap`/`HashSet` builder using [`FxHasher`].
pub type FxBuild = BuildHasherDefault<FxHasher>;

/// Positions of ids in a list the caller keeps, found by a 64-bit hash of the id
/// ([`super::rows::id_hash`]) and confirmed against the list, so the index holds no copy of
/// any id; ids whose hash another id already has go to a second, exact map.
#[derive(Clone, Debug, Default)]
pub struct IdIndex {
    by_hash: std::collections::HashMap<u64, u32, FxBuild>,
    spill: std::collections::HashMap<String, u32, FxBuild>,
}

impl IdIndex {
    /// The position of `id` (with `hash`); `at(p)` is the id at position `p`.
    pub fn get<'a>(&self, id: &str, hash: u64, at: impl Fn(usize) -> &'a str) -> Option<usize> {
        let &p = self.by_hash.get(&hash)?;
        if at(p as usize) == id {
            return Some(p as usize);
        }
        self.spill.get(id).map(|&p| p as usize)
    }

    /// The position of `id`, or `next` after recording it there (`Err(next)`: new).
    pub fn get_or_insert<'a>(
        &mut self,
        id: &str,
        hash: u64,
        at: impl Fn(usize) -> &'a str,
        next: usize,
    ) -> Result<usize, usize> {
        use std::collections::hash_map::Entry;
        match self.by_hash.entry(hash) {
            Entry::Occupied(e) if at(*e.get() as usize) == id => Ok(*e.get() as usize),
            Entry::Occupied(_) => match self.spill.entry(id.to_string()) {
                Entry::Occupied(e) => Ok(*e.get() as usize),
                Entry::Vacant(e) => {
                    e.insert(next as u32);
                    Err(next)
                }
            },
            Entry::Vacant(e) => {
                e.insert(next as u32);
                Err(next)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn ids_spread_over_the_low_bits() {
        let build = FxBuild::default();
        let buckets: HashSet<u64> = (0..4096)
            .map(|i| build.hash_one(format!("C{i:07}")) & 4095)
            .collect();
        // A uniform hash fills ~63% of 4096 buckets with 4096 keys.
        assert!(buckets.len() > 2400, "{}", buckets.len());
    }

    #[test]
    fn an_id_index_tells_ids_with_the_same_hash_apart() {
        let mut idx = IdIndex::default();
        let mut ids: Vec<String> = Vec::new();
        for (id, hash) in [("a", 1), ("b", 1), ("c", 2), ("a", 1), ("b", 1)] {
            let n = ids.len();
            if let Err(p) = idx.get_or_insert(id, hash, |p| ids[p].as_str(), n) {
                assert_eq!(p, ids.len());
                ids.push(id.to_string());
            }
        }
        assert_eq!(ids, ["a", "b", "c"]);
        let at = |p: usize| ids[p].as_str();
        assert_eq!(idx.get("b", 1, at), Some(1));
        assert_eq!(idx.get("c", 2, at), Some(2));
        assert_eq!(idx.get("d", 1, at), None);
        assert_eq!(idx.get("a", 3, at), None);
    }
}
