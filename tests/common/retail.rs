//! A seeded transaction log shaped like the UCI Online Retail data (InvoiceNo, StockCode,
//! Description, Quantity, InvoiceDate `M/D/YYYY H:MM`, UnitPrice, CustomerID as float text
//! `17850.0`, Country), with what makes that log hard: invoices with several lines of equal
//! quantity and price but different products, exact duplicate lines, cancellations
//! (`C536379`, negative quantity), blank customer ids, customers with only returns, and a few
//! `NA` order ids. [`Retail::json_transactions`] gives a customer's lines as HTTP transactions
//! (every other column as an attribute under its CSV header name, numbers as JSON numbers,
//! dates in ISO 8601).

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::{json, Map, Value};

/// The CSV header.
pub const HEADER: [&str; 8] = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
];

/// One line of the log, as written.
#[derive(Clone, Debug, PartialEq)]
pub struct RetailLine {
    pub invoice: String,
    pub stock_code: String,
    pub description: String,
    pub quantity: i64,
    /// (year, month, day, hour, minute).
    pub at: (i32, u32, u32, u32, u32),
    pub unit_price: &'static str,
    /// Float text such as `17850.0`, or empty.
    pub customer: String,
    pub country: &'static str,
}

/// The generated log.
pub struct Retail {
    pub lines: Vec<RetailLine>,
    /// Customers (normalized ids) whose every line is a cancellation.
    pub only_returns: Vec<String>,
}

const PRICES: [&str; 8] = [
    "2.55", "3.39", "0.85", "1.25", "12.75", "4.95", "1.65", "0.42",
];
const COUNTRIES: [&str; 4] = ["United Kingdom", "France", "Germany", "EIRE"];
const PRODUCTS: [(&str, &str); 8] = [
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER"),
    ("71053", "WHITE METAL LANTERN"),
    ("84406B", "CREAM CUPID HEARTS COAT HANGER"),
    ("22633", "HAND WARMER UNION JACK"),
    ("84879", "ASSORTED COLOUR BIRD ORNAMENT"),
    ("22752", "SET 7 BABUSHKA NESTING BOXES"),
    ("21730", "GLASS STAR FROSTED T-LIGHT HOLDER"),
    ("POST", "POSTAGE"),
];

impl RetailLine {
    fn csv(&self) -> String {
        let (y, mo, d, h, mi) = self.at;
        format!(
            "{},{},{},{},{mo}/{d}/{y} {h}:{mi:02},{},{},{}\n",
            self.invoice,
            self.stock_code,
            self.description,
            self.quantity,
            self.unit_price,
            self.customer,
            self.country
        )
    }

    /// The line as an HTTP transaction.
    pub fn json(&self) -> Value {
        let (y, mo, d, h, mi) = self.at;
        let num_or_text = |s: &str| match s.parse::<f64>() {
            Ok(x) => json!(x),
            Err(_) => json!(s),
        };
        let mut o = Map::new();
        o.insert("order_id".into(), num_or_text(&self.invoice));
        o.insert("StockCode".into(), num_or_text(&self.stock_code));
        o.insert("Description".into(), json!(self.description));
        o.insert("quantity".into(), json!(self.quantity));
        o.insert(
            "date".into(),
            json!(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00")),
        );
        o.insert("unit_price".into(), num_or_text(self.unit_price));
        o.insert("Country".into(), json!(self.country));
        Value::Object(o)
    }
}

impl Retail {
    /// `customers` customers (ids from 12346), seeded.
    pub fn generate(customers: usize, seed: u64) -> Retail {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut lines = Vec::new();
        let mut only_returns = Vec::new();
        let mut invoice = 536_365u32;
        for c in 0..customers {
            let id = 12_346 + c as u32;
            let customer = format!("{id}.0");
            let country = COUNTRIES[rng.gen_range(0..COUNTRIES.len())];
            let returns_only = c % 60 == 7;
            let invoices = if returns_only {
                1
            } else {
                rng.gen_range(1..=6)
            };
            for _ in 0..invoices {
                invoice += 1;
                let at = (
                    if rng.gen_bool(0.3) { 2010 } else { 2011 },
                    rng.gen_range(1..=11),
                    rng.gen_range(1..=28),
                    rng.gen_range(8..=19),
                    rng.gen_range(0..60),
                );
                let at = if at.0 == 2010 {
                    (2010, 12, at.2, at.3, at.4)
                } else {
                    at
                };
                let n = rng.gen_range(1..=4);
                let quantity = rng.gen_range(1..=24);
                let price = PRICES[rng.gen_range(0..PRICES.len())];
                let mut order = Vec::new();
                for j in 0..n {
                    let (code, desc) = PRODUCTS[(c + j * 3) % PRODUCTS.len()];
                    // Half the invoices repeat the first line's quantity and price.
                    let same = j > 0 && invoice.is_multiple_of(2);
                    order.push(RetailLine {
                        invoice: if c % 45 == 11 && j == 0 {
                            "NA".into()
                        } else {
                            invoice.to_string()
                        },
                        stock_code: code.into(),
                        description: desc.into(),
                        quantity: if same {
                            quantity
                        } else {
                            rng.gen_range(1..=24)
                        },
                        at,
                        unit_price: if same {
                            price
                        } else {
                            PRICES[rng.gen_range(0..PRICES.len())]
                        },
                        customer: customer.clone(),
                        country,
                    });
                }
                if returns_only {
                    for l in &mut order {
                        l.invoice = format!("C{invoice}");
                        l.quantity = -l.quantity;
                    }
                } else if rng.gen_bool(0.15) {
                    // A cancellation of the first line, days later in the same month.
                    let mut cancel = order[0].clone();
                    invoice += 1;
                    cancel.invoice = format!("C{invoice}");
                    cancel.quantity = -rng.gen_range(1..=cancel.quantity);
                    cancel.at.2 = (cancel.at.2 + 1).min(28);
                    order.push(cancel);
                }
                if rng.gen_bool(0.1) {
                    // An exact duplicate line, as the real log has.
                    order.push(order[order.len() - 1].clone());
                }
                if rng.gen_bool(0.05) {
                    // A line without a customer.
                    let mut anon = order[0].clone();
                    anon.customer = String::new();
                    order.push(anon);
                }
                lines.extend(order);
            }
            if returns_only {
                only_returns.push(id.to_string());
            }
        }
        Retail {
            lines,
            only_returns,
        }
    }

    /// [`Retail::generate`] with the lines the real log has that are no purchases: postage
    /// (`POST`), manual adjustments (`M`), `BANK CHARGES` and `AMAZONFEE` lines on a fifth of
    /// the invoices, free lines (unit price `0`), and customers whose only lines are postage.
    pub fn generate_with_fees(customers: usize, seed: u64) -> Retail {
        const FEES: [(&str, &str, &str); 4] = [
            ("M", "Manual", "18.00"),
            ("BANK CHARGES", "Bank Charges", "15.00"),
            ("AMAZONFEE", "AMAZON FEE", "5575.28"),
            ("POST", "POSTAGE", "18.00"),
        ];
        let mut log = Retail::generate(customers, seed);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xfee);
        let mut lines = Vec::with_capacity(log.lines.len() * 5 / 4);
        let mut last_invoice = String::new();
        for l in std::mem::take(&mut log.lines) {
            let first = l.invoice != last_invoice;
            last_invoice.clone_from(&l.invoice);
            if first && !l.invoice.starts_with('C') && rng.gen_bool(0.2) {
                let (code, desc, price) = FEES[rng.gen_range(0..FEES.len())];
                lines.push(RetailLine {
                    stock_code: code.into(),
                    description: desc.into(),
                    quantity: 1,
                    unit_price: price,
                    ..l.clone()
                });
            }
            let free = !l.invoice.starts_with('C') && rng.gen_bool(0.03);
            lines.push(RetailLine {
                unit_price: if free { "0" } else { l.unit_price },
                ..l
            });
        }
        // Customers after the last one, with postage only.
        for c in 0..3u32 {
            let id = 12_346 + customers as u32 + c;
            lines.push(RetailLine {
                invoice: (581_000 + c).to_string(),
                stock_code: "POST".into(),
                description: "POSTAGE".into(),
                quantity: 2,
                at: (2011, 6, 10 + c, 12, 0),
                unit_price: "18.00",
                customer: format!("{id}.0"),
                country: "France",
            });
        }
        log.lines = lines;
        log
    }

    /// Writes the log to `dir/name`; returns the file.
    pub fn write_to(&self, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.csv()).unwrap();
        path
    }

    /// Generates a log and writes it to `dir/name`; returns the log and the file.
    pub fn write(
        dir: &std::path::Path,
        name: &str,
        customers: usize,
        seed: u64,
    ) -> (Retail, std::path::PathBuf) {
        let log = Retail::generate(customers, seed);
        let path = dir.join(name);
        std::fs::write(&path, log.csv()).unwrap();
        (log, path)
    }

    /// The log as CSV text.
    pub fn csv(&self) -> String {
        let mut s = HEADER.join(",");
        s.push('\n');
        for l in &self.lines {
            s.push_str(&l.csv());
        }
        s
    }

    /// Each customer's lines (normalized id → lines in file order), blank ids left out.
    pub fn by_customer(&self) -> BTreeMap<String, Vec<&RetailLine>> {
        let mut by: BTreeMap<String, Vec<&RetailLine>> = BTreeMap::new();
        for l in self.lines.iter().filter(|l| !l.customer.is_empty()) {
            let id = l.customer.trim_end_matches(".0").to_string();
            by.entry(id).or_default().push(l);
        }
        by
    }

    /// A customer's lines as HTTP transactions.
    pub fn json_transactions(lines: &[&RetailLine]) -> Vec<Value> {
        lines.iter().map(|l| l.json()).collect()
    }
}
