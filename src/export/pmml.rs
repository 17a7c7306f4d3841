//! PMML 4.4 export of a model version (`custseg export --format pmml`).
//!
//! The document is a `ClusteringModel` (`centerBased`) whose `LocalTransformations` rebuild
//! the model's scaled columns from the raw features with PMML built-in functions only, in the
//! same order of floating-point operations as [`Feature::encode`]:
//!
//! - numeric: `MiningField@missingValueReplacement` = the training median, then
//!   `(t − mean) / std · √weight` with `t = x`, or for `log1p` features
//!   `t = if(x < 0, −1, 1) · ln1p(abs(x))` (custseg's `sign(x)·ln(1+|x|)`; `ln1p` is new in
//!   PMML 4.4 and, unlike `ln(1 + x)`, has no rounding of `1 + x`);
//! - categorical: missing → the training mode; `trimBlanks` (custseg trims labels); then per
//!   level `(NormDiscrete − share) · scale · √weight`. Values outside the vocabulary are
//!   `invalidValueTreatment="asIs"`, so every indicator is 0 before centring: the unknown
//!   level, as in custseg.
//!
//! Distance is `squaredEuclidean` with `absDiff` over every scaled column (unit weights), one
//! `Cluster` per centroid in centroid order (`id` = segment id, `name` = segment name), so
//! the nearest cluster, first on ties, is the segment custseg assigns. Numbers are written
//! with Rust's shortest round-trip formatting, so every constant parses back to the same f64.
//! These constructs were checked with pypmml (PMML4S) by `scripts/verify_pmml.sh`.
//!
//! [`Feature::encode`]: crate::features::Feature::encode

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::features::{Encoding, FeatureSpec, Transform};
use crate::model::ModelFile;

/// The PMML namespace written.
pub const PMML_NAMESPACE: &str = "http://www.dmg.org/PMML-4_4";

/// Why a model cannot be exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A statistic or centroid value is NaN or infinite (PMML has no such numbers).
    #[error("{what} is not a finite number ({value})")]
    NotFinite { what: String, value: f64 },
    /// Dimensions or counts that do not agree.
    #[error("inconsistent model: {reason}")]
    Inconsistent { reason: String },
    /// A name or category level with a character XML 1.0 cannot carry.
    #[error("{what} contains the character U+{code:04X}, which XML 1.0 cannot represent")]
    BadCharacter { what: String, code: u32 },
}

/// Writes `model` as a PMML 4.4 document (UTF-8 text).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let json = std::fs::read("tests/data/golden/v1/model.json")?;
/// # let model = custseg::Model::from_slice(&json, std::path::Path::new("model.json"))?;
/// let xml = custseg::export::pmml(&model.file)?;
/// assert!(xml.contains(r#"<ClusteringModel"#));
/// assert_eq!(xml.matches("<Cluster ").count(), model.file.centroids.len());
/// # Ok(()) }
/// ```
pub fn pmml(model: &ModelFile) -> Result<String, ExportError> {
    check(model)?;
    let spec = &model.features;
    let names = FieldNames::of(spec);
    let mut x = Xml::default();
    x.line(0, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    x.line(
        0,
        &format!(r#"<PMML xmlns="{PMML_NAMESPACE}" version="4.4">"#),
    );
    header(&mut x, model);
    data_dictionary(&mut x, spec);
    x.line(
        1,
        &format!(
            r#"<ClusteringModel modelName="{}" functionName="clustering" modelClass="centerBased" numberOfClusters="{}" algorithmName="k-means">"#,
            attr(&model.name),
            model.centroids.len()
        ),
    );

    mining_schema(&mut x, spec);
    output(&mut x, &names);
    local_transformations(&mut x, spec, &names);
    clusters(&mut x, model, &names.scaled);
    x.line(1, "</ClusteringModel>");
    x.line(0, "</PMML>");
    Ok(x.0)
}

/// The names of the derived and output fields, unique against the inputs' names: a trimmed
/// copy per categorical feature, one per scaled column, and the four outputs.
struct FieldNames {
    trimmed: Vec<Option<String>>,
    scaled: Vec<String>,
    out_id: String,
    out_name: String,
    out_sq: String,
    out_dist: String,
}

impl FieldNames {
    fn of(spec: &FeatureSpec) -> FieldNames {
        let mut names = Names::default();
        for f in &spec.features {
            names.taken.insert(f.name.clone());
        }
        let trimmed = spec
            .features
            .iter()
            .map(|f| match f.encoding {
                Encoding::Categorical { .. } => Some(names.unique(format!("trimmed:{}", f.name))),
                Encoding::Numeric { .. } => None,
            })
            .collect();
        let scaled = spec
            .column_names()
            .iter()
            .map(|c| names.unique(format!("scaled:{c}")))
            .collect();
        FieldNames {
            trimmed,
            scaled,
            out_id: names.unique("segment_id".into()),
            out_name: names.unique("segment".into()),
            out_sq: names.unique("squared_distance".into()),
            out_dist: names.unique("distance".into()),
        }
    }
}

/// Data dictionary: the raw inputs.
fn data_dictionary(x: &mut Xml, spec: &FeatureSpec) {
    x.line(
        1,
        &format!(
            r#"<DataDictionary numberOfFields="{}">"#,
            spec.features.len()
        ),
    );
    for f in &spec.features {
        match &f.encoding {
            Encoding::Numeric { .. } => x.line(
                2,
                &format!(
                    r#"<DataField name="{}" optype="continuous" dataType="double"/>"#,
                    attr(&f.name)
                ),
            ),
            Encoding::Categorical { levels, .. } => {
                x.line(
                    2,
                    &format!(
                        r#"<DataField name="{}" optype="categorical" dataType="string">"#,
                        attr(&f.name)
                    ),
                );
                for l in levels {
                    x.line(3, &format!(r#"<Value value="{}"/>"#, attr(l)));
                }
                x.line(2, "</DataField>");
            }
        }
    }
    x.line(1, "</DataDictionary>");
}

/// Mining schema: imputation and the treatment of values outside the vocabulary.
fn mining_schema(x: &mut Xml, spec: &FeatureSpec) {
    x.line(2, "<MiningSchema>");
    for f in &spec.features {
        let (replacement, treatment, invalid) = match &f.encoding {
            Encoding::Numeric { impute, .. } => (real(*impute), "asMedian", "returnInvalid"),
            Encoding::Categorical { impute, .. } => (attr(impute), "asMode", "asIs"),
        };
        x.line(
            3,
            &format!(
                r#"<MiningField name="{}" usageType="active" missingValueReplacement="{replacement}" missingValueTreatment="{treatment}" invalidValueTreatment="{invalid}"/>"#,
                attr(&f.name)
            ),
        );
    }
    x.line(2, "</MiningSchema>");
}

/// Output: segment id and name, squared distance (the measure) and distance (as custseg).
fn output(x: &mut Xml, names: &FieldNames) {
    let (out_id, out_name, out_sq, out_dist) = (
        &names.out_id,
        &names.out_name,
        &names.out_sq,
        &names.out_dist,
    );
    x.line(2, "<Output>");
    x.line(
        3,
        &format!(
            r#"<OutputField name="{}" optype="categorical" dataType="string" feature="predictedValue"/>"#,
            attr(out_id)
        ),
    );
    x.line(
        3,
        &format!(
            r#"<OutputField name="{}" optype="categorical" dataType="string" feature="predictedDisplayValue"/>"#,
            attr(out_name)
        ),
    );
    x.line(
        3,
        &format!(
            r#"<OutputField name="{}" optype="continuous" dataType="double" feature="entityAffinity"/>"#,
            attr(out_sq)
        ),
    );
    x.line(
        3,
        &format!(
            r#"<OutputField name="{}" optype="continuous" dataType="double" feature="transformedValue">"#,
            attr(out_dist)
        ),
    );
    x.line(
        4,
        &format!(
            r#"<Apply function="sqrt"><FieldRef field="{}"/></Apply>"#,
            attr(out_sq)
        ),
    );
    x.line(3, "</OutputField>");
    x.line(2, "</Output>");
}

/// Local transformations: the scaled columns.
fn local_transformations(x: &mut Xml, spec: &FeatureSpec, names: &FieldNames) {
    let (trimmed, scaled) = (&names.trimmed, &names.scaled);
    x.line(2, "<LocalTransformations>");
    let mut col = 0;
    for (f, trim) in spec.features.iter().zip(trimmed) {
        let w = f.weight.sqrt();
        match &f.encoding {
            Encoding::Numeric {
                transform,
                mean,
                std,
                ..
            } => {
                let input = format!(r#"<FieldRef field="{}"/>"#, attr(&f.name));
                let t = match transform {
                    Transform::None => input,
                    Transform::Log1p => format!(
                        r#"<Apply function="*"><Apply function="if"><Apply function="lessThan">{input}{}</Apply>{}{}</Apply><Apply function="ln1p"><Apply function="abs">{input}</Apply></Apply></Apply>"#,
                        constant(0.0),
                        constant(-1.0),
                        constant(1.0),
                    ),
                };
                let expr = format!(
                    r#"<Apply function="*"><Apply function="/"><Apply function="-">{t}{}</Apply>{}</Apply>{}</Apply>"#,
                    constant(*mean),
                    constant(*std),
                    constant(w)
                );
                derived(x, &scaled[col], &expr);
                col += 1;
            }
            Encoding::Categorical {
                levels,
                shares,
                scale,
                ..
            } => {
                let trim = trim.as_deref().unwrap_or_default();
                x.line(
                    3,
                    &format!(
                        r#"<DerivedField name="{}" optype="categorical" dataType="string">"#,
                        attr(trim)
                    ),
                );
                x.line(
                    4,
                    &format!(
                        r#"<Apply function="trimBlanks"><FieldRef field="{}"/></Apply>"#,
                        attr(&f.name)
                    ),
                );
                x.line(3, "</DerivedField>");
                for (level, share) in levels.iter().zip(shares) {
                    let expr = format!(
                        r#"<Apply function="*"><Apply function="*"><Apply function="-"><NormDiscrete field="{}" value="{}"/>{}</Apply>{}</Apply>{}</Apply>"#,
                        attr(trim),
                        attr(level),
                        constant(*share),
                        constant(*scale),
                        constant(w)
                    );
                    derived(x, &scaled[col], &expr);
                    col += 1;
                }
            }
        }
    }
    x.line(2, "</LocalTransformations>");
}

/// The comparison measure, the clustering fields and one cluster per segment.
fn clusters(x: &mut Xml, model: &ModelFile, scaled: &[String]) {
    x.line(
        2,
        r#"<ComparisonMeasure kind="distance" compareFunction="absDiff">"#,
    );
    x.line(3, "<squaredEuclidean/>");
    x.line(2, "</ComparisonMeasure>");
    for s in scaled {
        x.line(
            2,
            &format!(
                r#"<ClusteringField field="{}" compareFunction="absDiff"/>"#,
                attr(s)
            ),
        );
    }
    for (c, seg) in model.centroids.iter().zip(&model.segments) {
        x.line(
            2,
            &format!(
                r#"<Cluster id="{}" name="{}" size="{}">"#,
                seg.id,
                attr(&seg.name),
                seg.size
            ),
        );
        x.line(
            3,
            &format!(
                r#"<Extension extender="custseg" name="tier" value="{}"/>"#,
                seg.tier
            ),
        );
        let values: Vec<String> = c.iter().map(|v| real(*v)).collect();
        x.line(
            3,
            &format!(
                r#"<Array n="{}" type="real">{}</Array>"#,
                c.len(),
                values.join(" ")
            ),
        );
        x.line(2, "</Cluster>");
    }
}

fn header(x: &mut Xml, model: &ModelFile) {
    x.line(
        1,
        &format!(
            r#"<Header description="custseg customer segments: model {} v{}">"#,
            attr(&model.name),
            model.version
        ),
    );
    let mut ext = |name: &str, value: &str| {
        x.line(
            2,
            &format!(
                r#"<Extension extender="custseg" name="{name}" value="{}"/>"#,
                attr(value)
            ),
        )
    };
    ext("model_name", &model.name);
    ext("model_version", &model.version.to_string());
    ext("created_at", &model.created_at);
    ext("trained_with", &model.custseg_version);
    ext("format_version", &model.format_version.to_string());
    if let Some(as_of) = &model.as_of {
        ext("as_of", as_of);
    }
    x.line(
        2,
        &format!(
            r#"<Application name="custseg" version="{}"/>"#,
            attr(env!("CARGO_PKG_VERSION"))
        ),
    );
    let mut note = format!(
        "custseg model {} v{} (created {}). Inputs are the model's features in original units; \
         a missing value takes the training median (numeric) or mode (categorical), a category \
         outside the vocabulary is the unknown level.",
        model.name, model.version, model.created_at
    );
    if model.features.uses_transactions() {
        let as_of = model.as_of.as_deref().unwrap_or("the scoring date");
        let _ = write!(
            note,
            " RFM features (recency_days, frequency, monetary, avg_order_value, tenure_days) \
             must be computed as custseg does, as of the scoring date (training: {as_of})."
        );
    }
    x.line(2, &format!("<Annotation>{}</Annotation>", text(&note)));
    x.line(
        2,
        &format!("<Timestamp>{}</Timestamp>", text(&model.created_at)),
    );
    x.line(1, "</Header>");
}

fn derived(x: &mut Xml, name: &str, expr: &str) {
    x.line(
        3,
        &format!(
            r#"<DerivedField name="{}" optype="continuous" dataType="double">"#,
            attr(name)
        ),
    );
    x.line(4, expr);
    x.line(3, "</DerivedField>");
}

fn constant(v: f64) -> String {
    format!(r#"<Constant dataType="double">{}</Constant>"#, real(v))
}

/// Checks everything the document will carry: finite numbers, matching dimensions, and
/// text XML can represent.
fn check(model: &ModelFile) -> Result<(), ExportError> {
    check_numbers(model)?;
    for s in &model.segments {
        xml_chars(&format!("segment {} name", s.id), &s.name)?;
    }
    xml_chars("model name", &model.name)?;
    xml_chars("created_at", &model.created_at)?;
    for f in &model.features.features {
        let name = &f.name;
        xml_chars(&format!("feature name {name:?}"), name)?;
        if let Encoding::Categorical { levels, impute, .. } = &f.encoding {
            for l in levels {
                xml_chars(&format!("feature {name} level {l:?}"), l)?;
            }
            xml_chars(&format!("feature {name} impute value"), impute)?;
        }
    }
    Ok(())
}

/// Checks what every export relies on: finite statistics and centroids, matching
/// dimensions, unique segment ids, no zero standard deviation.
pub(super) fn check_numbers(model: &ModelFile) -> Result<(), ExportError> {
    let finite = |what: &dyn Fn() -> String, v: f64| {
        if v.is_finite() {
            Ok(())
        } else {
            Err(ExportError::NotFinite {
                what: what(),
                value: v,
            })
        }
    };
    let inconsistent = |reason: String| Err(ExportError::Inconsistent { reason });
    let spec = &model.features;
    if spec.features.is_empty() {
        return inconsistent("no features".into());
    }
    if model.centroids.is_empty() || model.centroids.len() != model.segments.len() {
        return inconsistent(format!(
            "{} centroids but {} segments",
            model.centroids.len(),
            model.segments.len()
        ));
    }
    let d = spec.n_columns();
    for (j, c) in model.centroids.iter().enumerate() {
        if c.len() != d {
            return inconsistent(format!(
                "centroid {j} has {} values, the features need {d}",
                c.len()
            ));
        }
        for (i, v) in c.iter().enumerate() {
            finite(&|| format!("centroid {j} value {i}"), *v)?;
        }
    }
    let mut ids = HashSet::new();
    for s in &model.segments {
        if !ids.insert(s.id) {
            return inconsistent(format!("segment id {} appears twice", s.id));
        }
    }
    for f in &spec.features {
        let name = &f.name;
        finite(&|| format!("feature {name}: weight"), f.weight)?;
        finite(&|| format!("feature {name}: √weight"), f.weight.sqrt())?;
        match &f.encoding {
            Encoding::Numeric {
                mean, std, impute, ..
            } => {
                finite(&|| format!("feature {name}: mean"), *mean)?;
                finite(&|| format!("feature {name}: std"), *std)?;
                finite(&|| format!("feature {name}: impute"), *impute)?;
                if *std == 0.0 {
                    return inconsistent(format!("feature {name}: std is 0"));
                }
            }
            Encoding::Categorical {
                levels,
                shares,
                scale,
                ..
            } => {
                if levels.is_empty() || levels.len() != shares.len() {
                    return inconsistent(format!(
                        "feature {name}: {} levels but {} shares",
                        levels.len(),
                        shares.len()
                    ));
                }
                finite(&|| format!("feature {name}: scale"), *scale)?;
                for (l, s) in levels.iter().zip(shares) {
                    finite(&|| format!("feature {name}: share of {l:?}"), *s)?;
                }
            }
        }
    }
    Ok(())
}

/// Rejects characters XML 1.0 cannot carry, even as character references.
fn xml_chars(what: &str, s: &str) -> Result<(), ExportError> {
    match s.chars().find(|&c| {
        let u = u32::from(c);
        (u < 0x20 && !matches!(c, '\t' | '\n' | '\r')) || u == 0xFFFE || u == 0xFFFF
    }) {
        Some(c) => Err(ExportError::BadCharacter {
            what: what.into(),
            code: u32::from(c),
        }),
        None => Ok(()),
    }
}

/// A double as the shortest text that parses back to the same value (`xs:double` syntax):
/// plain decimals for ordinary magnitudes, exponent notation for very large or small ones.
pub fn real(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || (1e-5..1e16).contains(&a) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// Escapes text content.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value (double-quoted). Tabs and line ends become character
/// references, so attribute-value normalization does not turn them into spaces.
pub fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Default)]
struct Xml(String);

impl Xml {
    fn line(&mut self, depth: usize, s: &str) {
        for _ in 0..depth {
            self.0.push_str("  ");
        }
        self.0.push_str(s);
        self.0.push('\n');
    }
}

/// Field names, kept unique across inputs, derived fields and outputs.
#[derive(Default)]
struct Names {
    taken: HashSet<String>,
}

impl Names {
    fn unique(&mut self, wanted: String) -> String {
        let mut name = wanted.clone();
        let mut n = 1;
        while self.taken.contains(&name) {
            n += 1;
            name = format!("{wanted}#{n}");
        }
        self.taken.insert(name.clone());
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Encoding;
    use crate::model::Model;

    fn golden() -> ModelFile {
        let json = include_bytes!("../../tests/data/golden/v1/model.json");
        Model::from_slice(json, std::path::Path::new("golden/v1/model.json"))
            .expect("golden model loads")
            .file
    }

    #[test]
    fn text_and_attributes_are_escaped() {
        assert_eq!(text("a<b & c>d"), "a&lt;b &amp; c&gt;d");
        assert_eq!(
            attr(r#"Tom's "best" <&> tab	end"#),
            "Tom&apos;s &quot;best&quot; &lt;&amp;&gt; tab&#9;end"
        );
        assert_eq!(attr("línea\nnueva"), "línea&#10;nueva");
    }

    #[test]
    fn numbers_round_trip_exactly() {
        let values = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1.0 / 3.0,
            std::f64::consts::PI,
            12656.619999999995,
            1e-7,
            -2.5e-300,
            1e16,
            123456789012345680.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ];
        for v in values {
            let s = real(v);
            assert!(!s.contains(' ') && !s.is_empty(), "{s}");
            let back: f64 = s.parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v} -> {s}");
        }
        assert_eq!(real(0.25), "0.25");
        assert_eq!(real(1e-7), "1e-7");
        assert_eq!(real(2.5e20), "2.5e20");
    }

    #[test]
    fn one_cluster_per_centroid_with_segment_ids_and_names() {
        let mut m = golden();
        // Segment ids need not be the centroid index (they are kept across retrains).
        let ids = [7, 2, 11, 0];
        for (s, id) in m.segments.iter_mut().zip(ids) {
            s.id = id;
        }
        m.segments[1].name = r#"Loyal & "true" <fans>"#.into();
        let xml = pmml(&m).unwrap();
        assert!(xml.contains(r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">"#));
        assert!(xml.contains(r#"numberOfClusters="4""#));
        let clusters: Vec<&str> = xml
            .lines()
            .filter(|l| l.trim_start().starts_with("<Cluster "))
            .collect();
        assert_eq!(clusters.len(), m.centroids.len());
        for ((line, s), id) in clusters.iter().zip(&m.segments).zip(ids) {
            assert!(line.contains(&format!(r#"id="{id}""#)), "{line}");
            assert!(
                line.contains(&format!(r#"name="{}""#, attr(&s.name))),
                "{line}"
            );
        }
        assert!(clusters[1].contains(r#"name="Loyal &amp; &quot;true&quot; &lt;fans&gt;""#));
        // Every centroid value is in its cluster's array, exactly.
        let arrays: Vec<Vec<f64>> = xml
            .lines()
            .filter_map(|l| l.trim().strip_prefix(r#"<Array n=""#))
            .map(|l| {
                let body = &l[l.find('>').unwrap() + 1..l.find("</Array>").unwrap()];
                body.split(' ').map(|v| v.parse().unwrap()).collect()
            })
            .collect();
        assert_eq!(arrays, m.centroids);
        // One clustering field and one scaled derived field per column.
        let n = m.features.n_columns();
        assert_eq!(xml.matches("<ClusteringField ").count(), n);
        assert_eq!(xml.matches(r#"<DerivedField name="scaled:"#).count(), n);
        assert!(xml.contains(&format!(r#"<Array n="{n}" type="real">"#)));
    }

    #[test]
    fn categorical_levels_are_values_and_indicators() {
        let mut m = golden();
        let Some(gender) = m.features.features.iter_mut().find(|f| f.name == "gender") else {
            panic!("golden model has gender")
        };
        let Encoding::Categorical { levels, impute, .. } = &mut gender.encoding else {
            panic!("gender is categorical")
        };
        levels[2] = r#"<Other & 'x'>"#.into();
        *impute = "F".into();
        let xml = pmml(&m).unwrap();
        assert!(xml.contains(r#"<DataField name="gender" optype="categorical" dataType="string">"#));
        for v in ["F", "M", "&lt;Other &amp; &apos;x&apos;&gt;"] {
            assert!(xml.contains(&format!(r#"<Value value="{v}"/>"#)), "{v}");
            assert!(
                xml.contains(&format!(
                    r#"<NormDiscrete field="trimmed:gender" value="{v}"/>"#
                )),
                "{v}"
            );
        }
        assert!(xml.contains(
            r#"<MiningField name="gender" usageType="active" missingValueReplacement="F" missingValueTreatment="asMode" invalidValueTreatment="asIs"/>"#
        ));
        assert!(xml.contains(r#"<DerivedField name="scaled:gender=M""#));
        assert!(xml.contains(r#"<DataField name="age" optype="continuous" dataType="double"/>"#));
    }

    #[test]
    fn non_finite_values_are_rejected() {
        let mut m = golden();
        m.centroids[2][3] = f64::NAN;
        let e = pmml(&m).unwrap_err();
        assert!(
            matches!(e, ExportError::NotFinite { .. }) && e.to_string().contains("centroid 2"),
            "{e}"
        );
        let mut m = golden();
        if let Encoding::Numeric { mean, .. } = &mut m.features.features[0].encoding {
            *mean = f64::INFINITY;
        }
        let e = pmml(&m).unwrap_err();
        assert!(e.to_string().contains("recency_days: mean"), "{e}");
        let mut m = golden();
        m.features.features[1].weight = -1.0;
        assert!(matches!(
            pmml(&m).unwrap_err(),
            ExportError::NotFinite { .. }
        ));
    }

    #[test]
    fn inconsistent_models_and_unrepresentable_text_are_rejected() {
        let mut m = golden();
        m.centroids[0].pop();
        assert!(matches!(
            pmml(&m).unwrap_err(),
            ExportError::Inconsistent { .. }
        ));
        let mut m = golden();
        m.segments[0].name = "bell\u{7}".into();
        assert!(matches!(
            pmml(&m).unwrap_err(),
            ExportError::BadCharacter { code: 7, .. }
        ));
        let mut m = golden();
        m.segments[1].id = m.segments[0].id;
        assert!(pmml(&m).unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn field_names_never_collide() {
        let mut m = golden();
        m.features.features[0].name = "segment".into();
        m.features.features[1].name = "scaled:monetary".into();
        let xml = pmml(&m).unwrap();
        assert!(xml.contains(r#"<OutputField name="segment#2""#));
        assert!(xml.contains(r#"<DerivedField name="scaled:monetary#2""#));
    }

    #[test]
    fn log1p_features_use_sign_and_ln1p() {
        let m = golden();
        let xml = pmml(&m).unwrap();
        let log1p = m
            .features
            .features
            .iter()
            .filter(|f| {
                matches!(
                    f.encoding,
                    Encoding::Numeric {
                        transform: Transform::Log1p,
                        ..
                    }
                )
            })
            .count();
        assert!(log1p > 0);
        assert_eq!(xml.matches(r#"<Apply function="ln1p">"#).count(), log1p);
    }
}
