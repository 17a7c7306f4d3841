//! Synthetic but realistic customer data for demos, tests and benchmarks: an order-line log
//! (`transactions.csv`: order_id, customer_id, order_date, quantity, unit_price — no amount
//! column, so amount = quantity × unit_price) and a customer table (`customers.csv`: age,
//! gender, annual_income, occupation, region, signup_channel, with a few missing values).
//!
//! Customers follow archetypes with different purchase rhythms (exponential gaps), spend
//! levels (log-normal, with rare Pareto-sized orders for a heavy tail), churn (at-risk and
//! lost customers stop buying) and newcomers who joined in the last two months; about 3% of
//! orders have a later return. Everything is drawn from one seeded generator, so the same
//! seed writes byte-identical files.
//!
//! With behaviour ([`behaviour`]), the order lines also carry a category, channel, country
//! and discount, the dates a time of day, and `events.csv` holds the customers' browsing.

pub mod behaviour;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal, Normal, Pareto};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::data::dates::{days_from_civil, format_day};
use crate::error::{Error, Result};

/// First and last day of the generated period (two years, fixed so output is reproducible).
pub fn period() -> (i32, i32) {
    (days_from_civil(2024, 7, 1), days_from_civil(2026, 6, 30))
}

#[derive(Clone, Copy)]
struct Archetype {
    share: f64,
    /// Start of the customer's first purchase, as a fraction range of the period.
    start: (f64, f64),
    /// Mean days between orders.
    gap: (f64, f64),
    /// Days before the end of the period the customer stops buying (0 = still active).
    churn: (f64, f64),
    /// Maximum orders (0 = unlimited).
    max_orders: u32,
    /// Median unit price and spread.
    price: f64,
    age: f64,
    income: f64,
}

const ARCHETYPES: [Archetype; 7] = [
    // champions
    Archetype {
        share: 0.08,
        start: (0.0, 0.4),
        gap: (12.0, 25.0),
        churn: (0.0, 0.0),
        max_orders: 0,
        price: 38.0,
        age: 41.0,
        income: 82_000.0,
    },
    // loyal
    Archetype {
        share: 0.17,
        start: (0.0, 0.6),
        gap: (25.0, 55.0),
        churn: (0.0, 0.0),
        max_orders: 0,
        price: 26.0,
        age: 45.0,
        income: 64_000.0,
    },
    // regular
    Archetype {
        share: 0.20,
        start: (0.0, 0.8),
        gap: (50.0, 120.0),
        churn: (0.0, 0.0),
        max_orders: 0,
        price: 20.0,
        age: 38.0,
        income: 52_000.0,
    },
    // new
    Archetype {
        share: 0.12,
        start: (0.92, 1.0),
        gap: (20.0, 40.0),
        churn: (0.0, 0.0),
        max_orders: 2,
        price: 22.0,
        age: 29.0,
        income: 45_000.0,
    },
    // at risk: used to buy often, stopped 3-8 months ago
    Archetype {
        share: 0.13,
        start: (0.0, 0.4),
        gap: (18.0, 45.0),
        churn: (90.0, 240.0),
        max_orders: 0,
        price: 30.0,
        age: 43.0,
        income: 70_000.0,
    },
    // occasional
    Archetype {
        share: 0.15,
        start: (0.0, 0.9),
        gap: (120.0, 300.0),
        churn: (0.0, 0.0),
        max_orders: 3,
        price: 15.0,
        age: 35.0,
        income: 40_000.0,
    },
    // lost: one or two orders in the first year
    Archetype {
        share: 0.15,
        start: (0.0, 0.45),
        gap: (30.0, 90.0),
        churn: (360.0, 700.0),
        max_orders: 2,
        price: 16.0,
        age: 37.0,
        income: 42_000.0,
    },
];

const OCCUPATIONS: [&str; 8] = [
    "Professional",
    "Manager",
    "Clerical",
    "Sales",
    "Skilled Manual",
    "Student",
    "Retired",
    "Self-employed",
];
const REGIONS: [(&str, f64); 5] = [
    ("North", 0.22),
    ("South", 0.27),
    ("East", 0.18),
    ("West", 0.23),
    ("Central", 0.10),
];
const CHANNELS: [(&str, f64); 4] = [
    ("web", 0.45),
    ("app", 0.3),
    ("store", 0.17),
    ("referral", 0.08),
];

fn pick<'a>(rng: &mut impl Rng, items: &'a [(&'a str, f64)]) -> &'a str {
    let mut u: f64 = rng.gen();
    for (name, w) in items {
        if u < *w {
            return name;
        }
        u -= w;
    }
    items[items.len() - 1].0
}

struct Order {
    day: i32,
    customer: u32,
    lines: u8,
    price: f32,
    returned: bool,
}

/// Counts written by [`generate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generated {
    pub customers: u64,
    pub orders: u64,
    pub lines: u64,
    /// Interaction-log rows (0 without behaviour).
    pub events: u64,
    /// Customers with events only (0 without behaviour).
    pub browsers: u64,
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 20, f))
        .map_err(|e| Error::io(path, e))
}

/// Writes `DIR/transactions.csv` and `DIR/customers.csv` for `customers` customers.
pub fn generate(customers: u64, seed: u64, out: &Path) -> Result<Generated> {
    generate_with(customers, seed, out, false)
}

/// [`generate`], with `with_behaviour` the behaviour columns and `DIR/events.csv` too.
pub fn generate_with(
    customers: u64,
    seed: u64,
    out: &Path,
    with_behaviour: bool,
) -> Result<Generated> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let cust_path = out.join("customers.csv");
    let mut cw = create(&cust_path)?;
    let io = |e| Error::io(&cust_path, e);
    writeln!(
        cw,
        "customer_id,age,gender,annual_income,occupation,region,signup_channel"
    )
    .map_err(io)?;
    let mut orders: Vec<Order> = Vec::new();
    let unit = LogNormal::new(0.0, 0.45).expect("valid");
    let mut archetypes: Vec<u8> = Vec::with_capacity(customers as usize);
    for c in 0..customers {
        let mut u: f64 = rng.gen();
        let at = ARCHETYPES
            .iter()
            .position(|a| {
                let hit = u < a.share;
                u -= a.share;
                hit
            })
            .unwrap_or(2);
        let arch = &ARCHETYPES[at];
        archetypes.push(at as u8);
        push_orders(&mut rng, arch, c as u32, &unit, &mut orders);
        let row = demographics(&mut rng, arch);
        writeln!(cw, "C{:07},{row}", c + 1).map_err(io)?;
    }
    cw.flush().map_err(io)?;
    drop(cw);
    orders.sort_by_key(|o| (o.day, o.customer));
    let mut styles = with_behaviour.then(|| behaviour::Styles::new(&archetypes, seed));
    let order_styles: Vec<behaviour::OrderStyle> = match styles.as_mut() {
        Some(s) => orders.iter().map(|o| s.order(o.customer)).collect(),
        None => Vec::new(),
    };
    let path = out.join("transactions.csv");
    let extra = styles.as_mut().map(|s| (s, order_styles.as_slice()));
    let lines = write_transactions(&mut rng, &orders, &unit, &path, extra)?;
    let (mut events, mut browsers) = (0, 0);
    if let Some(s) = styles.as_mut() {
        let placed: Vec<behaviour::Placed> = (orders.iter().zip(&order_styles))
            .map(|(o, st)| behaviour::Placed {
                day: o.day,
                minute: st.minute,
                customer: o.customer,
            })
            .collect();
        events = behaviour::write_events(s, &placed, &out.join("events.csv"))?;
        browsers = s.browsers;
    }
    Ok(Generated {
        customers,
        orders: orders.len() as u64,
        lines,
        events,
        browsers,
    })
}

/// One customer's orders, from the archetype's start, gap, churn and price.
fn push_orders(
    rng: &mut Xoshiro256PlusPlus,
    arch: &Archetype,
    customer: u32,
    unit: &LogNormal<f64>,
    orders: &mut Vec<Order>,
) {
    let (first, last) = period();
    let span = f64::from(last - first);
    let start = first + (span * rng.gen_range(arch.start.0..=arch.start.1)) as i32;
    let stop = last - rng.gen_range(arch.churn.0..=arch.churn.1) as i32;
    let gap = Exp::new(1.0 / rng.gen_range(arch.gap.0..=arch.gap.1)).expect("positive rate");
    let price = (arch.price * unit.sample(rng)) as f32;
    let mut day = start.min(last);
    let mut n = 0;
    loop {
        orders.push(Order {
            day,
            customer,
            lines: rng.gen_range(1..=4),
            price,
            returned: rng.gen_bool(0.03),
        });
        n += 1;
        day += 1 + gap.sample(rng) as i32;
        if day > stop.min(last) || (arch.max_orders > 0 && n >= arch.max_orders) {
            break;
        }
    }
}

/// A customer's demographics as CSV fields after the id, with a few missing values.
fn demographics(rng: &mut Xoshiro256PlusPlus, arch: &Archetype) -> String {
    let age = Normal::new(arch.age, 11.0)
        .expect("valid")
        .sample(rng)
        .clamp(18.0, 85.0) as u32;
    let income = (arch.income * LogNormal::new(0.0, 0.35).expect("valid").sample(rng) / 100.0)
        .round()
        * 100.0;
    let gender = if rng.gen_bool(0.02) {
        "Other"
    } else if rng.gen_bool(0.52) {
        "F"
    } else {
        "M"
    };
    let occupation = if age >= 66 && rng.gen_bool(0.7) {
        "Retired"
    } else if age <= 24 && rng.gen_bool(0.5) {
        "Student"
    } else {
        OCCUPATIONS[rng.gen_range(0..OCCUPATIONS.len())]
    };
    let age_s = if rng.gen_bool(0.02) {
        String::new()
    } else {
        age.to_string()
    };
    let income_s = if rng.gen_bool(0.01) {
        String::new()
    } else {
        format!("{income:.0}")
    };
    let region = if rng.gen_bool(0.01) {
        ""
    } else {
        pick(rng, &REGIONS)
    };
    let channel = pick(rng, &CHANNELS);
    format!("{age_s},{gender},{income_s},{occupation},{region},{channel}")
}

/// Writes the order lines (a few orders with a heavy-tailed basket), then the returns as a
/// block of credit notes in date order; returns the number of lines. With `extra`, each
/// line also carries its category, channel, country and discount, the date its time, and a
/// heavy returner's returned order comes back whole.
fn write_transactions(
    rng: &mut Xoshiro256PlusPlus,
    orders: &[Order],
    unit: &LogNormal<f64>,
    path: &Path,
    mut extra: Option<(&mut behaviour::Styles, &[behaviour::OrderStyle])>,
) -> Result<u64> {
    let (_, last) = period();
    let tail = Pareto::new(1.0, 1.6).expect("valid");
    let mut tw = create(path)?;
    let io = |e| Error::io(path, e);
    let head = "order_id,customer_id,order_date,quantity,unit_price";
    match extra {
        Some(_) => writeln!(tw, "{head},category,channel,country,discount"),
        None => writeln!(tw, "{head}"),
    }
    .map_err(io)?;
    let mut lines = 0u64;
    let mut returns: Vec<(i32, String)> = Vec::new();
    for (i, o) in orders.iter().enumerate() {
        let style = extra.as_ref().map(|(_, st)| &st[i]);
        let date = match style {
            Some(st) => behaviour::timestamp(i64::from(o.day) * 86_400 + i64::from(st.minute) * 60),
            None => format_day(o.day),
        };
        let big = if rng.gen_bool(0.02) {
            f64::min(tail.sample(rng), 40.0)
        } else {
            1.0
        };
        for l in 0..o.lines {
            let qty = 1 + (Exp::new(0.8).expect("valid").sample(rng) as u32).min(20);
            let price = (f64::from(o.price) * unit.sample(rng) * big).max(0.5);
            let price = (price * 100.0).round() / 100.0;
            let (order, customer) = (i + 1, o.customer + 1);
            let cols = match (extra.as_mut(), style) {
                (Some((s, _)), Some(st)) => format!(
                    ",{},{},{},{:.2}",
                    s.category(o.customer),
                    st.channel,
                    s.country(o.customer),
                    st.discount
                ),
                _ => String::new(),
            };
            writeln!(
                tw,
                "O{order:08},C{customer:07},{date},{qty},{price:.2}{cols}"
            )
            .map_err(io)?;
            lines += 1;
            let whole = style.is_some_and(|st| st.returned);
            if (o.returned && l == 0) || whole {
                // The plain mode's draws stay the plain mode's.
                let back = o.day
                    + match extra.as_mut() {
                        Some((s, _)) if !(o.returned && l == 0) => s.return_delay(),
                        _ => rng.gen_range(1..=14),
                    };
                if back <= last {
                    let line = format!(
                        "R{order:08},C{customer:07},{},-{qty},{price:.2}{cols}",
                        format_day(back)
                    );
                    returns.push((back, line));
                }
            }
        }
    }
    returns.sort();
    for (_, line) in &returns {
        writeln!(tw, "{line}").map_err(io)?;
        lines += 1;
    }
    tw.flush().map_err(io)?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ga = generate(200, 5, a.path()).unwrap();
        generate(200, 5, b.path()).unwrap();
        for f in ["transactions.csv", "customers.csv"] {
            assert_eq!(
                std::fs::read(a.path().join(f)).unwrap(),
                std::fs::read(b.path().join(f)).unwrap()
            );
        }
        assert_eq!(ga.customers, 200);
        assert!(ga.orders >= 200, "every customer orders at least once");
        let text = std::fs::read_to_string(a.path().join("transactions.csv")).unwrap();
        assert!(text.lines().any(|l| l.contains(",-")), "some returns");
    }

    #[test]
    fn behaviour_adds_columns_and_events_and_keeps_the_plain_lines() {
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let plain = generate(300, 9, a.path()).unwrap();
        let g = generate_with(300, 9, b.path(), true).unwrap();
        generate_with(300, 9, c.path(), true).unwrap();
        for f in ["transactions.csv", "customers.csv", "events.csv"] {
            assert_eq!(
                std::fs::read(b.path().join(f)).unwrap(),
                std::fs::read(c.path().join(f)).unwrap(),
                "{f}: same seed, same bytes"
            );
        }
        assert_eq!((g.orders, g.browsers), (plain.orders, 45));
        let read = |d: &Path| std::fs::read_to_string(d.join("transactions.csv")).unwrap();
        let (p, w) = (read(a.path()), read(b.path()));
        assert!(w.starts_with("order_id,customer_id,order_date,quantity,unit_price,category,channel,country,discount\n"));
        // The plain mode's order lines, with a time and the behaviour columns added.
        let key = |l: &str| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{},{},{},{},{}", f[0], f[1], &f[2][..10], f[3], f[4])
        };
        let orders = |t: &str| -> Vec<String> {
            t.lines()
                .skip(1)
                .filter(|l| l.starts_with('O'))
                .map(key)
                .collect()
        };
        assert_eq!(orders(&p), orders(&w));
        assert!(
            w.lines().filter(|l| l.starts_with('R')).count()
                > p.lines().filter(|l| l.starts_with('R')).count(),
            "heavy returners send more back"
        );
        let events = std::fs::read_to_string(b.path().join("events.csv")).unwrap();
        assert!(events.starts_with("customer_id,timestamp,event,product,category\n"));
        assert_eq!(events.lines().count() as u64, g.events + 1);
        // Browsers (ids after the buyers') only view and cart.
        let browser = |l: &&str| l[1..8].parse::<u32>().is_ok_and(|n| n > 300);
        let theirs: Vec<&str> = events.lines().skip(1).filter(browser).collect();
        assert!(!theirs.is_empty());
        assert!(theirs.iter().all(|l| !l.contains(",purchase,")));
        assert!(!w.contains("C0000301"), "browsers never buy");
    }
}
