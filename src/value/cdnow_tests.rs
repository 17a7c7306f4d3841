//! CDNOW against lifetimes 0.11.3: the figures `scripts/verify_value.sh` measured, kept here so
//! that `cargo test` checks them without Python.
//!
//! The calibration summary of `data/public/CDNOW_master.txt` to 1997-09-30 is folded as
//! lifetimes' `summary_data_from_transaction_data(freq="D")` does it (23,570 customers; days).

use std::collections::BTreeMap;

use approx::assert_relative_eq;

use super::{BgNbd, FitOptions, GammaGamma, ParetoNbd, Rfm};

/// lifetimes' BetaGeoFitter on the summary (days).
const LIFETIMES_BG: BgNbd = BgNbd {
    r: 0.251_624_011_424_103_84,
    alpha: 33.522_616_192_289_17,
    a: 0.723_433_035_728_761_9,
    b: 2.161_086_981_372_162_7,
};
/// lifetimes' ParetoNBDFitter, refitted from its default answer with tol = 1e-10 (days). Its
/// default Nelder-Mead (tol = 1e-4) stops at r = 0.59743, α = 81.1011, s = 0.52219,
/// β = 61.7917, within 4.3e-5 of this.
const LIFETIMES_PN: ParetoNbd = ParetoNbd {
    r: 0.597_419_995_708_520_8,
    alpha: 81.099_607_640_035_56,
    s: 0.522_185_663_157_575_1,
    beta: 61.794_318_599_272_66,
};
/// lifetimes' GammaGammaFitter on the 9,450 repeat buyers with m > 0.
const LIFETIMES_GG: GammaGamma = GammaGamma {
    p: 6.275_358_592_836_126,
    q: 3.624_450_210_391_062,
    v: 14.983_688_961_951_383,
};

/// (x, t_x, T) → lifetimes at its own parameters: BG/NBD P(alive), BG/NBD expected purchases
/// over 273 days, Pareto/NBD P(alive), Pareto/NBD expected purchases over 273 days. The first
/// customer of each of a spread of frequencies, and one who bought on the last day.
const CUSTOMERS: [((f64, f64, f64), [f64; 4]); 11] = [
    (
        (0.0, 0.0, 272.0),
        [
            1.0,
            0.200_089_792_154_446_28,
            0.290_351_377_824_717_7,
            0.113_430_326_892_661_47,
        ],
    ),
    (
        (1.0, 132.0, 272.0),
        [
            0.581_082_387_853_136_5,
            0.557_456_337_772_276_1,
            0.659_730_409_468_066_7,
            0.689_145_869_113_569_9,
        ],
    ),
    (
        (2.0, 90.0, 271.0),
        [
            0.364_236_190_848_382_5,
            0.617_391_793_705_826_4,
            0.385_006_024_625_399_85,
            0.655_528_132_609_690_8,
        ],
    ),
    (
        (3.0, 183.0, 272.0),
        [
            0.652_465_841_396_033_6,
            1.571_615_385_108_266_8,
            0.760_529_142_957_192_1,
            1.789_091_460_865_449_6,
        ],
    ),
    (
        (5.0, 260.0, 270.0),
        [
            0.877_187_674_679_208_8,
            3.376_984_529_276_721_8,
            0.982_811_912_293_311_4,
            3.614_919_756_111_174,
        ],
    ),
    (
        (8.0, 248.0, 272.0),
        [
            0.865_720_464_557_289_7,
            5.143_572_027_713_881,
            0.948_123_549_766_535_6,
            5.330_385_452_388_162,
        ],
    ),
    (
        (13.0, 220.0, 272.0),
        [
            0.622_900_902_892_725_4,
            5.884_353_810_099_126,
            0.748_954_619_260_919_3,
            6.659_437_600_413_388,
        ],
    ),
    (
        (21.0, 235.0, 249.0),
        [
            0.912_296_567_709_349_5,
            14.621_801_602_668_988,
            0.961_153_113_701_932_6,
            14.378_083_102_669_9,
        ],
    ),
    (
        (34.0, 232.0, 249.0),
        [
            0.852_969_028_956_746_6,
            21.921_453_036_882_088,
            0.921_132_538_490_455_1,
            22.073_559_719_054_83,
        ],
    ),
    (
        (80.0, 243.0, 244.0),
        [
            0.988_231_488_060_559_4,
            60.053_263_852_119_54,
            0.998_060_524_145_946_1,
            56.443_714_835_290_905,
        ],
    ),
    (
        (27.0, 270.0, 270.0),
        [
            0.974_954_299_559_055_9,
            18.854_730_289_113_007,
            1.0,
            18.134_635_783_907_8,
        ],
    ),
];

/// Repeat buyers in the summary (lifetimes: `(frequency > 0).sum()`).
const REPEAT_BUYERS: usize = 9_451;

fn days_from_civil(yyyymmdd: i64) -> i64 {
    let (y, m, d) = (yyyymmdd / 10_000, (yyyymmdd / 100) % 100, yyyymmdd % 100);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// x = distinct purchase days after the first, t_x = last − first, T = as-of − first (days),
/// m = mean of the repeat days' summed amounts; purchases after the as-of are ignored.
fn cdnow_calibration() -> Vec<Rfm> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/public/CDNOW_master.txt");
    let text = std::fs::read_to_string(path).expect("data/public/CDNOW_master.txt");
    let end = days_from_civil(19_970_930);
    let mut days: BTreeMap<u32, BTreeMap<i64, f64>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (id, date, amount): (u32, i64, f64) = (
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[3].parse().unwrap(),
        );
        let day = days_from_civil(date);
        if day <= end {
            *days.entry(id).or_default().entry(day).or_default() += amount;
        }
    }
    days.values()
        .map(|d| {
            let first = *d.keys().next().unwrap();
            let last = *d.keys().last().unwrap();
            let x = (d.len() - 1) as f64;
            let m = if x > 0.0 {
                d.values().skip(1).sum::<f64>() / x
            } else {
                0.0
            };
            Rfm::new(x, (last - first) as f64, (end - first) as f64, m)
        })
        .collect()
}

#[test]
fn cdnow_calibration_summary_has_the_lifetimes_shape() {
    let data = cdnow_calibration();
    assert_eq!(data.len(), 23_570);
    let repeat = data.iter().filter(|c| c.x > 0.0).count();
    assert_eq!(repeat, REPEAT_BUYERS);
    assert_eq!(data.iter().map(|c| c.t).fold(0.0, f64::max), 272.0);
}

#[test]
fn cdnow_fits_match_lifetimes() {
    let data = cdnow_calibration();
    let options = FitOptions::default();
    let bg = BgNbd::fit(&data, &options).unwrap();
    let pn = ParetoNbd::fit(&data, &options).unwrap();
    let gg = GammaGamma::fit(&data, &options).unwrap();
    assert!(bg.convergence.converged && pn.convergence.converged && gg.convergence.converged);
    let pairs = [
        (bg.params.r, LIFETIMES_BG.r),
        (bg.params.alpha, LIFETIMES_BG.alpha),
        (bg.params.a, LIFETIMES_BG.a),
        (bg.params.b, LIFETIMES_BG.b),
        (pn.params.r, LIFETIMES_PN.r),
        (pn.params.alpha, LIFETIMES_PN.alpha),
        (pn.params.s, LIFETIMES_PN.s),
        (pn.params.beta, LIFETIMES_PN.beta),
        (gg.params.p, LIFETIMES_GG.p),
        (gg.params.q, LIFETIMES_GG.q),
        (gg.params.v, LIFETIMES_GG.v),
    ];
    for (ours, theirs) in pairs {
        assert_relative_eq!(ours, theirs, max_relative = 0.01);
    }
    // End to end: our fit's predictions against lifetimes' at its own fit.
    for ((x, t_x, t), want) in CUSTOMERS {
        let c = Rfm::new(x, t_x, t, 0.0);
        assert_relative_eq!(bg.params.p_alive(&c), want[0], max_relative = 1e-4);
        assert_relative_eq!(
            bg.params.conditional_expected_purchases(273.0, &c),
            want[1],
            max_relative = 1e-4
        );
    }
}

#[test]
fn cdnow_predictions_match_lifetimes_at_its_parameters() {
    for ((x, t_x, t), want) in CUSTOMERS {
        let c = Rfm::new(x, t_x, t, 0.0);
        assert_relative_eq!(LIFETIMES_BG.p_alive(&c), want[0], max_relative = 1e-10);
        assert_relative_eq!(
            LIFETIMES_BG.conditional_expected_purchases(273.0, &c),
            want[1],
            max_relative = 1e-10
        );
        assert_relative_eq!(LIFETIMES_PN.p_alive(&c), want[2], max_relative = 1e-10);
        assert_relative_eq!(
            LIFETIMES_PN.conditional_expected_purchases(273.0, &c),
            want[3],
            max_relative = 1e-10
        );
    }
}
