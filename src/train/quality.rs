//! Clustering quality: silhouette (on a seeded sample, as scikit-learn's `sample_size`),
//! Calinski–Harabasz and Davies–Bouldin (on all rows, with the clusters' true means).

use ndarray::ArrayView2;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;

use crate::geometry::sq_dist;

fn row(x: &ArrayView2<f64>, i: usize) -> Vec<f64> {
    x.row(i).to_vec()
}

/// Seeded sample of `m` row indices out of `n` (all rows when `m >= n`), in ascending order.
pub fn sample_rows(n: usize, m: usize, seed: u64) -> Vec<usize> {
    if m >= n {
        return (0..n).collect();
    }
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let mut idx = sample(&mut rng, n, m).into_vec();
    idx.sort_unstable();
    idx
}

/// Mean silhouette over a seeded sample of at most `max_sample` rows. A point alone in its
/// cluster (within the sample) scores 0, as in scikit-learn.
pub fn silhouette(
    x: ArrayView2<f64>,
    labels: &[usize],
    k: usize,
    max_sample: usize,
    seed: u64,
) -> f64 {
    silhouettes(x, &[(labels, k)], max_sample, seed)[0]
}

/// [`silhouette`] of each labelling `(labels, k)` of the same rows, on the same sample: each
/// distance between two sampled rows is computed once for all of them.
pub fn silhouettes(
    x: ArrayView2<f64>,
    labellings: &[(&[usize], usize)],
    max_sample: usize,
    seed: u64,
) -> Vec<f64> {
    let idx = sample_rows(x.nrows(), max_sample, seed);
    let pts: Vec<Vec<f64>> = idx.iter().map(|&i| row(&x, i)).collect();
    let labs: Vec<Vec<usize>> = labellings
        .iter()
        .map(|(labels, _)| idx.iter().map(|&i| labels[i]).collect())
        .collect();
    let m = pts.len();
    let counts: Vec<Vec<usize>> = labellings
        .iter()
        .zip(&labs)
        .map(|(&(_, k), lab)| {
            let mut counts = vec![0usize; k];
            for &l in lab {
                counts[l] += 1;
            }
            counts
        })
        .collect();
    // Rows in parallel; each row's distances are summed per cluster in column order and the
    // rows' contributions in row order, so the result does not depend on the number of
    // threads.
    let contributions: Vec<Vec<f64>> = (0..m)
        .into_par_iter()
        .map_init(
            || {
                counts
                    .iter()
                    .map(|c| vec![0.0; c.len()])
                    .collect::<Vec<_>>()
            },
            |sums, i| {
                sums.iter_mut().flatten().for_each(|s| *s = 0.0);
                for j in (0..m).filter(|&j| j != i) {
                    let d = sq_dist(&pts[i], &pts[j]).sqrt();
                    for (s, lab) in sums.iter_mut().zip(&labs) {
                        s[lab[j]] += d;
                    }
                }
                sums.iter()
                    .zip(&labs)
                    .zip(&counts)
                    .map(|((sums, lab), counts)| row_silhouette(sums, counts, lab[i]))
                    .collect()
            },
        )
        .collect();
    (0..labellings.len())
        .map(|l| contributions.iter().map(|c| c[l]).sum::<f64>() / m as f64)
        .collect()
}

/// One row's silhouette from its summed distances to each cluster and the cluster sizes.
fn row_silhouette(sums: &[f64], counts: &[usize], own: usize) -> f64 {
    if counts[own] <= 1 {
        return 0.0;
    }
    let a = sums[own] / (counts[own] - 1) as f64;
    let b = (0..counts.len())
        .filter(|&c| c != own && counts[c] > 0)
        .map(|c| sums[c] / counts[c] as f64)
        .fold(f64::INFINITY, f64::min);
    if b.is_finite() && a.max(b) > 0.0 {
        (b - a) / a.max(b)
    } else {
        0.0
    }
}

/// Per-cluster sizes and true means.
pub fn cluster_means(
    x: ArrayView2<f64>,
    labels: &[usize],
    k: usize,
) -> (Vec<usize>, Vec<Vec<f64>>) {
    let d = x.ncols();
    let mut counts = vec![0usize; k];
    let mut means = vec![vec![0.0; d]; k];
    for (r, &l) in x.rows().into_iter().zip(labels) {
        counts[l] += 1;
        for (m, v) in means[l].iter_mut().zip(r.iter()) {
            *m += v;
        }
    }
    for (m, &c) in means.iter_mut().zip(&counts) {
        if c > 0 {
            m.iter_mut().for_each(|v| *v /= c as f64);
        }
    }
    (counts, means)
}

/// Calinski–Harabasz index (higher is better); 0 when undefined.
pub fn calinski_harabasz(x: ArrayView2<f64>, labels: &[usize], k: usize) -> f64 {
    let n = x.nrows();
    let (counts, means) = cluster_means(x, labels, k);
    let used = counts.iter().filter(|&&c| c > 0).count();
    if used < 2 || n <= used {
        return 0.0;
    }
    let d = x.ncols();
    let mut overall = vec![0.0; d];
    for r in x.rows() {
        for (o, v) in overall.iter_mut().zip(r.iter()) {
            *o += v / n as f64;
        }
    }
    let between: f64 = (0..k)
        .map(|j| counts[j] as f64 * sq_dist(&means[j], &overall))
        .sum();
    let within: f64 = x
        .rows()
        .into_iter()
        .zip(labels)
        .map(|(r, &l)| {
            r.iter()
                .zip(&means[l])
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        })
        .sum();
    if within == 0.0 {
        return f64::MAX;
    }
    (between / (used - 1) as f64) / (within / (n - used) as f64)
}

/// Davies–Bouldin index (lower is better); 0 when undefined.
pub fn davies_bouldin(x: ArrayView2<f64>, labels: &[usize], k: usize) -> f64 {
    let (counts, means) = cluster_means(x, labels, k);
    let mut scatter = vec![0.0; k];
    for (r, &l) in x.rows().into_iter().zip(labels) {
        scatter[l] += r
            .iter()
            .zip(&means[l])
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
    }
    let used: Vec<usize> = (0..k).filter(|&j| counts[j] > 0).collect();
    if used.len() < 2 {
        return 0.0;
    }
    for &j in &used {
        scatter[j] /= counts[j] as f64;
    }
    let mut total = 0.0;
    for &i in &used {
        let worst = used
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| {
                let sep = sq_dist(&means[i], &means[j]).sqrt();
                if sep == 0.0 {
                    f64::INFINITY
                } else {
                    (scatter[i] + scatter[j]) / sep
                }
            })
            .fold(0.0, f64::max);
        total += worst;
    }
    total / used.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::array;

    // Two tight pairs on a line: {0, 1} and {10, 11}.
    fn line() -> (ndarray::Array2<f64>, Vec<usize>) {
        (array![[0.0], [1.0], [10.0], [11.0]], vec![0, 0, 1, 1])
    }

    #[test]
    fn silhouette_by_hand() {
        let (x, l) = line();
        // Point 0: a = 1, b = (10 + 11)/2 = 10.5, s = 9.5/10.5; point 1: a = 1, b = 9.5, s = 8.5/9.5.
        let expected = 2.0 * (9.5 / 10.5 + 8.5 / 9.5) / 4.0;
        assert_abs_diff_eq!(
            silhouette(x.view(), &l, 2, 100, 0),
            expected,
            epsilon = 1e-12
        );
    }

    #[test]
    fn silhouettes_of_several_labellings_are_each_one_alone() {
        // 300 points in 3 dimensions, labelled three ways; sampled (200 of 300) as alone.
        let x = ndarray::Array2::from_shape_fn((300, 3), |(i, j)| {
            ((i * 7 + j * 13) % 17) as f64 + (i % 5) as f64 * 0.1
        });
        let two: Vec<usize> = (0..300).map(|i| usize::from(i % 17 > 8)).collect();
        let three: Vec<usize> = (0..300).map(|i| i % 3).collect();
        let four: Vec<usize> = (0..300).map(|i| (i * 7 % 17) % 4).collect();
        let each = [(&two[..], 2), (&three[..], 3), (&four[..], 4)];
        let together = silhouettes(x.view(), &each, 200, 9);
        let idx = sample_rows(300, 200, 9);
        for ((labels, k), s) in each.iter().zip(&together) {
            let alone = silhouette(x.view(), labels, *k, 200, 9);
            assert_eq!(s.to_bits(), alone.to_bits(), "k = {k}");
            // The definition, point by point over the sample.
            let dist = |i: usize, j: usize| {
                (0..3)
                    .map(|c| (x[[i, c]] - x[[j, c]]).powi(2))
                    .sum::<f64>()
                    .sqrt()
            };
            let mean_to = |i: usize, c: usize| {
                let others: Vec<f64> = (idx.iter())
                    .filter(|&&j| j != i && labels[j] == c)
                    .map(|&j| dist(i, j))
                    .collect();
                (!others.is_empty()).then(|| others.iter().sum::<f64>() / others.len() as f64)
            };
            let by_definition = idx
                .iter()
                .map(|&i| {
                    let Some(a) = mean_to(i, labels[i]) else {
                        return 0.0;
                    };
                    let b = (0..*k)
                        .filter(|&c| c != labels[i])
                        .filter_map(|c| mean_to(i, c))
                        .fold(f64::INFINITY, f64::min);
                    (b - a) / a.max(b)
                })
                .sum::<f64>()
                / idx.len() as f64;
            assert_abs_diff_eq!(*s, by_definition, epsilon = 1e-12);
        }
    }

    #[test]
    fn calinski_harabasz_by_hand() {
        let (x, l) = line();
        // Means 0.5 and 10.5, overall 5.5: B = 2·25 + 2·25 = 100; W = 4·0.25 = 1.
        // CH = (100/1) / (1/2) = 200.
        assert_abs_diff_eq!(calinski_harabasz(x.view(), &l, 2), 200.0, epsilon = 1e-9);
    }

    #[test]
    fn davies_bouldin_by_hand() {
        let (x, l) = line();
        // Scatter 0.5 each, separation 10: DB = (0.5 + 0.5)/10 = 0.1.
        assert_abs_diff_eq!(davies_bouldin(x.view(), &l, 2), 0.1, epsilon = 1e-12);
    }

    #[test]
    fn sample_is_seeded_and_sorted() {
        let a = sample_rows(1000, 10, 5);
        assert_eq!(a, sample_rows(1000, 10, 5));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample_rows(5, 10, 5), vec![0, 1, 2, 3, 4]);
    }
}
