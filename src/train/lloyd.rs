//! custseg's own k-means kernel: greedy k-means++ seeding and Lloyd iterations over a
//! row-major matrix, data-parallel with rayon.
//!
//! Why not linfa's: its Lloyd step computes every point–centroid distance through generic
//! ndarray code, updates centroids serially and cannot report iterations; measured here it is
//! ~5–6× slower per iteration than scikit-learn. linfa stays the oracle: the tests run both
//! from the same initial centroids and require the same labels.
//!
//! Design:
//! - Rows are processed in fixed chunks of [`CHUNK`] rows. Each chunk assigns its rows to the
//!   nearest centroid and accumulates per-cluster sums; partial results are reduced in chunk
//!   order, so results are bit-identical for any number of threads.
//! - The nearest centroid is ranked by ‖c‖² − 2x·c (as scikit-learn does), computed against
//!   a transposed, padded centroid block so the inner loop runs across centroids and
//!   vectorizes (an AVX2+FMA build of the same code is chosen at run time); the inertia uses
//!   the exact squared distance to the chosen centroid. Labels can differ from an exact
//!   search only between centroids equidistant to ~1e-15 relative, and FMA rounding can make
//!   such ties break differently on CPUs without FMA.
//! - Convergence follows scikit-learn: stop when the labels stop changing, or when the total
//!   squared centroid shift falls to `tol` × the mean per-column variance of the data.
//! - An empty cluster keeps its previous centroid.

use rand::Rng;
use rayon::prelude::*;

/// Rows per parallel work item (fixed, so results do not depend on the thread count).
pub const CHUNK: usize = 4096;

/// A row-major `n × d` matrix borrowed as a slice.
#[derive(Clone, Copy, Debug)]
pub struct Points<'a> {
    pub data: &'a [f64],
    pub n: usize,
    pub d: usize,
}

impl<'a> Points<'a> {
    /// Wraps `data` of `n × d` values; `None` when the sizes disagree or `d` is 0.
    pub fn new(data: &'a [f64], d: usize) -> Option<Points<'a>> {
        (d > 0 && data.len().is_multiple_of(d)).then(|| Points {
            data,
            n: data.len() / d,
            d,
        })
    }

    fn row(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.d..(i + 1) * self.d]
    }
}

/// Centroids transposed to `d × kp` (k padded to a multiple of 4 with far-away values) for
/// the distance loops: `ct` holds the centroids, `ct2` holds −2 × centroids and `cn` their
/// squared norms, for the expanded form ‖c‖² − 2x·c used to pick the nearest.
struct Block {
    ct: Vec<f64>,
    ct2: Vec<f64>,
    cn: Vec<f64>,
    k: usize,
    kp: usize,
}

impl Block {
    fn new(centroids: &[f64], k: usize, d: usize) -> Block {
        let kp = k.div_ceil(4) * 4;
        let mut ct = vec![1e150; d * kp];
        let mut ct2 = vec![0.0; d * kp];
        let mut cn = vec![f64::MAX; kp];
        for j in 0..k {
            let mut norm = 0.0;
            for i in 0..d {
                let v = centroids[j * d + i];
                ct[i * kp + j] = v;
                ct2[i * kp + j] = -2.0 * v;
                norm += v * v;
            }
            cn[j] = norm;
        }
        Block { ct, ct2, cn, k, kp }
    }
}

/// Squared distances of `x` to every (padded) centroid into `out[..kp]`.
#[inline(always)]
fn distances_into(x: &[f64], b: &Block, out: &mut [f64]) {
    let kp = b.kp;
    let out = &mut out[..kp];
    out.fill(0.0);
    for (i, &xi) in x.iter().enumerate() {
        let c = &b.ct[i * kp..(i + 1) * kp];
        for (o, &cj) in out.iter_mut().zip(c) {
            let t = xi - cj;
            *o += t * t;
        }
    }
}

/// Index and squared distance of the nearest of the first `k` entries (first one on ties).
#[inline(always)]
fn argmin(dist: &[f64], k: usize) -> (usize, f64) {
    let mut best = (0, dist[0]);
    for (j, &v) in dist.iter().enumerate().take(k).skip(1) {
        if v < best.1 {
            best = (j, v);
        }
    }
    best
}

/// What one chunk contributes to a Lloyd step.
struct Partial {
    sums: Vec<f64>,
    counts: Vec<u64>,
    changed: usize,
}

/// ‖c‖² − 2x·c for the `KP` (padded) centroids, accumulated in registers: the squared
/// distance minus ‖x‖², enough to rank centroids (as scikit-learn does).
#[inline(always)]
fn scores_fixed<const KP: usize>(x: &[f64], b: &Block) -> [f64; KP] {
    // Four independent accumulators over alternating columns, so the fused multiply-adds
    // do not wait on each other.
    let mut acc = [[0.0f64; KP]; 4];
    acc[0].copy_from_slice(&b.cn[..KP]);
    let mut xs = x.chunks_exact(4);
    let mut cs = b.ct2.chunks_exact(4 * KP);
    for (xq, cq) in (&mut xs).zip(&mut cs) {
        for (q, a) in acc.iter_mut().enumerate() {
            let c = &cq[q * KP..(q + 1) * KP];
            for j in 0..KP {
                a[j] = xq[q].mul_add(c[j], a[j]);
            }
        }
    }
    for (q, &xi) in xs.remainder().iter().enumerate() {
        let c = &b.ct2[(x.len() - xs.remainder().len() + q) * KP..][..KP];
        for j in 0..KP {
            acc[q][j] = xi.mul_add(c[j], acc[q][j]);
        }
    }
    let mut out = [0.0f64; KP];
    for j in 0..KP {
        out[j] = (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]);
    }
    out
}

/// Nearest of the first `k` of `KP` distances (first on ties), without data-dependent
/// branches: a lane-wise minimum, then the lowest index holding it.
#[inline(always)]
fn argmin_fixed<const KP: usize>(dist: &[f64; KP]) -> (usize, f64) {
    let mut lane = [dist[0], dist[1], dist[2], dist[3]];
    for c in dist.chunks_exact(4).skip(1) {
        for l in 0..4 {
            lane[l] = if c[l] < lane[l] { c[l] } else { lane[l] };
        }
    }
    let a = if lane[1] < lane[0] { lane[1] } else { lane[0] };
    let b = if lane[3] < lane[2] { lane[3] } else { lane[2] };
    let m = if b < a { b } else { a };
    let mut mask = 0u32;
    for (j, &v) in dist.iter().enumerate() {
        mask |= u32::from(v == m) << j;
    }
    (mask.trailing_zeros() as usize, m)
}

#[inline(always)]
fn assign_chunk_fixed<const KP: usize>(
    rows: &[f64],
    d: usize,
    b: &Block,
    labels: &mut [u32],
    p: &mut Partial,
) {
    // Phase 1: labels only — every row independent, so rows overlap in the pipeline.
    let mut changed = 0usize;
    for (x, label) in rows.chunks_exact(d).zip(labels.iter_mut()) {
        let scores = scores_fixed::<KP>(x, b);
        let (j, _) = argmin_fixed::<KP>(&scores);
        changed += usize::from(*label != j as u32);
        *label = j as u32;
    }
    p.changed += changed;
    // Phase 2: counts and per-cluster sums.
    for (x, &j) in rows.chunks_exact(d).zip(labels.iter()) {
        let j = j as usize;
        p.counts[j] += 1;
        for (s, &v) in p.sums[j * d..(j + 1) * d].iter_mut().zip(x) {
            *s += v;
        }
    }
}

#[inline(always)]
fn assign_chunk_body(rows: &[f64], d: usize, b: &Block, labels: &mut [u32]) -> Partial {
    let k = b.k;
    let mut p = Partial {
        sums: vec![0.0; k * d],
        counts: vec![0; k],
        changed: 0,
    };
    match b.kp {
        4 => assign_chunk_fixed::<4>(rows, d, b, labels, &mut p),
        8 => assign_chunk_fixed::<8>(rows, d, b, labels, &mut p),
        12 => assign_chunk_fixed::<12>(rows, d, b, labels, &mut p),
        16 => assign_chunk_fixed::<16>(rows, d, b, labels, &mut p),
        _ => {
            // Wider k: exact distances, one row at a time.
            let mut dist = vec![0.0; b.kp];
            for (x, label) in rows.chunks_exact(d).zip(labels.iter_mut()) {
                distances_into(x, b, &mut dist);
                let (j, _) = argmin(&dist, k);
                p.changed += usize::from(*label != j as u32);
                *label = j as u32;
                p.counts[j] += 1;
                for (s, &v) in p.sums[j * d..(j + 1) * d].iter_mut().zip(x) {
                    *s += v;
                }
            }
        }
    }
    p
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn assign_chunk_avx2(rows: &[f64], d: usize, b: &Block, labels: &mut [u32]) -> Partial {
    assign_chunk_body(rows, d, b, labels)
}

fn assign_chunk(rows: &[f64], d: usize, b: &Block, labels: &mut [u32]) -> Partial {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above); the function is the
            // same safe code compiled with them enabled.
            return unsafe { assign_chunk_avx2(rows, d, b, labels) };
        }
    }
    assign_chunk_body(rows, d, b, labels)
}

/// One Lloyd assignment pass: updates `labels` and returns per-cluster sums and counts and the
/// number of changed labels, reduced in chunk order.
fn assign_all(p: &Points, centroids: &[f64], k: usize, labels: &mut [u32]) -> Partial {
    let b = Block::new(centroids, k, p.d);
    let d = p.d;
    let parts: Vec<Partial> = p
        .data
        .par_chunks(CHUNK * d)
        .zip(labels.par_chunks_mut(CHUNK))
        .map(|(rows, lab)| assign_chunk(rows, d, &b, lab))
        .collect();
    let mut total = Partial {
        sums: vec![0.0; k * d],
        counts: vec![0; k],
        changed: 0,
    };
    for part in parts {
        for (t, s) in total.sums.iter_mut().zip(&part.sums) {
            *t += s;
        }
        for (t, c) in total.counts.iter_mut().zip(&part.counts) {
            *t += c;
        }
        total.changed += part.changed;
    }
    total
}

/// Labels (nearest centroid) and squared distances of every row, in parallel.
pub fn assign(p: &Points, centroids: &[f64], k: usize) -> (Vec<u32>, Vec<f64>) {
    let b = Block::new(centroids, k, p.d);
    let d = p.d;
    let mut labels = vec![0u32; p.n];
    let mut sq = vec![0.0f64; p.n];
    p.data
        .par_chunks(CHUNK * d)
        .zip(labels.par_chunks_mut(CHUNK))
        .zip(sq.par_chunks_mut(CHUNK))
        .for_each(|((rows, lab), sqd)| exact_chunk(rows, d, &b, lab, sqd));
    (labels, sq)
}

#[inline(always)]
fn exact_chunk_body(rows: &[f64], d: usize, b: &Block, lab: &mut [u32], sqd: &mut [f64]) {
    let mut dist = vec![0.0; b.kp];
    for ((x, l), s) in rows.chunks_exact(d).zip(lab.iter_mut()).zip(sqd.iter_mut()) {
        distances_into(x, b, &mut dist);
        let (j, v) = argmin(&dist, b.k);
        *l = j as u32;
        *s = v;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn exact_chunk_avx2(rows: &[f64], d: usize, b: &Block, lab: &mut [u32], sqd: &mut [f64]) {
    exact_chunk_body(rows, d, b, lab, sqd)
}

/// Exact nearest centroid and squared distance of each row of a chunk.
fn exact_chunk(rows: &[f64], d: usize, b: &Block, lab: &mut [u32], sqd: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { exact_chunk_avx2(rows, d, b, lab, sqd) };
        }
    }
    exact_chunk_body(rows, d, b, lab, sqd)
}

/// Sum of squared distances of every row to its nearest centroid (exact distances).
pub fn inertia(p: &Points, centroids: &[f64], k: usize) -> f64 {
    let (_, sq) = assign(p, centroids, k);
    // Chunk-ordered sum, as everywhere else.
    sq.chunks(CHUNK).map(|c| c.iter().sum::<f64>()).sum()
}

/// Squared norm of every row.
pub fn row_norms(p: &Points) -> Vec<f64> {
    let mut out = vec![0.0; p.n];
    p.data
        .par_chunks(CHUNK * p.d)
        .zip(out.par_chunks_mut(CHUNK))
        .for_each(|(rows, o)| {
            for (x, v) in rows.chunks_exact(p.d).zip(o.iter_mut()) {
                *v = x.iter().map(|a| a * a).sum();
            }
        });
    out
}

/// Mean over columns of each column's variance: scikit-learn's scale for `tol`.
pub fn mean_variance(p: &Points) -> f64 {
    let d = p.d;
    let n = p.n.max(1) as f64;
    let parts: Vec<(Vec<f64>, Vec<f64>)> = p
        .data
        .par_chunks(CHUNK * d)
        .map(|rows| {
            let mut s = vec![0.0; d];
            let mut s2 = vec![0.0; d];
            for x in rows.chunks_exact(d) {
                for i in 0..d {
                    s[i] += x[i];
                    s2[i] += x[i] * x[i];
                }
            }
            (s, s2)
        })
        .collect();
    let mut s = vec![0.0; d];
    let mut s2 = vec![0.0; d];
    for (a, b) in parts {
        for i in 0..d {
            s[i] += a[i];
            s2[i] += b[i];
        }
    }
    (0..d)
        .map(|i| {
            let m = s[i] / n;
            (s2[i] / n - m * m).max(0.0)
        })
        .sum::<f64>()
        / d as f64
}

/// Squared distances of every row to one point, and their chunk totals.
fn distances_to(p: &Points, c: &[f64], out: &mut [f64]) -> Vec<f64> {
    let d = p.d;
    p.data
        .par_chunks(CHUNK * d)
        .zip(out.par_chunks_mut(CHUNK))
        .map(|(rows, o)| {
            let mut t = 0.0;
            for (x, v) in rows.chunks_exact(d).zip(o.iter_mut()) {
                let mut s = 0.0;
                for (a, b) in x.iter().zip(c) {
                    let u = a - b;
                    s += u * u;
                }
                *v = s;
                t += s;
            }
            t
        })
        .collect()
}

/// Greedy k-means++ (as scikit-learn): each new centre is the best of `2 + ln k` candidates
/// drawn proportionally to the squared distance to the nearest chosen centre. Returns `k × d`
/// centroids, row-major.
pub fn kmeans_plus_plus<R: Rng>(p: &Points, norms: &[f64], k: usize, rng: &mut R) -> Vec<f64> {
    let d = p.d;
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centers = Vec::with_capacity(k * d);
    let first = rng.gen_range(0..p.n);
    centers.extend_from_slice(p.row(first));
    let mut closest = vec![0.0; p.n];
    let mut chunk_tot = distances_to(p, p.row(first), &mut closest);
    let mut pot: f64 = chunk_tot.iter().sum();
    // Row-major n × trials: each row's distance to every candidate, capped by `closest`.
    let mut cand = vec![0.0; p.n * trials];
    for _ in 1..k {
        // The draws depend only on `closest`, so all candidates are drawn first.
        let ids: Vec<usize> = (0..trials)
            .map(|_| {
                if pot > 0.0 {
                    pick(&closest, &chunk_tot, rng.gen::<f64>() * pot)
                } else {
                    rng.gen_range(0..p.n)
                }
            })
            .collect();
        let flat: Vec<f64> = ids.iter().flat_map(|&i| p.row(i).iter().copied()).collect();
        let block = Block::new(&flat, trials, d);
        // One read of the data for all candidates; per-chunk potentials in chunk order.
        let per_chunk: Vec<Vec<f64>> = p
            .data
            .par_chunks(CHUNK * d)
            .zip(norms.par_chunks(CHUNK))
            .zip(closest.par_chunks(CHUNK))
            .zip(cand.par_chunks_mut(CHUNK * trials))
            .map(|(((rows, nrm), old), out)| potentials(rows, nrm, old, &block, out))
            .collect();
        let totals: Vec<f64> = (0..trials)
            .map(|t| per_chunk.iter().map(|c| c[t]).sum())
            .collect();
        let mut best = 0;
        for t in 1..trials {
            if totals[t] < totals[best] {
                best = t;
            }
        }
        closest
            .par_chunks_mut(CHUNK)
            .zip(cand.par_chunks(CHUNK * trials))
            .for_each(|(c, all)| {
                for (v, row) in c.iter_mut().zip(all.chunks_exact(trials)) {
                    *v = row[best];
                }
            });
        centers.extend_from_slice(p.row(ids[best]));
        chunk_tot = per_chunk.iter().map(|c| c[best]).collect();
        pot = totals[best];
    }
    centers
}

/// For one chunk: each row's squared distance to every candidate (expanded form, clamped at
/// 0) capped by its current closest distance, into `out` (rows × candidates); returns the
/// per-candidate sums.
fn potentials(
    rows: &[f64],
    norms: &[f64],
    closest: &[f64],
    b: &Block,
    out: &mut [f64],
) -> Vec<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { potentials_avx2(rows, norms, closest, b, out) };
        }
    }
    potentials_body(rows, norms, closest, b, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn potentials_avx2(
    rows: &[f64],
    norms: &[f64],
    closest: &[f64],
    b: &Block,
    out: &mut [f64],
) -> Vec<f64> {
    potentials_body(rows, norms, closest, b, out)
}

#[inline(always)]
fn potentials_body(
    rows: &[f64],
    norms: &[f64],
    closest: &[f64],
    b: &Block,
    out: &mut [f64],
) -> Vec<f64> {
    match b.kp {
        4 => potentials_fixed::<4>(rows, norms, closest, b, out),
        8 => potentials_fixed::<8>(rows, norms, closest, b, out),
        _ => {
            let d = rows.len() / norms.len().max(1);
            let t = b.k;
            let mut tot = vec![0.0; t];
            let mut dist = vec![0.0; b.kp];
            for ((x, &o), row_out) in rows
                .chunks_exact(d.max(1))
                .zip(closest)
                .zip(out.chunks_exact_mut(t))
            {
                distances_into(x, b, &mut dist);
                for j in 0..t {
                    row_out[j] = dist[j].min(o);
                    tot[j] += row_out[j];
                }
            }
            tot
        }
    }
}

#[inline(always)]
fn potentials_fixed<const KP: usize>(
    rows: &[f64],
    norms: &[f64],
    closest: &[f64],
    b: &Block,
    out: &mut [f64],
) -> Vec<f64> {
    let t = b.k;
    let d = rows.len() / norms.len().max(1);
    let mut tot = [0.0f64; KP];
    for (((x, &xx), &o), row_out) in rows
        .chunks_exact(d.max(1))
        .zip(norms)
        .zip(closest)
        .zip(out.chunks_exact_mut(t))
    {
        let sc = scores_fixed::<KP>(x, b);
        let mut v = [0.0f64; KP];
        for j in 0..KP {
            let dist = (xx + sc[j]).max(0.0);
            v[j] = if dist < o { dist } else { o };
            tot[j] += v[j];
        }
        row_out.copy_from_slice(&v[..t]);
    }
    tot[..t].to_vec()
}

/// The row where the running sum of `weights` first exceeds `target`.
fn pick(weights: &[f64], chunk_tot: &[f64], target: f64) -> usize {
    let mut acc = 0.0;
    for (c, &t) in chunk_tot.iter().enumerate() {
        if acc + t > target {
            let start = c * CHUNK;
            for (i, &w) in weights[start..(start + CHUNK).min(weights.len())]
                .iter()
                .enumerate()
            {
                acc += w;
                if acc > target && w > 0.0 {
                    return start + i;
                }
            }
            // Rounding: fall back to the chunk's last positive weight.
            return weights[start..(start + CHUNK).min(weights.len())]
                .iter()
                .rposition(|&w| w > 0.0)
                .map_or(start, |i| start + i);
        }
        acc += t;
    }
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

/// Outcome of Lloyd iterations.
#[derive(Clone, Debug)]
pub struct Lloyd {
    /// `k × d` centroids, row-major.
    pub centroids: Vec<f64>,
    /// Inertia of the final centroids.
    pub inertia: f64,
    /// Lloyd steps taken.
    pub iterations: u64,
}

/// Runs Lloyd steps from `init` (`k × d`) until the labels stop changing, the total squared
/// centroid shift is at most `tol_abs`, or `max_iter` steps.
pub fn lloyd(p: &Points, init: Vec<f64>, k: usize, max_iter: u64, tol_abs: f64) -> Lloyd {
    let d = p.d;
    let mut centroids = init;
    let mut labels = vec![u32::MAX; p.n];
    let mut iterations = 0;
    while iterations < max_iter {
        let part = assign_all(p, &centroids, k, &mut labels);
        iterations += 1;
        if part.changed == 0 {
            // The assignment equals the previous step's: the centroids are already its means.
            break;
        }
        let mut shift = 0.0;
        for j in 0..k {
            let c = part.counts[j];
            if c == 0 {
                continue;
            }
            for i in 0..d {
                let v = part.sums[j * d + i] / c as f64;
                let u = v - centroids[j * d + i];
                shift += u * u;
                centroids[j * d + i] = v;
            }
        }
        if shift <= tol_abs {
            break;
        }
    }
    let inertia = inertia(p, &centroids, k);
    Lloyd {
        centroids,
        inertia,
        iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256Plus;

    fn blobs(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = Xoshiro256Plus::seed_from_u64(seed);
        let centers = [[0.0, 0.0, 1.0], [5.0, 5.0, 0.0], [0.0, 6.0, -2.0]];
        (0..n)
            .flat_map(|i| {
                let c = centers[i % 3];
                (0..3)
                    .map(|j| c[j] + rng.gen_range(-1.0..1.0))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn points_need_a_whole_number_of_rows() {
        assert!(Points::new(&[1.0, 2.0, 3.0], 2).is_none());
        assert!(Points::new(&[1.0, 2.0], 0).is_none());
        assert_eq!(Points::new(&[1.0, 2.0, 3.0, 4.0], 2).unwrap().n, 2);
    }

    #[test]
    fn assignment_matches_a_direct_nearest_search() {
        let data = blobs(10_000, 1);
        let p = Points::new(&data, 3).unwrap();
        // 7 centroids: exercises padding to 8.
        let cents: Vec<f64> = (0..7).flat_map(|j| p.row(j * 13).to_vec()).collect();
        let (labels, sq) = assign(&p, &cents, 7);
        for i in 0..p.n {
            let x = p.row(i);
            let mut best = (0, f64::INFINITY);
            for j in 0..7 {
                let s: f64 = (0..3).map(|t| (x[t] - cents[j * 3 + t]).powi(2)).sum();
                if s < best.1 {
                    best = (j, s);
                }
            }
            assert_eq!(labels[i] as usize, best.0);
            assert!((sq[i] - best.1).abs() <= 1e-12 * (1.0 + best.1));
        }
    }

    #[test]
    fn one_step_gives_the_means_of_the_nearest_rows_for_every_block_width() {
        // k = 3, 5, 13 and 21 exercise the 4-, 8- and 16-wide kernels and the generic one.
        let data = blobs(20_000, 6);
        let p = Points::new(&data, 3).unwrap();
        for k in [3usize, 5, 13, 21] {
            let init: Vec<f64> = (0..k).flat_map(|j| p.row(j * 7).to_vec()).collect();
            let r = lloyd(&p, init.clone(), k, 1, 0.0);
            let mut sums = vec![0.0; k * 3];
            let mut counts = vec![0usize; k];
            for i in 0..p.n {
                let x = p.row(i);
                let mut best = (0, f64::INFINITY);
                for j in 0..k {
                    let s: f64 = (0..3).map(|t| (x[t] - init[j * 3 + t]).powi(2)).sum();
                    if s < best.1 {
                        best = (j, s);
                    }
                }
                counts[best.0] += 1;
                for t in 0..3 {
                    sums[best.0 * 3 + t] += x[t];
                }
            }
            for j in 0..k {
                for t in 0..3 {
                    let want = if counts[j] == 0 {
                        init[j * 3 + t]
                    } else {
                        sums[j * 3 + t] / counts[j] as f64
                    };
                    let got = r.centroids[j * 3 + t];
                    assert!(
                        (got - want).abs() < 1e-9,
                        "k {k}, centroid {j}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn fixed_argmin_takes_the_first_minimum() {
        let d = [3.0, 1.0, 2.0, 1.0, 5.0, 0.5, 9.0, 0.5];
        assert_eq!(argmin_fixed::<8>(&d), (5, 0.5));
        assert_eq!(argmin_fixed::<4>(&[2.0, 2.0, 2.0, 2.0]), (0, 2.0));
        let d = [4.0, 3.0, 2.0, 1.0, 1.0, 1.0e300, 1.0e300, 1.0e300];
        assert_eq!(argmin_fixed::<8>(&d), (3, 1.0));
        assert_eq!(argmin(&d, 5), (3, 1.0));
    }

    #[test]
    fn pick_follows_the_cumulative_weights() {
        let w = vec![0.0, 1.0, 0.0, 2.0];
        let tot = vec![3.0];
        assert_eq!(pick(&w, &tot, 0.5), 1);
        assert_eq!(pick(&w, &tot, 1.5), 3);
        assert_eq!(pick(&w, &tot, 2.999), 3);
        // Rounding past the end still lands on a positive weight.
        assert_eq!(pick(&w, &tot, 3.0), 3);
    }

    #[test]
    fn plus_plus_picks_distinct_rows_and_is_seeded() {
        let data = blobs(3000, 2);
        let p = Points::new(&data, 3).unwrap();
        let a = kmeans_plus_plus(&p, &row_norms(&p), 3, &mut Xoshiro256Plus::seed_from_u64(5));
        let b = kmeans_plus_plus(&p, &row_norms(&p), 3, &mut Xoshiro256Plus::seed_from_u64(5));
        assert_eq!(a, b);
        // One centre per blob: pairwise distances are large.
        for i in 0..3 {
            for j in 0..i {
                let s: f64 = (0..3).map(|t| (a[i * 3 + t] - a[j * 3 + t]).powi(2)).sum();
                assert!(s > 4.0, "{a:?}");
            }
        }
    }

    #[test]
    fn lloyd_converges_to_the_blob_centres() {
        let data = blobs(3000, 3);
        let p = Points::new(&data, 3).unwrap();
        let init = kmeans_plus_plus(&p, &row_norms(&p), 3, &mut Xoshiro256Plus::seed_from_u64(1));
        let r = lloyd(&p, init, 3, 100, 0.0);
        assert!(r.iterations < 100);
        // Mean squared radius of a ±1 uniform cube in 3-D is 1 per point.
        assert!((r.inertia / 3000.0 - 1.0).abs() < 0.05, "{}", r.inertia);
        assert!((r.inertia - inertia(&p, &r.centroids, 3)).abs() < 1e-9 * r.inertia);
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let data = blobs(50_000, 4);
        let p = Points::new(&data, 3).unwrap();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let init = kmeans_plus_plus(
                        &p,
                        &row_norms(&p),
                        4,
                        &mut Xoshiro256Plus::seed_from_u64(9),
                    );
                    lloyd(&p, init, 4, 50, 1e-8)
                })
        };
        let (a, b) = (run(1), run(3));
        assert_eq!(a.centroids, b.centroids);
        assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
        assert_eq!(a.iterations, b.iterations);
    }

    #[test]
    fn an_empty_cluster_keeps_its_centroid() {
        let data = vec![0.0, 0.0, 0.1, 0.0, 0.0, 0.1];
        let p = Points::new(&data, 2).unwrap();
        let init = vec![0.0, 0.0, 100.0, 100.0];
        let r = lloyd(&p, init, 2, 10, 0.0);
        assert_eq!(&r.centroids[2..], &[100.0, 100.0]);
    }
}
