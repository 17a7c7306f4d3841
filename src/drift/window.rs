//! A sliding window of the last `capacity` customers a server scored with one model, kept as
//! binned counts against the model's [`Reference`]: a fixed ring of bin and cell indices
//! (a few `u16` per feature per customer) and the running [`Counts`], so adding a customer
//! costs a binary search per feature and no allocation, memory is fixed at load time, and
//! the statistics ([`super::compare`]) are computed from the counts when `/metrics` is read.

use std::sync::Mutex;

use crate::features::{FeatureSpec, FeatureWarning, RawValue};
use crate::model::reference::{warning_flags, Counts, Reference};

/// Customers a server's window holds per model, unless configured.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A value that could not be binned (its slot holds no count).
const NONE: u16 = u16::MAX;

/// The window of one served model.
#[derive(Debug)]
pub struct Window {
    reference: Reference,
    inner: Mutex<Ring>,
}

#[derive(Debug)]
struct Ring {
    capacity: usize,
    /// Per slot: per feature (bin, cell), then segment, then warning flags.
    slots: Vec<u16>,
    stride: usize,
    next: usize,
    counts: Counts,
}

impl Ring {
    /// Adds (`add`) or removes the counts of slot `i`.
    fn apply(&mut self, i: usize, add: bool) {
        let slot = &self.slots[i * self.stride..(i + 1) * self.stride];
        let features = self.counts.bins.len();
        let step = |n: &mut u64| {
            if add {
                *n += 1
            } else {
                *n -= 1
            }
        };
        for j in 0..features {
            let (b, c) = (slot[2 * j], slot[2 * j + 1]);
            if b != NONE {
                step(&mut self.counts.bins[j][usize::from(b)]);
            }
            if c != NONE {
                step(&mut self.counts.cells[j][usize::from(c)]);
            }
        }
        let (seg, flags) = (slot[2 * features], slot[2 * features + 1]);
        if seg != NONE {
            step(&mut self.counts.segments[usize::from(seg)]);
        }
        if flags & 1 != 0 {
            step(&mut self.counts.out_of_range);
        }
        if flags & 2 != 0 {
            step(&mut self.counts.far_from_centroid);
        }
        step(&mut self.counts.customers);
    }
}

impl Window {
    /// An empty window of `capacity` customers (at least 1) for a model with `reference`.
    pub fn new(reference: Reference, capacity: usize) -> Window {
        let capacity = capacity.max(1);
        let stride = 2 * reference.features.len() + 2;
        let counts = Counts::new(&reference);
        Window {
            inner: Mutex::new(Ring {
                capacity,
                slots: Vec::with_capacity(capacity * stride),
                stride,
                next: 0,
                counts,
            }),
            reference,
        }
    }

    /// The reference the window is binned against.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// Adds one scored customer (raw values in feature order, segment position, warnings),
    /// replacing the oldest once the window is full.
    pub fn observe(
        &self,
        spec: &FeatureSpec,
        raw: &[RawValue],
        segment: usize,
        warnings: &[FeatureWarning],
    ) {
        let mut ring = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let ring = &mut *ring;
        let i = ring.next;
        let full = ring.slots.len() == ring.capacity * ring.stride;
        if full {
            ring.apply(i, false);
        } else {
            ring.slots.resize((i + 1) * ring.stride, NONE);
        }
        let idx = |x: usize| u16::try_from(x).ok().filter(|v| *v != NONE).unwrap_or(NONE);
        let slot = &mut ring.slots[i * ring.stride..(i + 1) * ring.stride];
        for (j, (r, f)) in self
            .reference
            .features
            .iter()
            .zip(&spec.features)
            .enumerate()
        {
            let (b, c) = raw
                .get(j)
                .and_then(|v| r.locate(f, v))
                .map_or((NONE, NONE), |(b, c)| (idx(b), idx(c)));
            slot[2 * j] = b;
            slot[2 * j + 1] = if r.n_cells() == 0 { NONE } else { c };
        }
        let n = self.reference.features.len();
        slot[2 * n] = if segment < ring.counts.segments.len() {
            idx(segment)
        } else {
            NONE
        };
        let (out, far) = warning_flags(warnings);
        slot[2 * n + 1] = u16::from(out) | (u16::from(far) << 1);
        ring.apply(i, true);
        ring.next = (i + 1) % ring.capacity;
    }

    /// The window's counts now.
    pub fn counts(&self) -> Counts {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .counts
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::reference::ReferenceBuilder;

    fn spec() -> FeatureSpec {
        FeatureSpec {
            features: vec![crate::model::reference::tests::numeric("x")],
            ..Default::default()
        }
    }

    #[test]
    fn the_window_holds_the_last_customers_only() {
        let spec = spec();
        let mut b = ReferenceBuilder::new(&spec, 2);
        for i in 0..10 {
            b.push(
                &spec,
                &[RawValue::Num(f64::from(i))],
                i as usize % 2,
                (false, false),
            );
        }
        let reference = b.finish(&spec);
        let w = Window::new(reference.clone(), 3);
        let far = [FeatureWarning::FarFromCentroid {
            segment: "s".into(),
        }];
        for i in 0..7 {
            let warnings: &[FeatureWarning] = if i == 0 { &far } else { &[] };
            w.observe(&spec, &[RawValue::Num(f64::from(i))], 1, warnings);
        }
        // Only 4, 5 and 6 are left; counted afresh they give the same counts.
        let mut want = Counts::new(&reference);
        for i in 4..7 {
            want.add(&reference, &spec, &[RawValue::Num(f64::from(i))], 1, &[]);
        }
        assert_eq!(w.counts(), want);
        assert_eq!(w.counts().far_from_centroid, 0);
    }
}
