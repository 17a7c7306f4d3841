//! The behaviour side of generated data (`custseg generate --behaviour`): per customer a
//! shopping persona, a favourite category, a usual channel and a country; per order a time
//! of day, a channel and a discount; and an interaction log (`events.csv`: customer_id,
//! timestamp, event, product, category) whose browsing follows the personas:
//! - *regular* shoppers view a few products of their category before each order and browse
//!   now and then without buying;
//! - *discount hunters* buy mostly with a discount;
//! - *cart abandoners* put products in the cart in several sessions for every order;
//! - *heavy returners* send back a large part of their orders;
//! - *browsers who never buy*: extra customers (ids after the buyers', 15% as many) who only
//!   view, and rarely cart.
//!
//! Drawn from its own seeded generator, so the transaction lines the plain mode writes are
//! the same lines here, with the behaviour columns added.

use std::io::Write;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{create, period, pick};
use crate::data::dates::format_day;
use crate::error::{Error, Result};

/// Product categories, favourites drawn by these weights.
pub const CATEGORIES: [(&str, f64); 10] = [
    ("Wine", 0.16),
    ("Grocery", 0.18),
    ("Electronics", 0.12),
    ("Fashion", 0.14),
    ("Home", 0.1),
    ("Beauty", 0.08),
    ("Toys", 0.07),
    ("Books", 0.06),
    ("Garden", 0.05),
    ("Sports", 0.04),
];
/// Sales channels.
pub const CHANNELS: [(&str, f64); 4] =
    [("Web", 0.45), ("App", 0.3), ("Store", 0.2), ("Phone", 0.05)];
const COUNTRIES: [(&str, f64); 7] = [
    ("United Kingdom", 0.6),
    ("Germany", 0.1),
    ("France", 0.1),
    ("Spain", 0.06),
    ("Netherlands", 0.05),
    ("Ireland", 0.05),
    ("Italy", 0.04),
];

/// Per RFM archetype (champions, loyal, regular, new, at risk, occasional, lost), the
/// category and channel three in four of its customers favour.
const SIGNATURES: [(&str, Option<&str>); 7] = [
    ("Wine", Some("Store")),
    ("Grocery", Some("Web")),
    ("Fashion", Some("Web")),
    ("Electronics", Some("App")),
    ("Home", Some("Phone")),
    ("Books", Some("Web")),
    ("Toys", Some("App")),
];

/// How a customer shops and browses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persona {
    Regular,
    DiscountHunter,
    CartAbandoner,
    HeavyReturner,
}

/// One customer's behaviour.
#[derive(Clone, Copy, Debug)]
pub struct Person {
    pub persona: Persona,
    pub category: &'static str,
    pub channel: &'static str,
    pub country: &'static str,
}

/// The behaviour of every customer and of their orders.
pub struct Styles {
    rng: Xoshiro256PlusPlus,
    pub people: Vec<Person>,
    /// Browsers who never buy (after the buyers).
    pub browsers: u64,
}

/// What an order line carries besides the plain columns.
pub struct OrderStyle {
    /// Minute of the day the order was placed.
    pub minute: u32,
    pub channel: &'static str,
    /// Discount rate of the order (0: none).
    pub discount: f64,
    /// The order is sent back whole (heavy returners).
    pub returned: bool,
}

impl Styles {
    /// Personas and preferences for the buyers (`archetypes`: each one's index into the
    /// RFM archetypes, whose signature category and channel three in four favour) and 15% as
    /// many browsers.
    pub fn new(archetypes: &[u8], seed: u64) -> Styles {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xB5E4_A11D);
        let customers = archetypes.len() as u64;
        let browsers = customers * 15 / 100;
        let people = (0..customers + browsers)
            .map(|c| {
                let arch = archetypes.get(c as usize).map(|&a| usize::from(a));
                let signature = arch.and_then(|a| SIGNATURES.get(a)).copied();
                let u: f64 = rng.gen();
                let persona = if u < 0.12 {
                    Persona::DiscountHunter
                } else if u < 0.22 {
                    Persona::CartAbandoner
                } else if u < 0.30 {
                    Persona::HeavyReturner
                } else {
                    Persona::Regular
                };
                let (category, channel) = match signature {
                    Some((cat, ch)) if rng.gen_bool(0.75) => (cat, ch.unwrap_or("Web")),
                    _ => (pick(&mut rng, &CATEGORIES), pick(&mut rng, &CHANNELS)),
                };
                Person {
                    persona,
                    category,
                    channel,
                    country: pick(&mut rng, &COUNTRIES),
                }
            })
            .collect();
        Styles {
            rng,
            people,
            browsers,
        }
    }

    /// An order's time, channel (the usual one 80% of the time), discount and return.
    pub fn order(&mut self, customer: u32) -> OrderStyle {
        let p = self.people[customer as usize];
        let rng = &mut self.rng;
        let minute = (rng.gen_range(7.0f64..23.5) * 60.0) as u32;
        let channel = if rng.gen_bool(0.8) {
            p.channel
        } else {
            pick(rng, &CHANNELS)
        };
        let discounted = rng.gen_bool(match p.persona {
            Persona::DiscountHunter => 0.8,
            _ => 0.1,
        });
        OrderStyle {
            minute,
            channel,
            discount: if discounted {
                [0.1, 0.15, 0.2][rng.gen_range(0..3)]
            } else {
                0.0
            },
            returned: p.persona == Persona::HeavyReturner && rng.gen_bool(0.4),
        }
    }

    /// A line's category: the favourite 70% of the time.
    pub fn category(&mut self, customer: u32) -> &'static str {
        let fav = self.people[customer as usize].category;
        if self.rng.gen_bool(0.7) {
            fav
        } else {
            pick(&mut self.rng, &CATEGORIES)
        }
    }

    /// Days until a heavy returner sends an order back.
    pub fn return_delay(&mut self) -> i32 {
        self.rng.gen_range(1..=14)
    }

    pub fn country(&self, customer: u32) -> &'static str {
        self.people[customer as usize].country
    }
}

/// `2024-07-01 14:05:09` for seconds since 1970.
pub fn timestamp(at: i64) -> String {
    let s = at.rem_euclid(86_400);
    let day = at.div_euclid(86_400) as i32;
    format!(
        "{} {:02}:{:02}:{:02}",
        format_day(day),
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// An order placed on `day` at `minute` by `customer` (0-based).
pub struct Placed {
    pub day: i32,
    pub minute: u32,
    pub customer: u32,
}

/// Writes `path` (`events.csv`): for every order a session of views (and a cart) before
/// it, extra browsing by persona, and the browsers' sessions; returns the rows written.
pub fn write_events(styles: &mut Styles, orders: &[Placed], path: &Path) -> Result<u64> {
    let mut rows: Vec<(i64, u32, String)> = Vec::new();
    for o in orders {
        let p = styles.people[o.customer as usize];
        let start = i64::from(o.day) * 86_400 + i64::from(o.minute) * 60;
        let views = styles.rng.gen_range(2..=8);
        let t = session(styles, o.customer, start - 60 * 40, views, true, &mut rows);
        // The purchase itself, after the session's cart.
        rows.push((
            t.max(start),
            o.customer,
            format!("purchase,,{}", p.category),
        ));
        let extra = match p.persona {
            Persona::CartAbandoner => styles.rng.gen_range(3..=6),
            _ => u32::from(styles.rng.gen_bool(0.5)),
        };
        for _ in 0..extra {
            let back = styles.rng.gen_range(1..=20) * 86_400 + styles.rng.gen_range(0..40_000);
            let carts = p.persona == Persona::CartAbandoner;
            let views = styles.rng.gen_range(1..=5);
            session(styles, o.customer, start - back, views, carts, &mut rows);
        }
    }
    let buyers = styles.people.len() as u64 - styles.browsers;
    let (first, last) = period();
    for b in buyers..styles.people.len() as u64 {
        let sessions = styles.rng.gen_range(1..=12);
        for _ in 0..sessions {
            let day = styles.rng.gen_range(first..=last);
            let at = i64::from(day) * 86_400 + styles.rng.gen_range(25_000..80_000);
            let views = styles.rng.gen_range(1..=10);
            let cart = styles.rng.gen_bool(0.15);
            session(styles, b as u32, at, views, cart, &mut rows);
        }
    }
    rows.sort_by_key(|a| (a.0, a.1));
    let mut w = create(path)?;
    let io = |e| Error::io(path, e);
    writeln!(w, "customer_id,timestamp,event,product,category").map_err(io)?;
    for (at, c, rest) in &rows {
        writeln!(w, "C{:07},{},{rest}", c + 1, timestamp(*at)).map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(rows.len() as u64)
}

/// One session of `views` product views from `at`, a minute or two apart, mostly in the
/// customer's category, ending with a cart when `cart`; returns the time after it.
fn session(
    styles: &mut Styles,
    customer: u32,
    at: i64,
    views: u32,
    cart: bool,
    rows: &mut Vec<(i64, u32, String)>,
) -> i64 {
    let mut t = at;
    let mut last = String::new();
    for _ in 0..views {
        let category = styles.category(customer);
        let product = format!("P{:04}", styles.rng.gen_range(0..400));
        rows.push((t, customer, format!("view,{product},{category}")));
        last = format!("{product},{category}");
        t += styles.rng.gen_range(20..240);
    }
    if cart {
        rows.push((t, customer, format!("cart,{last}")));
        t += styles.rng.gen_range(20..300);
    }
    t
}
