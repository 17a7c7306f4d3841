//! Segment identity across retrains. When a model is retrained, each new segment that is the
//! same group as a segment of the previous version keeps that segment's id and name; a
//! genuinely new group gets an id never used before.
//!
//! The two versions' centroids are compared in the new version's scaled space: every previous
//! centroid is carried over column by column. A numeric column keeps its standard score (its
//! standing in its own population), so a shift of the whole population — every recency
//! growing when the as-of date moves on — does not make every segment look new; when the two
//! versions transform the feature differently, the value goes through original units. A
//! category indicator becomes the level's share among the segment's customers and is
//! re-centred with the new shares. Columns only one version has are left out of the distance. The Hungarian algorithm pairs new and old
//! segments one-to-one at the least total distance; a pair is kept only when the old centroid
//! lies within the new segment's radius (the root mean squared distance of its customers to
//! its centroid). Unpaired or too-distant new segments are new.
//!
//! [`migration`] shows where the same customers land under both versions, each version
//! placing them with the features as of its own date (its `assignments.csv`).

use std::collections::HashMap;

use ndarray::ArrayView2;

use super::assign::hungarian;
use crate::features::spec::{Encoding, FeatureSpec, Transform};
use crate::model::format::{Lineage, Migration, ModelFile, SegmentMatch, SegmentRef};
use crate::model::Segment;
use crate::model::{Model, ModelError};

/// Ids and inherited names for the clusters of a new fit, by position.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub ids: Vec<usize>,
    pub inherited: Vec<Option<String>>,
    pub lineage: Lineage,
}

fn inverse(t: Transform, y: f64) -> f64 {
    match t {
        Transform::None => y,
        Transform::Log1p => y.signum() * y.abs().exp_m1(),
    }
}

/// The previous model's centroids in `spec`'s scaled space: one row per previous centroid,
/// one entry per column of `spec` (None where the previous model has no such column).
pub fn map_centroids(prev: &ModelFile, spec: &FeatureSpec) -> Vec<Vec<Option<f64>>> {
    let mut rows = vec![Vec::with_capacity(spec.n_columns()); prev.centroids.len()];
    for f in &spec.features {
        let old = prev.features.features.iter().enumerate().find(|(_, o)| {
            o.name == f.name && o.is_numeric() == f.is_numeric() && o.source == f.source
        });
        let old_offset = old.map(|(i, _)| {
            prev.features.features[..i]
                .iter()
                .map(|o| o.width())
                .sum::<usize>()
        });
        let w_new = f.weight.sqrt();
        match (&f.encoding, old) {
            (
                Encoding::Numeric {
                    transform,
                    mean,
                    std,
                    ..
                },
                Some((
                    _,
                    o @ crate::features::Feature {
                        encoding:
                            Encoding::Numeric {
                                transform: t_old,
                                mean: m_old,
                                std: s_old,
                                ..
                            },
                        ..
                    },
                )),
            ) => {
                let at = old_offset.unwrap_or(0);
                let w_old = o.weight.sqrt();
                for (row, c) in rows.iter_mut().zip(&prev.centroids) {
                    let z = c[at] / w_old;
                    let v = if t_old == transform {
                        // Standing within its own population: robust to a shift of the
                        // whole population, such as every recency growing with a later as-of.
                        z * w_new
                    } else {
                        let t = transform.apply(inverse(*t_old, z * s_old + m_old));
                        (t - mean) / std * w_new
                    };
                    row.push(v.is_finite().then_some(v));
                }
            }
            (
                Encoding::Categorical {
                    levels,
                    shares,
                    scale,
                    ..
                },
                Some((
                    _,
                    o @ crate::features::Feature {
                        encoding:
                            Encoding::Categorical {
                                levels: l_old,
                                shares: sh_old,
                                scale: sc_old,
                                ..
                            },
                        ..
                    },
                )),
            ) => {
                let at = old_offset.unwrap_or(0);
                let w_old = o.weight.sqrt();
                for (row, c) in rows.iter_mut().zip(&prev.centroids) {
                    for (level, share) in levels.iter().zip(shares) {
                        // Share of the old segment's customers at this level.
                        let p = l_old
                            .iter()
                            .position(|l| l == level)
                            .map_or(0.0, |j| c[at + j] / (sc_old * w_old) + sh_old[j]);
                        let v = (p - share) * scale * w_new;
                        row.push(v.is_finite().then_some(v));
                    }
                }
            }
            _ => {
                for row in rows.iter_mut() {
                    row.extend(std::iter::repeat_n(None, f.width()));
                }
            }
        }
    }
    rows
}

/// Root mean squared distance of each cluster's members to its centroid.
pub fn radii(labels: &[usize], distances: &[f64], k: usize) -> Vec<f64> {
    let mut sum = vec![0.0; k];
    let mut count = vec![0usize; k];
    for (&l, &d) in labels.iter().zip(distances) {
        sum[l] += d * d;
        count[l] += 1;
    }
    sum.iter()
        .zip(&count)
        .map(|(s, &c)| if c > 0 { (s / c as f64).sqrt() } else { 0.0 })
        .collect()
}

/// Matches the clusters of a new fit (`centroids`, by position, in `spec`'s space) to the
/// segments of `prev`.
pub fn match_segments(
    prev: &ModelFile,
    spec: &FeatureSpec,
    centroids: ArrayView2<f64>,
    radii: &[f64],
) -> Identity {
    let k = centroids.nrows();
    let old = map_centroids(prev, spec);
    let shared = old.first().is_some_and(|r| r.iter().any(|v| v.is_some()));
    let dist = |j: usize, i: usize| -> f64 {
        old[i]
            .iter()
            .zip(centroids.row(j))
            .filter_map(|(o, n)| o.map(|o| (o - n) * (o - n)))
            .sum::<f64>()
            .sqrt()
    };
    let mut pairs: Vec<Option<(usize, f64)>> = vec![None; k];
    if shared {
        let k_old = old.len();
        // Rows: new clusters; columns: old segments, plus one "unpaired" column per new
        // cluster when there are more new clusters than old segments.
        let m = k_old.max(k);
        let cost: Vec<Vec<f64>> = (0..k)
            .map(|j| {
                (0..m)
                    .map(|i| if i < k_old { dist(j, i) } else { 1e12 })
                    .collect()
            })
            .collect();
        for (j, i) in hungarian(&cost).into_iter().enumerate() {
            if i < k_old {
                pairs[j] = Some((i, dist(j, i)));
            }
        }
    }
    let mut next = prev
        .segments
        .iter()
        .map(|s| s.id + 1)
        .max()
        .unwrap_or(0)
        .max(prev.lineage.as_ref().map_or(0, |l| l.next_segment_id));
    let mut ids = Vec::with_capacity(k);
    let mut inherited = Vec::with_capacity(k);
    let mut matches = Vec::with_capacity(k);
    for j in 0..k {
        let kept = pairs[j].filter(|&(_, d)| d <= radii[j]);
        let id = match kept {
            Some((i, _)) => prev.segments[i].id,
            None => {
                next = next.saturating_add(1);
                next - 1
            }
        };
        ids.push(id);
        inherited.push(kept.map(|(i, _)| prev.segments[i].name.clone()));
        matches.push(SegmentMatch {
            id,
            previous_id: kept.map(|(i, _)| prev.segments[i].id),
            distance: pairs[j].map(|(_, d)| d),
            radius: radii[j],
        });
    }
    Identity {
        ids,
        inherited,
        lineage: Lineage {
            previous_version: prev.version,
            matches,
            next_segment_id: next,
            renames: Vec::new(),
        },
    }
}

/// A saved version's customers, from its `assignments.csv`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SavedLabels {
    pub ids: Vec<String>,
    /// Segment by position.
    pub labels: Vec<usize>,
    /// Distance to the segment's centroid.
    pub distances: Vec<f64>,
    /// Lifecycle stage (`new`, `active`, `at_risk`, `churned`; empty for a customer without
    /// one), when the version wrote a `lifecycle` column; else empty.
    pub stages: Vec<Option<crate::features::lifecycle::Stage>>,
}

/// Every customer's segment (by position) in a saved version, read from its
/// `assignments.csv`.
pub fn saved_labels(model: &Model) -> Result<SavedLabels, ModelError> {
    let path = model.dir.join("assignments.csv");
    let mut r = csv::Reader::from_path(&path).map_err(|e| ModelError::Malformed {
        path: path.clone(),
        context: e.to_string(),
    })?;
    let bad = |row: usize, what: String| ModelError::Malformed {
        path: path.clone(),
        context: format!("row {row}: {what}"),
    };
    let header = r.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(1, format!("no '{name}' column")))
    };
    // The segment columns come after the features (which could be named alike): take the last.
    let last = |name: &str| {
        header
            .iter()
            .enumerate()
            .filter(|(_, h)| *h == name)
            .map(|(i, _)| i)
            .last()
            .ok_or_else(|| bad(1, format!("no '{name}' column")))
    };
    let (c_id, c_seg, c_dist) = (col("customer_id")?, last("segment_id")?, last("distance")?);
    // `lifecycle` follows the segment columns (a feature could be named so too).
    let c_stage = last("lifecycle").ok().filter(|&c| c > c_dist);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = SavedLabels::default();
    for (i, rec) in r.records().enumerate() {
        let row = i + 2;
        let rec = rec.map_err(|e| bad(row, e.to_string()))?;
        let raw = rec.get(c_seg).unwrap_or_default();
        let pos = raw
            .parse::<usize>()
            .ok()
            .and_then(|id| model.file.segments.iter().position(|s| s.id == id))
            .ok_or_else(|| {
                bad(
                    row,
                    format!("segment_id '{raw}' is not a segment of the model"),
                )
            })?;
        let customer = rec.get(c_id).unwrap_or_default().to_string();
        if let Some(first) = seen.insert(customer, row) {
            return Err(bad(
                row,
                format!("the customer of row {first} appears again (customer_id must be unique)"),
            ));
        }
        let d = rec
            .get(c_dist)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|d| d.is_finite())
            .ok_or_else(|| bad(row, "distance is not a number".into()))?;
        if let Some(c) = c_stage {
            let raw = rec.get(c).unwrap_or_default();
            let stage = crate::features::lifecycle::Stage::ALL
                .into_iter()
                .find(|s| s.as_str() == raw);
            if stage.is_none() && !raw.is_empty() {
                return Err(bad(row, format!("lifecycle '{raw}' is not a stage")));
            }
            out.stages.push(stage);
        }
        out.ids.push(rec.get(c_id).unwrap_or_default().to_string());
        out.labels.push(pos);
        out.distances.push(d);
    }
    Ok(out)
}

/// Each of `ids`' segment (by position) in `saved` (from [`saved_labels`]), None for a
/// customer the saved version did not have; and how many saved customers are not in `ids`.
pub fn join_labels(saved: &SavedLabels, ids: &[String]) -> (Vec<Option<usize>>, u64) {
    let index: HashMap<&str, usize> = saved
        .ids
        .iter()
        .map(String::as_str)
        .zip(saved.labels.iter().copied())
        .collect();
    let mut seen = 0u64;
    let from: Vec<Option<usize>> = ids
        .iter()
        .map(|id| {
            let hit = index.get(id.as_str()).copied();
            seen += u64::from(hit.is_some());
            hit
        })
        .collect();
    (from, (index.len() as u64).saturating_sub(seen))
}

/// Where customers land under two versions: `from` labels (positions in `from_segments`,
/// None = not in the earlier version) against `to` labels; `only_in_from` customers of the
/// earlier version are not in the later one.
pub fn migration(
    from_version: u32,
    from_segments: &[Segment],
    from: &[Option<usize>],
    to_segments: &[Segment],
    to: &[usize],
    only_in_from: u64,
) -> Migration {
    let refs = |s: &[Segment]| -> Vec<SegmentRef> {
        s.iter()
            .map(|s| SegmentRef {
                id: s.id,
                name: s.name.clone(),
            })
            .collect()
    };
    let mut counts = vec![vec![0u64; to_segments.len()]; from_segments.len()];
    let mut new_customers = vec![0u64; to_segments.len()];
    let mut customers = 0u64;
    let mut same = 0u64;
    for (f, &t) in from.iter().zip(to) {
        match *f {
            Some(f) => {
                counts[f][t] += 1;
                customers += 1;
                same += u64::from(from_segments[f].id == to_segments[t].id);
            }
            None => new_customers[t] += 1,
        }
    }
    Migration {
        from_version,
        to_version: 0,
        customers,
        new_customers,
        only_in_from,
        from_segments: refs(from_segments),
        to_segments: refs(to_segments),
        counts,
        same_id_share: if customers > 0 {
            same as f64 / customers as f64
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn golden() -> ModelFile {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/golden/v1/model.json"
        );
        let bytes = std::fs::read(path).expect("golden model");
        Model::from_slice(&bytes, std::path::Path::new(path))
            .expect("golden model loads")
            .file
    }

    fn rows(m: &ModelFile, order: &[usize]) -> Array2<f64> {
        let d = m.centroids[0].len();
        let flat: Vec<f64> = order.iter().flat_map(|&j| m.centroids[j].clone()).collect();
        Array2::from_shape_vec((order.len(), d), flat).expect("shape")
    }

    #[test]
    fn same_spec_maps_centroids_onto_themselves() {
        let m = golden();
        for (mapped, c) in map_centroids(&m, &m.features).iter().zip(&m.centroids) {
            for (a, b) in mapped.iter().zip(c) {
                assert!((a.expect("shared column") - b).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn numeric_columns_keep_their_standard_score_when_the_population_shifts() {
        let old = golden();
        let mut spec = old.features.clone();
        let i = spec.position("recency_days").expect("recency");
        if let Encoding::Numeric { mean, std, .. } = &mut spec.features[i].encoding {
            *mean += 200.0;
            *std *= 2.0;
        }
        let mapped = map_centroids(&old, &spec);
        let col = spec.features[..i].iter().map(|f| f.width()).sum::<usize>();
        assert!((mapped[0][col].expect("shared") - old.centroids[0][col]).abs() < 1e-12);
    }

    #[test]
    fn a_changed_transform_goes_through_original_units() {
        let old = golden();
        let mut spec = old.features.clone();
        let i = spec
            .features
            .iter()
            .position(|f| {
                matches!(
                    f.encoding,
                    Encoding::Numeric {
                        transform: Transform::Log1p,
                        ..
                    }
                )
            })
            .expect("a log1p feature");
        let col = spec.features[..i].iter().map(|f| f.width()).sum::<usize>();
        let (t_mean, t_std, w) = match &old.features.features[i].encoding {
            Encoding::Numeric { mean, std, .. } => (*mean, *std, old.features.features[i].weight),
            _ => unreachable!(),
        };
        spec.features[i].encoding = Encoding::Numeric {
            transform: Transform::None,
            mean: 100.0,
            std: 50.0,
            impute: 0.0,
            min: 0.0,
            max: 1e9,
        };
        let mapped = map_centroids(&old, &spec);
        let c = old.centroids[0][col];
        let original = (c / w.sqrt() * t_std + t_mean).exp_m1();
        let want = (original - 100.0) / 50.0 * w.sqrt();
        assert!((mapped[0][col].expect("shared") - want).abs() < 1e-9);
    }

    #[test]
    fn category_shares_carry_over_and_are_recentred() {
        let old = golden();
        let i = old
            .features
            .features
            .iter()
            .position(|f| !f.is_numeric())
            .expect("a categorical feature");
        let col = old.features.features[..i]
            .iter()
            .map(|f| f.width())
            .sum::<usize>();
        let mut spec = old.features.clone();
        let f = &old.features.features[i];
        let (levels, shares, scale) = match &f.encoding {
            Encoding::Categorical {
                levels,
                shares,
                scale,
                ..
            } => (levels.clone(), shares.clone(), *scale),
            _ => unreachable!(),
        };
        // The new version saw the levels in reverse order with equal shares.
        let n = levels.len();
        spec.features[i].encoding = Encoding::Categorical {
            levels: levels.iter().rev().cloned().collect(),
            shares: vec![1.0 / n as f64; n],
            scale: 2.0,
            impute: levels[0].clone(),
        };
        let mapped = map_centroids(&old, &spec);
        let w = f.weight.sqrt();
        for (new_j, old_j) in (0..n).rev().enumerate() {
            let p = old.centroids[1][col + old_j] / (scale * w) + shares[old_j];
            let want = (p - 1.0 / n as f64) * 2.0 * w;
            assert!((mapped[1][col + new_j].expect("shared") - want).abs() < 1e-12);
        }
    }

    #[test]
    fn features_only_one_version_has_are_left_out() {
        let old = golden();
        let mut spec = old.features.clone();
        spec.features[0].name = "something_else".into();
        let mapped = map_centroids(&old, &spec);
        assert!(mapped
            .iter()
            .all(|r| r[0].is_none() && r[1..].iter().all(Option::is_some)));
    }

    #[test]
    fn a_refit_in_another_order_keeps_every_id_and_name() {
        let old = golden();
        let k = old.k;
        let order: Vec<usize> = (0..k).rev().collect();
        let id = match_segments(
            &old,
            &old.features,
            rows(&old, &order).view(),
            &vec![1.0; k],
        );
        for (pos, &j) in order.iter().enumerate() {
            assert_eq!(id.ids[pos], old.segments[j].id);
            assert_eq!(
                id.inherited[pos].as_deref(),
                Some(old.segments[j].name.as_str())
            );
            assert!(id.lineage.matches[pos].distance.is_some_and(|d| d < 1e-12));
        }
        assert_eq!(id.lineage.next_segment_id, k);
        assert_eq!(id.lineage.previous_version, old.version);
    }

    #[test]
    fn a_distant_group_is_new_and_takes_the_next_unused_id() {
        let mut old = golden();
        let k = old.k;
        // Ids up to 11 were used by earlier versions.
        old.lineage = Some(Lineage {
            previous_version: 0,
            matches: Vec::new(),
            next_segment_id: 12,
            renames: Vec::new(),
        });
        let mut new = rows(&old, &(0..k).collect::<Vec<_>>());
        new.row_mut(1).mapv_inplace(|v| v + 10.0);
        let id = match_segments(&old, &old.features, new.view(), &vec![1.0; k]);
        assert_eq!(id.ids[1], 12, "a retired id is never given out again");
        assert_eq!(id.inherited[1], None);
        assert_eq!(id.lineage.matches[1].previous_id, None);
        assert!(id.lineage.matches[1].distance.is_some_and(|d| d > 1.0));
        assert_eq!(id.lineage.next_segment_id, 13);
        for j in (0..k).filter(|&j| j != 1) {
            assert_eq!(id.ids[j], j);
        }
    }

    #[test]
    fn more_new_segments_than_old_ones_leaves_the_extra_unpaired() {
        let old = golden();
        let k = old.k;
        let mut order: Vec<usize> = (0..k).collect();
        order.push(0);
        let id = match_segments(
            &old,
            &old.features,
            rows(&old, &order).view(),
            &vec![1.0; k + 1],
        );
        let new: Vec<&SegmentMatch> = id
            .lineage
            .matches
            .iter()
            .filter(|m| m.previous_id.is_none())
            .collect();
        assert_eq!(
            new.len(),
            1,
            "one duplicate centroid cannot take the same id twice"
        );
        assert_eq!(new[0].id, k);
        let mut ids = id.ids.clone();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), k + 1);
    }

    #[test]
    fn saved_assignments_must_name_each_customer_once_and_known_segments() {
        let dir = tempfile::tempdir().unwrap();
        let golden = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/golden/v1/model.json"
        );
        std::fs::copy(golden, dir.path().join("model.json")).unwrap();
        let model = Model::load(dir.path()).unwrap();
        let write = |body: &str| std::fs::write(dir.path().join("assignments.csv"), body).unwrap();
        // A feature called "distance" comes before the segment columns: the last one counts.
        write("customer_id,distance,segment_id,segment,distance\na,9,1,x,0.5\nb,9,0,y,0.25\n");
        let ok = saved_labels(&model).unwrap();
        assert_eq!(ok.labels, vec![1, 0]);
        assert_eq!(ok.distances, vec![0.5, 0.25]);
        write("customer_id,segment_id,segment,distance\na,1,x,0.5\nb,0,y,0.2\na,1,x,0.5\n");
        let e = saved_labels(&model).unwrap_err().to_string();
        assert!(
            e.contains("row 4") && e.contains("row 2") && e.contains("assignments.csv"),
            "{e}"
        );
        write("customer_id,segment_id,segment,distance\na,77,x,0.5\n");
        let e = saved_labels(&model).unwrap_err().to_string();
        assert!(e.contains("row 2") && e.contains("'77'"), "{e}");
    }

    #[test]
    fn radii_are_root_mean_squared_distances() {
        let r = radii(&[0, 0, 1], &[3.0, 4.0, 2.0], 3);
        assert!((r[0] - 12.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(r[1], 2.0);
        assert_eq!(r[2], 0.0);
    }

    #[test]
    fn join_counts_customers_missing_on_either_side() {
        let saved = SavedLabels {
            ids: vec!["a".into(), "b".into(), "c".into()],
            labels: vec![0, 1, 1],
            distances: vec![0.0; 3],
            stages: Vec::new(),
        };
        let (from, only_in_from) = join_labels(&saved, &["b".into(), "z".into(), "a".into()]);
        assert_eq!(from, vec![Some(1), None, Some(0)]);
        assert_eq!(only_in_from, 1);
    }

    #[test]
    fn migration_counts_moves_and_same_ids() {
        let old = golden();
        let segs = &old.segments;
        let mut to_segs = segs.clone();
        to_segs[1].id = 9;
        let m = migration(
            3,
            segs,
            &[Some(0), Some(0), Some(1), None],
            &to_segs,
            &[0, 1, 1, 2],
            5,
        );
        assert_eq!(m.counts[0][0], 1);
        assert_eq!(m.counts[0][1], 1);
        assert_eq!(m.counts[1][1], 1);
        assert_eq!(m.customers, 3);
        assert_eq!(m.new_customers[2], 1);
        assert_eq!(m.only_in_from, 5);
        // Only the first customer keeps its id (segment 1 is now id 9).
        assert!((m.same_id_share - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.to_segments[1].id, 9);
    }
}
