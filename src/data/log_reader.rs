//! The transaction-log reader's engine: delimited files are read in blocks of whole records
//! ([`super::blocks`]) and each block's chunks are parsed in parallel with the row rules that
//! need nothing but the line ([`rows::check`]); the rules that need the log so far (the day
//! of a date whose day/month order a later row proves, exact duplicates, the customer index)
//! then run in parallel over 64 partitions of the customers, each partition taking its rows
//! in file order. Parquet files feed the same two steps from a sequential row cursor.
//!
//! Nothing depends on the number of threads: chunks and partitions are merged in file order,
//! customers are numbered by their first line, and each customer's lines keep file order.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use csv::ByteRecord;
use rayon::prelude::*;

use super::blocks::{data_blocks, records, unreadable, Chunk};
use super::dates::{self, DateFormat, DayEvidence, DayOrder, Reading};
use super::fasthash::{FxBuild, IdIndex};
use super::rows::{
    self, Cell, Checked, Levels, Line, OtherFields, Reason, RowRules, Txn, TxnBehaviour,
};
use super::source::{self, FileFingerprint};
use super::table::{check_width, Fields, Format, Table};
use super::transactions::{Cleaning, Columns, CustomerTxns, FlatTxns, TransactionLog, TxnField};
use super::DataError;

/// Customer partitions of the second step (a fixed number, so results cannot depend on it).
const PARTS: usize = 64;
const _: () = assert!(PARTS.is_power_of_two());

/// The partition of a customer: the top bits of its id hash.
fn part_of(customer_hash: u64) -> usize {
    (customer_hash >> (64 - PARTS.trailing_zeros())) as usize
}
/// Rows per batch from a sequential cursor (Parquet).
const CURSOR_BATCH: usize = 1 << 16;

/// What one file's rows need to be read: its columns in roles and its date rule.
pub(super) struct FileRules<'a> {
    pub path: &'a Path,
    pub cols: &'a Columns,
    pub columns: &'a [String],
    pub format: Option<&'a DateFormat>,
    pub decimal_comma: bool,
    /// Columns in no role, with their [`rows::name_seed`], for duplicate keys.
    pub others: Vec<(usize, u64)>,
    /// The column of each row filter's exclude ([`RowRules::filtered`]).
    pub filter_columns: Vec<usize>,
    /// The log's row rules.
    pub row_rules: &'a RowRules,
}

impl FileRules<'_> {
    fn column_name(&self, i: usize) -> &str {
        self.columns.get(i).map(String::as_str).unwrap_or("?")
    }

    /// The position of the column mapped to `f`.
    fn index_of(&self, f: TxnField) -> Option<usize> {
        let c = self.cols;
        match f {
            TxnField::CustomerId => Some(c.customer),
            TxnField::Date => Some(c.date),
            TxnField::Amount => c.amount,
            TxnField::OrderId => c.order,
            TxnField::Quantity => c.quantity,
            TxnField::UnitPrice => c.unit_price,
            f => {
                let k = TxnField::BEHAVIOUR.iter().position(|b| *b == f)?;
                c.behaviour[k]
            }
        }
    }

    fn date_problem(&self, problem: dates::OrderProblem) -> DataError {
        DataError::DateOrder {
            path: self.path.to_path_buf(),
            column: self.column_name(self.cols.date).to_string(),
            problem: Box::new(problem),
        }
    }
}

/// A line that passed the line rules, waiting for the log rules.
struct Row {
    /// The customer id: a range of the chunk's `ids`.
    id: (u32, u32),
    line: u64,
    /// The date: one day, or [`Reading::Either`] until the file proves its day/month order.
    date: Reading,
    checked: Checked,
}

/// A line's behaviour fields as read: each level's text as a range of the chunk's `ids`
/// (`None`: no value), the product key and the discount flag.
#[derive(Clone, Copy)]
struct RowBehaviour {
    levels: [Option<(u32, u32)>; 3],
    product: u64,
    discount: bool,
}

/// A dropped line kept as a possible sample: file index, line, reason, column, raw value.
#[derive(Clone, Debug)]
struct Note {
    file: u32,
    line: u64,
    reason: Reason,
    column: String,
    raw: Option<String>,
}

/// The first step's result for one chunk.
#[derive(Default)]
struct ChunkOut {
    rows: u64,
    ids: String,
    parts: Vec<Vec<Row>>,
    /// With behaviour columns, each row's behaviour, in `parts`' order.
    behaviour: Vec<Vec<RowBehaviour>>,
    missing_customer_id: u64,
    bad_date: u64,
    bad_amount: u64,
    /// Rows dropped by each row filter.
    filtered: Vec<u64>,
    notes: Vec<Note>,
    evidence: DayEvidence,
    has_either: bool,
    malformed: Option<DataError>,
}

impl ChunkOut {
    fn new() -> ChunkOut {
        ChunkOut {
            parts: (0..PARTS).map(|_| Vec::new()).collect(),
            behaviour: (0..PARTS).map(|_| Vec::new()).collect(),
            ..ChunkOut::default()
        }
    }

    /// Empties the result, keeping its buffers.
    fn clear(&mut self) {
        let mut kept = ChunkOut {
            ids: std::mem::take(&mut self.ids),
            parts: std::mem::take(&mut self.parts),
            behaviour: std::mem::take(&mut self.behaviour),
            filtered: std::mem::take(&mut self.filtered),
            notes: std::mem::take(&mut self.notes),
            ..ChunkOut::default()
        };
        kept.ids.clear();
        kept.parts.iter_mut().for_each(Vec::clear);
        kept.behaviour.iter_mut().for_each(Vec::clear);
        kept.filtered.clear();
        kept.notes.clear();
        *self = kept;
    }

    fn note(&mut self, rules: &FileRules, line: u64, reason: Reason, col: usize, raw: &str) {
        if self.notes.iter().filter(|n| n.reason == reason).count()
            < super::transactions::SAMPLES_PER_REASON
        {
            self.notes.push(Note {
                file: 0,
                line,
                reason,
                column: rules.column_name(col).to_string(),
                raw: Some(raw.to_string()),
            });
        }
    }

    /// The first step for one record at `line`.
    fn take(&mut self, rules: &FileRules, rec: Fields, line: u64) {
        if self.malformed.is_some() {
            return;
        }
        self.rows += 1;
        if let Err(e) = check_width(rules.path, rules.columns, rec, line) {
            self.malformed = Some(e);
            return;
        }
        let field = |i: usize| rec.text(i);
        let c = rules.cols;
        let row_rules = rules.row_rules;
        if !rules.filter_columns.is_empty() || row_rules.filters().min_unit_price.is_some() {
            let texts: Vec<_> = rules.filter_columns.iter().map(|&i| field(i)).collect();
            let price = c.unit_price.map(field);
            let cell = |k: usize| texts.get(k).map(|t| Cell::Text(t));
            let price_cell = price.as_deref().map(Cell::Text);
            if let Some(k) = row_rules.filtered(cell, price_cell, rules.decimal_comma) {
                self.filtered.resize(self.filtered.len().max(k + 1), 0);
                self.filtered[k] += 1;
                return;
            }
        }
        let date = field(c.date);
        // A date that reads one way only becomes that day; one that reads both ways waits.
        let reading = match rules.format {
            Some(f) => f.parse_day(&date).map(Reading::Same),
            None => {
                let reading = dates::read_both(&date);
                self.evidence.note(reading, &date, line);
                match reading {
                    Reading::Either { .. } => Some(reading),
                    r => r.day(None).map(Reading::Same),
                }
            }
        };
        let raw_id = field(c.customer);
        let Some(id) = rows::customer_id_text(&raw_id) else {
            self.missing_customer_id += 1;
            self.note(rules, line, Reason::MissingCustomerId, c.customer, &raw_id);
            return;
        };
        let Some(reading) = reading else {
            self.bad_date += 1;
            self.note(rules, line, Reason::BadDate, c.date, &date);
            return;
        };
        let text = |i: Option<usize>| i.map(field);
        let (amount, quantity) = (text(c.amount), text(c.quantity));
        let (unit_price, order) = (text(c.unit_price), text(c.order));
        let l = Line {
            customer: &id,
            day: None,
            date_text: &date,
            amount: amount.as_deref().map(Cell::Text),
            quantity: quantity.as_deref().map(Cell::Text),
            unit_price: unit_price.as_deref().map(Cell::Text),
            order: order.as_deref().map(Cell::Text),
        };
        let mut others = OtherFields::default();
        for &(i, seed) in &rules.others {
            others.add(seed, Cell::Text(&field(i)));
        }
        match rows::check(&l, &others, rules.decimal_comma) {
            Ok(checked) => {
                self.has_either |= matches!(reading, Reading::Either { .. });
                let start = self.ids.len() as u32;
                self.ids.push_str(&id);
                let p = part_of(checked.customer_hash);
                if c.has_behaviour() {
                    let b = self.behaviour_of(rules, &field);
                    self.behaviour[p].push(b);
                }
                self.parts[p].push(Row {
                    id: (start, id.len() as u32),
                    line,
                    date: reading,
                    checked,
                });
            }
            Err(d) => {
                self.bad_amount += 1;
                let f = d.field.unwrap_or(TxnField::Amount);
                let col = rules.index_of(f).unwrap_or(c.customer);
                self.note(rules, line, d.reason, col, &field(col));
            }
        }
    }
}

impl ChunkOut {
    /// A kept line's behaviour fields, their texts added to `ids`.
    fn behaviour_of<'r>(
        &mut self,
        rules: &FileRules,
        field: &impl Fn(usize) -> Cow<'r, str>,
    ) -> RowBehaviour {
        let b = &rules.cols.behaviour;
        let mut levels = [None; 3];
        for (slot, col) in levels.iter_mut().zip(b) {
            let Some(raw) = col.map(field) else { continue };
            if let Some(t) = rows::level_text(Cell::Text(&raw)) {
                let start = self.ids.len() as u32;
                self.ids.push_str(&t);
                *slot = Some((start, t.len() as u32));
            }
        }
        let product = b[3].map(field);
        let discount = b[4].map(field);
        RowBehaviour {
            levels,
            product: rows::product_key(product.as_deref().map(Cell::Text)),
            discount: rows::discounted(discount.as_deref().map(Cell::Text), rules.decimal_comma),
        }
    }
}

/// The first step for one chunk, into `out` (a cleared result of an earlier block: its
/// buffers are reused, so each block does not fault in fresh memory).
fn parse_chunk(rules: &FileRules, chunk: Chunk, format: Format, out: &mut ChunkOut) {
    out.clear();
    if let Err(e) = records(rules.path, chunk, format, |line, rec| {
        out.take(rules, rec, line)
    }) {
        out.malformed.get_or_insert(e);
    }
}

/// One partition of the customers: the second step's state across all files of a log.
#[derive(Default)]
struct Part {
    index: IdIndex,
    /// The ids, one after the other (in one buffer, so checking an id stays in cache).
    id_text: String,
    id_ends: Vec<usize>,
    first: Vec<(u32, u64)>,
    /// Kept lines in file order: the customer (index into `ids`) and the transaction.
    owners: Vec<u32>,
    txns: Vec<Txn>,
    /// With behaviour columns, each kept line's behaviour (levels numbered by `levels`).
    behaviour: Vec<TxnBehaviour>,
    /// This partition's level names by number, and their index.
    levels: Levels,
    level_index: [HashMap<String, u32>; 3],
    has_times: bool,
    seen: HashSet<u64, FxBuild>,
    kept: u64,
    returns: u64,
    duplicate: u64,
    notes: Vec<Note>,
    first_day: i32,
    last_day: i32,
}

impl Part {
    fn intern(&mut self, id: &str, hash: u64, at: (u32, u64)) -> usize {
        let (text, ends) = (&self.id_text, &self.id_ends);
        match self
            .index
            .get_or_insert(id, hash, |p| id_in(text, ends, p), ends.len())
        {
            Ok(c) => c,
            Err(c) => {
                self.id_text.push_str(id);
                self.id_ends.push(self.id_text.len());
                self.first.push(at);
                c
            }
        }
    }

    /// A row's behaviour with its levels numbered in this partition.
    fn number(&mut self, ids: &str, b: &RowBehaviour) -> TxnBehaviour {
        let mut levels = [0; 3];
        for (f, (n, span)) in levels.iter_mut().zip(&b.levels).enumerate() {
            let Some((start, len)) = *span else { continue };
            let name = &ids[start as usize..(start + len) as usize];
            let index = &mut self.level_index[f];
            *n = match index.get(name) {
                Some(&n) => n,
                None => {
                    self.levels.names[f].push(name.to_string());
                    let n = self.levels.names[f].len() as u32;
                    index.insert(name.to_string(), n);
                    n
                }
            };
        }
        TxnBehaviour {
            levels,
            product: b.product,
            discount: b.discount,
        }
    }

    /// Customer `c`'s id.
    fn id(&self, c: usize) -> &str {
        id_in(&self.id_text, &self.id_ends, c)
    }

    /// The second step for this partition's rows of one block, in file order.
    fn absorb(
        &mut self,
        file: u32,
        block: &[ChunkOut],
        p: usize,
        order: Option<DayOrder>,
        rules: &RowRules,
    ) {
        for chunk in block {
            let behaviour = &chunk.behaviour[p];
            for (r, row) in chunk.parts[p].iter().enumerate() {
                // Rows hold one day or a date that reads both ways, and `order` is known
                // whenever a block holds the latter, so this is never `None`.
                let Some(day) = row.date.day(Some(order.unwrap_or_default())) else {
                    continue;
                };
                let txn = match rows::admit(rules, &row.checked, day, &mut self.seen) {
                    Ok(t) => t,
                    Err(_) => {
                        self.duplicate += 1;
                        if self.notes.len() < super::transactions::SAMPLES_PER_REASON {
                            self.notes.push(Note {
                                file,
                                line: row.line,
                                reason: Reason::Duplicate,
                                column: "*".into(),
                                raw: None,
                            });
                        }
                        continue;
                    }
                };
                let (start, len) = (row.id.0 as usize, row.id.1 as usize);
                let hash = row.checked.customer_hash;
                let c = self.intern(&chunk.ids[start..start + len], hash, (file, row.line));
                self.kept += 1;
                self.returns += u64::from(!rows::is_purchase(txn.amount));
                if self.kept == 1 {
                    (self.first_day, self.last_day) = (day, day);
                }
                self.first_day = self.first_day.min(day);
                self.last_day = self.last_day.max(day);
                self.owners.push(c as u32);
                self.has_times |= txn.minute >= 0;
                self.txns.push(txn);
                if !behaviour.is_empty() || !self.behaviour.is_empty() {
                    // Lines of files without behaviour columns have none.
                    let b = behaviour.get(r).map(|b| self.number(&chunk.ids, b));
                    self.behaviour
                        .resize(self.txns.len() - 1, TxnBehaviour::default());
                    self.behaviour.push(b.unwrap_or_default());
                }
            }
        }
    }

    /// The kept lines grouped by customer (a counting sort: each customer's lines keep
    /// their order); the part's line arrays are freed.
    fn group(&mut self) -> FlatTxns {
        self.seen = HashSet::default();
        let mut offsets = vec![0usize; self.id_ends.len() + 1];
        for &c in &self.owners {
            offsets[c as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut next = offsets.clone();
        let owners = std::mem::take(&mut self.owners);
        let txns = std::mem::take(&mut self.txns);
        let empty = Txn {
            day: 0,
            amount: 0.0,
            order: None,
            minute: -1,
        };
        let mut grouped = vec![empty; txns.len()];
        let behaviour = std::mem::take(&mut self.behaviour);
        let mut grouped_behaviour = vec![TxnBehaviour::default(); behaviour.len()];
        for (i, (&c, t)) in owners.iter().zip(txns).enumerate() {
            let at = &mut next[c as usize];
            grouped[*at] = t;
            if let Some(b) = behaviour.get(i) {
                grouped_behaviour[*at] = *b;
            }
            *at += 1;
        }
        FlatTxns {
            offsets,
            txns: grouped,
            behaviour: grouped_behaviour,
        }
    }
}

/// Id `c` of ids stored one after the other in `text`, ending at `ends`.
fn id_in<'a>(text: &'a str, ends: &[usize], c: usize) -> &'a str {
    let start = if c == 0 { 0 } else { ends[c - 1] };
    // Ids are pushed whole, so every end is a character boundary.
    text.get(start..ends[c]).unwrap_or("")
}

/// The reader's state across the files of one log.
pub(super) struct LogState {
    parts: Vec<Part>,
    cleaning: Cleaning,
    notes: Vec<Note>,
    rules: RowRules,
    /// Chunk results of the last block, kept for their buffers.
    spare: Vec<ChunkOut>,
}

impl LogState {
    pub fn new(rules: &RowRules) -> LogState {
        LogState {
            parts: (0..PARTS).map(|_| Part::default()).collect(),
            cleaning: Cleaning {
                filtered: (rules.filters().labels().into_iter())
                    .map(|filter| super::transactions::FilterCount { filter, rows: 0 })
                    .collect(),
                ..Cleaning::default()
            },
            notes: Vec::new(),
            rules: rules.clone(),
            spare: Vec::new(),
        }
    }

    /// Reads one file (index `file` among the log's files) through both steps.
    pub fn read_file(
        &mut self,
        file: u32,
        rules: &FileRules,
        table: Table,
        bar: &indicatif::ProgressBar,
    ) -> Result<FileFingerprint, DataError> {
        let mut dates = FileDates::default();
        let fp = match table.format {
            Format::Parquet => self.read_cursor(file, rules, table, &mut dates)?,
            format => {
                let (stream, hasher) = source::open_text(rules.path)?;
                let mut blocks = data_blocks(rules.path, stream, format, table.has_header)?;
                let pieces = rayon::current_num_threads() * 4;
                let (mut rows, mut hashed) = (0, 0);
                while let Some(chunks) = blocks
                    .next_block(pieces)
                    .map_err(|e| unreadable(rules.path, e))?
                {
                    let mut outs = std::mem::take(&mut self.spare);
                    outs.resize_with(chunks.len(), ChunkOut::new);
                    chunks
                        .par_iter()
                        .zip(outs.par_iter_mut())
                        .for_each(|(c, out)| parse_chunk(rules, *c, format, out));
                    rows += outs.iter().map(|o| o.rows).sum::<u64>();
                    let header = table.has_header;
                    self.absorb_block(file, rules, &mut outs, &mut dates, format, header)?;
                    self.spare = outs;
                    let now = hasher.bytes();
                    bar.inc(now.saturating_sub(hashed));
                    hashed = now;
                }
                let (sha256, bytes) = hasher.finish();
                FileFingerprint {
                    path: rules.path.display().to_string(),
                    sha256,
                    bytes,
                    rows,
                }
            }
        };
        self.finish_file(rules, &dates)?;
        self.cleaning.rows_read += fp.rows;
        Ok(fp)
    }

    fn read_cursor(
        &mut self,
        file: u32,
        rules: &FileRules,
        mut table: Table,
        dates: &mut FileDates,
    ) -> Result<FileFingerprint, DataError> {
        let mut rec = ByteRecord::new();
        loop {
            let mut out = ChunkOut::new();
            let mut n = 0;
            while n < CURSOR_BATCH {
                let Some(line) = table.next_row(&mut rec)? else {
                    break;
                };
                out.take(rules, (&rec).into(), line);
                n += 1;
            }
            self.absorb_block(
                file,
                rules,
                std::slice::from_mut(&mut out),
                dates,
                table.format,
                table.has_header,
            )?;
            if n < CURSOR_BATCH {
                return Ok(table.fingerprint());
            }
        }
    }

    /// Merges one block's chunks: their errors, date evidence and drops, then the second
    /// step over the partitions.
    fn absorb_block(
        &mut self,
        file: u32,
        rules: &FileRules,
        block: &mut [ChunkOut],
        dates: &mut FileDates,
        format: Format,
        has_header: bool,
    ) -> Result<(), DataError> {
        let mut either = false;
        dates.blocks += 1;
        for out in block.iter_mut() {
            if let Some(e) = out.malformed.take() {
                return Err(e);
            }
            dates.seen.merge(std::mem::take(&mut out.evidence));
            either |= out.has_either;
            let c = &mut self.cleaning;
            c.missing_customer_id += out.missing_customer_id;
            c.bad_date += out.bad_date;
            c.bad_amount += out.bad_amount;
            for (k, &n) in out.filtered.iter().enumerate() {
                c.filtered[k].rows += n;
            }
            self.notes
                .extend(out.notes.drain(..).map(|n| Note { file, ..n }));
        }
        let mut order = dates.seen.order().map_err(|p| rules.date_problem(p))?;
        if either && order.is_none() {
            if dates.ahead.is_none() {
                dates.ahead = Some(proof_ahead(rules, format, has_header, dates.blocks)?);
            }
            order = dates.ahead.flatten();
            if order.is_none() {
                // Dates read both ways and nothing in the file proves the order.
                dates.seen.finish().map_err(|p| rules.date_problem(p))?;
            }
        }
        let row_rules = &self.rules;
        self.parts
            .par_iter_mut()
            .enumerate()
            .for_each(|(p, part)| part.absorb(file, block, p, order, row_rules));
        keep_first_notes(&mut self.notes);
        Ok(())
    }

    fn finish_file(&mut self, rules: &FileRules, dates: &FileDates) -> Result<(), DataError> {
        dates.seen.finish().map_err(|p| rules.date_problem(p))?;
        let how = match rules.format {
            Some(f) => Some(format!("format {f}")),
            None => dates.seen.proof().map(|e| e.to_string()),
        };
        if let Some(how) = how {
            let key = rules.path.display().to_string();
            self.cleaning.date_orders.insert(key, how);
        }
        Ok(())
    }

    /// The log: customers numbered by their first line, each with its lines in file order.
    pub fn finish(
        mut self,
        paths: &[&Path],
        has_order_ids: bool,
        files: Vec<FileFingerprint>,
    ) -> TransactionLog {
        let mut order: Vec<((u32, u64), u32, u32)> = Vec::new();
        for (p, part) in self.parts.iter().enumerate() {
            order.extend(
                part.first
                    .iter()
                    .enumerate()
                    .map(|(c, &at)| (at, p as u32, c as u32)),
            );
        }
        order.sort_unstable();
        let mut log = TransactionLog {
            customer_ids: Vec::with_capacity(order.len()),
            txns: CustomerTxns::default(),
            has_order_ids,
            first_day: i32::MAX,
            last_day: i32::MIN,
            files,
            ..TransactionLog::default()
        };
        for &(_, p, c) in &order {
            let part = &self.parts[p as usize];
            log.customer_ids.push(part.id(c as usize).to_string());
        }
        let mut flat: Vec<FlatTxns> = self.parts.par_iter_mut().map(Part::group).collect();
        log.levels = number_levels(&self.parts, &mut flat);
        log.txns = CustomerTxns::new(flat, order.iter().map(|&(_, p, c)| (p, c)).collect());
        let c = &mut self.cleaning;
        for part in &mut self.parts {
            c.rows_kept += part.kept;
            c.returns += part.returns;
            c.duplicate += part.duplicate;
            log.has_times |= part.has_times;
            if part.kept > 0 {
                log.first_day = log.first_day.min(part.first_day);
                log.last_day = log.last_day.max(part.last_day);
            }
            self.notes.append(&mut part.notes);
        }
        keep_first_notes(&mut self.notes);
        for n in &self.notes {
            let path = paths
                .get(n.file as usize)
                .copied()
                .unwrap_or(Path::new("?"));
            c.note(n.reason.name(), path, n.line, &n.column, n.raw.as_deref());
        }
        log.cleaning = self.cleaning;
        log
    }
}

/// The log's levels (every partition's, sorted) with each partition's lines renumbered into
/// them.
fn number_levels(parts: &[Part], flat: &mut [FlatTxns]) -> Levels {
    let mut levels = Levels::default();
    for (f, names) in levels.names.iter_mut().enumerate() {
        *names = parts
            .iter()
            .flat_map(|p| p.levels.names[f].iter().cloned())
            .collect();
        names.sort_unstable();
        names.dedup();
    }
    flat.par_iter_mut().zip(parts).for_each(|(flat, part)| {
        let global: Vec<Vec<u32>> = (0..3)
            .map(|f| {
                let names = &levels.names[f];
                part.levels.names[f]
                    .iter()
                    .map(|n| names.binary_search(n).map_or(0, |i| i as u32 + 1))
                    .collect()
            })
            .collect();
        for b in &mut flat.behaviour {
            for (f, n) in b.levels.iter_mut().enumerate() {
                if *n > 0 {
                    *n = global[f][*n as usize - 1];
                }
            }
        }
    });
    levels
}

/// Sorts candidate samples by place and keeps the first few of each reason.
fn keep_first_notes(notes: &mut Vec<Note>) {
    notes.sort_by_key(|n| (n.file, n.line));
    let mut per = HashMap::<&'static str, usize>::new();
    notes.retain(|n| {
        let k = per.entry(n.reason.name()).or_default();
        *k += 1;
        *k <= super::transactions::SAMPLES_PER_REASON
    });
}

/// A file's date evidence so far, the blocks it came from, and the order a look ahead found
/// (`Some(None)`: none).
#[derive(Default)]
struct FileDates {
    seen: DayEvidence,
    blocks: usize,
    ahead: Option<Option<DayOrder>>,
}

/// Looks ahead in the file for the first date that proves its day/month order, past the
/// `blocks` blocks already read (dates that read both ways came before any proof). The file
/// is cut into the same blocks as on the first read, and not hashed again.
fn proof_ahead(
    rules: &FileRules,
    format: Format,
    has_header: bool,
    blocks_read: usize,
) -> Result<Option<DayOrder>, DataError> {
    if format == Format::Parquet {
        return parquet_proof_ahead(rules, blocks_read * CURSOR_BATCH);
    }
    let stream = source::open_text_again(rules.path)?;
    let mut blocks = data_blocks(rules.path, stream, format, has_header)?;
    let pieces = rayon::current_num_threads() * 4;
    let date = rules.cols.date;
    let mut n = 0;
    while let Some(chunks) = blocks
        .next_block(pieces)
        .map_err(|e| unreadable(rules.path, e))?
    {
        n += 1;
        if n <= blocks_read {
            continue;
        }
        let found = chunks
            .par_iter()
            .map(|c| {
                let mut seen = DayEvidence::default();
                let _ = records(rules.path, *c, format, |line, rec| {
                    if seen.proof().is_none() {
                        let raw: Cow<str> = rec.text(date);
                        seen.note(dates::read_both(&raw), &raw, line);
                    }
                });
                seen
            })
            .collect::<Vec<_>>();
        if let Some(e) = found.iter().find_map(|s| s.proof()) {
            return Ok(Some(e.order));
        }
    }
    Ok(None)
}

/// [`proof_ahead`] of a Parquet file, past its first `rows_read` rows.
fn parquet_proof_ahead(rules: &FileRules, rows_read: usize) -> Result<Option<DayOrder>, DataError> {
    let mut table = Table::open(rules.path)?;
    let mut rec = ByteRecord::new();
    let (mut seen, mut n) = (DayEvidence::default(), 0);
    while let Some(line) = table.next_row(&mut rec)? {
        n += 1;
        if n <= rows_read {
            continue;
        }
        let raw = Fields::from(&rec).text(rules.cols.date);
        seen.note(dates::read_both(&raw), &raw, line);
        if let Some(e) = seen.proof() {
            return Ok(Some(e.order));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{read_transactions, ColumnMap, TransactionLog};
    use crate::progress::Progress;
    use std::fmt::Write as _;

    /// A UCI-shaped log: quoted descriptions with commas, doubled quotes and line feeds,
    /// month-first dates that read both ways until a later block proves the order, missing
    /// ids, bad amounts and exact duplicates.
    fn uci_like(rows: usize) -> String {
        let mut s = String::from(
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID\n",
        );
        let descs = [
            "PLAIN",
            "\"GLASS, STAR\"",
            "\"12\"\" SLEEVE\"",
            "\"TWO\nLINES\"",
        ];
        for i in 0..rows {
            let day = if i < rows * 3 / 4 {
                1 + i % 12
            } else {
                13 + i % 15
            };
            let id = match i % 17 {
                0 => String::new(),
                5 => format!("{}.0", 100 + i % 37),
                _ => format!("{}", 100 + i % 41),
            };
            let qty = if i % 29 == 0 {
                "x".to_string()
            } else {
                (1 + i % 5).to_string()
            };
            let line = format!(
                "{},{},{},{qty},{}/{day}/2011 10:{:02},2.5,{id}\n",
                536_000 + i / 3,
                i % 7,
                descs[i % 4],
                1 + (i / 40) % 12,
                i % 60
            );
            s.push_str(&line);
            if i % 23 == 0 {
                s.push_str(&line);
            }
        }
        s
    }

    fn read(path: &Path, block: usize, threads: usize) -> TransactionLog {
        read_mapped(path, block, threads, &[])
    }

    fn read_mapped(path: &Path, block: usize, threads: usize, map: &[&str]) -> TransactionLog {
        super::super::blocks::with_blocks(block, threads, || {
            let map = ColumnMap::parse(map).unwrap();
            let rules = RowRules::default();
            read_transactions(&[path.to_path_buf()], &map, &rules, &Progress::hidden()).unwrap()
        })
    }

    fn summary(log: &TransactionLog) -> String {
        let mut s = format!(
            "{:?}\n{:?}\n{:?}\n",
            log.cleaning, log.cleaning.samples, log.levels
        );
        for (c, (id, t)) in log.customer_ids.iter().zip(log.txns.iter()).enumerate() {
            writeln!(s, "{id} {t:?} {:?}", log.txns.behaviour(c)).unwrap();
        }
        s
    }

    /// A Parquet file of text columns.
    fn write_text_parquet(path: &Path, header: [&str; 3], rows: &[[String; 3]]) {
        use parquet::data_type::{ByteArray, ByteArrayType};
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        use parquet::schema::parser::parse_message_type;
        use std::sync::Arc;
        let fields: Vec<String> = header
            .iter()
            .map(|h| format!("REQUIRED BYTE_ARRAY {h} (UTF8);"))
            .collect();
        let schema = format!("message tx {{ {} }}", fields.join(" "));
        let schema = Arc::new(parse_message_type(&schema).unwrap());
        let props = Arc::new(WriterProperties::builder().build());
        let file = std::fs::File::create(path).unwrap();
        let mut w = SerializedFileWriter::new(file, schema, props).unwrap();
        let mut group = w.next_row_group().unwrap();
        for k in 0..3 {
            let values: Vec<ByteArray> = rows
                .iter()
                .map(|r| ByteArray::from(r[k].as_str()))
                .collect();
            let mut c = group.next_column().unwrap().unwrap();
            c.typed::<ByteArrayType>()
                .write_batch(&values, None, None)
                .unwrap();
            c.close().unwrap();
        }
        group.close().unwrap();
        w.close().unwrap();
    }

    #[test]
    fn a_parquet_file_proves_its_day_order_after_its_first_batch_as_a_csv_does() {
        // 70,000 dates that read both ways (2 January or 1 February), then one that only
        // reads day-first: the proof lies past the first cursor batch of 65,536 rows.
        let mut rows: Vec<[String; 3]> = (0..70_000)
            .map(|i| {
                [
                    format!("c{}", i % 500),
                    "01/02/2024".into(),
                    format!("{}", 1 + i % 9),
                ]
            })
            .collect();
        rows.push(["z".into(), "25/02/2024".into(), "3".into()]);
        assert!(rows.len() > CURSOR_BATCH);
        let dir = tempfile::tempdir().unwrap();
        let (pq, csv) = (dir.path().join("log.parquet"), dir.path().join("log.csv"));
        let header = ["CustomerID", "InvoiceDate", "Amount"];
        write_text_parquet(&pq, header, &rows);
        let mut text = header.join(",") + "\n";
        for r in &rows {
            text.push_str(&r.join(","));
            text.push('\n');
        }
        std::fs::write(&csv, text).unwrap();
        let (from_pq, from_csv) = (read(&pq, 1 << 12, 2), read(&csv, 1 << 12, 2));
        let feb_1 = crate::data::dates::days_from_civil(2024, 2, 1);
        assert!(from_pq
            .txns
            .iter()
            .next()
            .unwrap()
            .iter()
            .all(|t| t.day == feb_1));
        assert_eq!(from_pq.txns.len(), 501);
        assert_eq!(from_pq.customer_ids, from_csv.customer_ids);
        assert_eq!(
            format!("{:?}", from_pq.txns.iter().collect::<Vec<_>>()),
            format!("{:?}", from_csv.txns.iter().collect::<Vec<_>>())
        );
    }

    #[test]
    fn blocks_chunks_and_threads_do_not_change_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        std::fs::write(&path, uci_like(3000)).unwrap();
        // Descriptions as categories: level numbers must not depend on threads either.
        let read = |path: &Path, block, threads| {
            read_mapped(path, block, threads, &["category=Description"])
        };
        let one = read(&path, 1 << 20, 1);
        assert!(one
            .cleaning
            .date_orders
            .values()
            .any(|e| e.starts_with("month-first")));
        assert!(one.cleaning.duplicate > 100 && one.cleaning.missing_customer_id > 100);
        assert!(one.cleaning.bad_amount > 50);
        assert_eq!(one.levels.names[0].len(), 4, "{:?}", one.levels);
        assert!(one
            .txns
            .behaviour(1)
            .iter()
            .all(|b| b.levels[0] > 0 && b.product != 0));
        let expected = summary(&one);
        for (block, threads) in [(997, 3), (4096, 2), (64 * 1024, 4)] {
            assert_eq!(
                summary(&read(&path, block, threads)),
                expected,
                "block {block}, {threads} threads"
            );
        }
    }

    #[test]
    fn files_without_behaviour_columns_give_their_lines_none() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(
            &a,
            "customer_id,date,amount\nx,2011-01-02,1\ny,2011-01-03,2\n",
        )
        .unwrap();
        std::fs::write(
            &b,
            "customer_id,date,amount,Country\nx,2011-02-02,3,France\nz,2011-02-03,4,EIRE\n",
        )
        .unwrap();
        let rules = RowRules::default();
        let map = ColumnMap::default();
        let log = read_transactions(&[a, b], &map, &rules, &Progress::hidden()).unwrap();
        assert_eq!(log.levels.names[2], ["EIRE", "France"]);
        assert_eq!(
            log.behaviour_columns,
            [(TxnField::Country, "Country".into())]
        );
        for c in 0..log.txns.len() {
            let (t, b) = (log.txns.get(c), log.txns.behaviour(c));
            assert!(
                b.is_empty() || b.len() == t.len(),
                "{}",
                log.customer_ids[c]
            );
        }
        let x = log.customer_ids.iter().position(|id| id == "x").unwrap();
        let countries: Vec<u32> = log.txns.behaviour(x).iter().map(|b| b.levels[2]).collect();
        assert_eq!(
            countries,
            [0, 2],
            "the first file's line has none, then France"
        );
    }

    #[test]
    fn row_numbers_count_lines_as_an_editor_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        let text =
            "customer_id,date,amount,note\na,2011-01-02,1,\"x\ny\"\n\nb,2011-01-03,bad,z\n,2011-01-04,2,w\n";
        std::fs::write(&path, text).unwrap();
        for (block, threads) in [(1 << 20, 1), (7, 2)] {
            let log = read(&path, block, threads);
            let c = &log.cleaning;
            assert_eq!(
                (
                    c.rows_read,
                    c.rows_kept,
                    c.bad_amount,
                    c.missing_customer_id
                ),
                (3, 1, 1, 1)
            );
            assert!(
                c.first_seen["bad_amount"].ends_with("row 5 column amount"),
                "{:?}",
                c.first_seen
            );
            assert!(
                c.first_seen["missing_customer_id"].ends_with("row 6 column customer_id"),
                "{:?}",
                c.first_seen
            );
        }
    }
}
