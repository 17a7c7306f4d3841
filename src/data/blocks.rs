//! Delimited text read in blocks of whole records, each block cut into chunks at record
//! boundaries so the chunks can be parsed in parallel. A boundary is a line feed outside
//! quotes, found with the quoting rules of the `csv` crate's reader (a quote opens a quoted
//! field only at the start of a field, `""` inside one is a quote); a block without any
//! quote is cut at plain line feeds. Results never depend on how many chunks a block gets:
//! the readers merge chunk results in file order.
//!
//! Shared by the transaction-log reader, the customer-table reader and batch scoring of
//! customer tables: `data_blocks` opens a file's data rows (after a byte-order mark and the
//! header), [`each_block`] hands a file's blocks over in order, and `records` walks a chunk's
//! records with their line numbers as an editor counts them.

use std::io::{self, Read};
use std::path::Path;

use csv::ByteRecord;

use super::table::{csv_reader, is_blank, Fields, Format};
use super::DataError;

/// Bytes read per block (a record longer than this grows the block).
pub const BLOCK_BYTES: usize = 8 << 20;

/// One chunk of a block: whole records, and the number of line feeds in the file before
/// its first byte (so a record's line number is that plus its line within the chunk).
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    pub bytes: &'a [u8],
    pub lines_before: u64,
}

/// Reads a text stream block by block.
pub struct Blocks<R> {
    reader: R,
    buf: Vec<u8>,
    /// Bytes of `buf` handed out by the last [`Self::next_block`]; the rest is carried over.
    used: usize,
    lines_before: u64,
    quoted: bool,
    delimiter: u8,
    eof: bool,
    block_bytes: usize,
}

impl<R: Read> Blocks<R> {
    /// A reader of `reader`; `quoting`: fields may be quoted (CSV), else records are lines.
    pub fn new(reader: R, quoting: bool, delimiter: u8) -> Blocks<R> {
        Blocks {
            reader,
            buf: Vec::new(),
            used: 0,
            lines_before: 0,
            quoted: quoting,
            delimiter,
            eof: false,
            block_bytes: BLOCK_BYTES,
        }
    }

    /// With a smaller block size (tests: boundaries inside quoted fields and long records).
    pub fn with_block_bytes(mut self, n: usize) -> Blocks<R> {
        self.block_bytes = n.max(1);
        self
    }

    /// Skips the first `n` bytes (a byte-order mark, a header), counting their line feeds.
    pub fn skip(&mut self, n: usize) -> io::Result<()> {
        self.fill(n)?;
        let n = n.min(self.buf.len());
        self.lines_before += count_lf(&self.buf[..n]);
        self.buf.drain(..n);
        Ok(())
    }

    /// The bytes ahead, without consuming them (at most `n`, fewer at the end).
    pub fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        self.fill(n)?;
        Ok(&self.buf[..n.min(self.buf.len())])
    }

    fn fill(&mut self, n: usize) -> io::Result<()> {
        if self.used > 0 {
            self.lines_before += count_lf(&self.buf[..self.used]);
            self.buf.drain(..self.used);
            self.used = 0;
        }
        while self.buf.len() < n && !self.eof {
            let start = self.buf.len();
            self.buf.resize(n.max(start + 64 * 1024), 0);
            let got = read_some(&mut self.reader, &mut self.buf[start..])?;
            self.buf.truncate(start + got);
            self.eof = got == 0;
        }
        Ok(())
    }

    /// The next block cut into at most `pieces` chunks; `None` at the end of the stream.
    pub fn next_block(&mut self, pieces: usize) -> io::Result<Option<Vec<Chunk<'_>>>> {
        let mut want = self.block_bytes;
        let end = loop {
            self.fill(want)?;
            if self.buf.is_empty() {
                return Ok(None);
            }
            let cuts = self.cuts(pieces.max(1));
            match cuts.last() {
                Some(&end) if end > 0 => break cuts,
                _ if self.eof => break vec![self.buf.len()],
                _ => want = self.buf.len() * 2,
            }
        };
        let mut chunks = Vec::with_capacity(end.len());
        let (mut start, mut lines) = (0, self.lines_before);
        for &cut in &end {
            if cut > start {
                let bytes = &self.buf[start..cut];
                chunks.push(Chunk {
                    bytes,
                    lines_before: lines,
                });
                lines += count_lf(bytes);
                start = cut;
            }
        }
        self.used = start;
        Ok(Some(chunks))
    }

    /// Chunk ends: about `pieces` equal parts of the whole records in the buffer (the last
    /// cut is the end of the last whole record; at the end of the stream, the buffer's end).
    fn cuts(&self, pieces: usize) -> Vec<usize> {
        let buf = &self.buf;
        let ends = if self.quoted && memchr::memchr(b'"', buf).is_some() {
            Some(quoted_record_ends(buf, self.delimiter))
        } else {
            None
        };
        let last = match &ends {
            Some(e) => e.last().copied(),
            None => memchr::memrchr(b'\n', buf).map(|i| i + 1),
        };
        let last = if self.eof {
            buf.len()
        } else {
            match last {
                Some(l) => l,
                None => return Vec::new(),
            }
        };
        let mut cuts = Vec::with_capacity(pieces);
        for i in 1..pieces {
            let target = last * i / pieces;
            let cut = match &ends {
                Some(e) => e[e.partition_point(|&x| x < target)..].first().copied(),
                None => memchr::memchr(b'\n', &buf[target..last]).map(|j| target + j + 1),
            };
            if let Some(c) = cut.filter(|&c| c < last && cuts.last().is_none_or(|&p| c > p)) {
                cuts.push(c);
            }
        }
        cuts.push(last);
        cuts
    }
}

fn read_some<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn count_lf(bytes: &[u8]) -> u64 {
    if bytes.len() < 256 {
        // A record's few bytes: a plain loop beats the vector search's setup.
        bytes.iter().filter(|&&b| b == b'\n').count() as u64
    } else {
        memchr::memchr_iter(b'\n', bytes).count() as u64
    }
}

/// The offsets just after every line feed that ends a record, following the csv reader's
/// quoting.
fn quoted_record_ends(buf: &[u8], delimiter: u8) -> Vec<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut ends = Vec::new();
    let mut s = S::FieldStart;
    for (i, &b) in buf.iter().enumerate() {
        s = match (s, b) {
            (S::Quoted, b'"') => S::QuoteInQuoted,
            (S::Quoted, _) => S::Quoted,
            (S::QuoteInQuoted, b'"') => S::Quoted,
            (S::FieldStart, b'"') => S::Quoted,
            (_, b'\n') => {
                ends.push(i + 1);
                S::FieldStart
            }
            (_, b'\r') => S::FieldStart,
            (_, d) if d == delimiter => S::FieldStart,
            _ => S::Unquoted,
        };
    }
    ends
}

/// Calls `each(line, record)` for every non-blank record of a chunk of `path`.
pub fn records(
    path: &Path,
    chunk: Chunk,
    format: Format,
    each: impl FnMut(u64, Fields),
) -> Result<(), DataError> {
    records_of(chunk, format, each).map_err(|reason| DataError::Malformed {
        path: path.to_path_buf(),
        row: None,
        reason,
    })
}

fn records_of(
    chunk: Chunk,
    format: Format,
    mut each: impl FnMut(u64, Fields),
) -> Result<(), String> {
    match format {
        Format::Delimited(d) => {
            // Text without a quote reads as the csv reader reads it, split by hand.
            if !chunk.bytes.contains(&b'"') {
                if let Ok(text) = std::str::from_utf8(chunk.bytes) {
                    plain_records(text, chunk.lines_before, d, each);
                    return Ok(());
                }
            }
            csv_records(chunk, d, each)
        }
        _ => {
            let mut rec = ByteRecord::new();
            for (i, text) in chunk.bytes.split(|&b| b == b'\n').enumerate() {
                rec.clear();
                for f in text
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|f| !f.is_empty())
                {
                    rec.push_field(f);
                }
                if !rec.is_empty() {
                    each(chunk.lines_before + i as u64 + 1, Fields::Csv(&rec));
                }
            }
            Ok(())
        }
    }
}

/// The records of a chunk by the csv reader, skipping blank ones.
fn csv_records(
    chunk: Chunk,
    delimiter: u8,
    mut each: impl FnMut(u64, Fields),
) -> Result<(), String> {
    let mut rec = ByteRecord::new();
    let mut r = csv_reader(delimiter, chunk.bytes);
    // Lines are counted from the bytes (the csv reader's own count does not see the blank
    // lines it skips): line feeds before the record's first byte, plus one.
    let (mut counted_to, mut lines) = (0, chunk.lines_before + 1);
    loop {
        match r.read_byte_record(&mut rec) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                if is_blank(&rec) {
                    continue;
                }
                let bytes = chunk.bytes;
                let mut start = rec.position().map_or(0, |p| p.byte() as usize);
                while start < bytes.len() && matches!(bytes[start], b'\n' | b'\r') {
                    start += 1;
                }
                let start = start.max(counted_to);
                lines += count_lf(&bytes[counted_to..start]);
                counted_to = start;
                each(lines, Fields::Csv(&rec));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The records of quote-free text as the csv reader finds them: a line feed, a carriage
/// return or both end a record, empty records are skipped, and so are records of one field
/// of white space ([`is_blank`]); fields end at `delimiter`.
fn plain_records(text: &str, lines_before: u64, delimiter: u8, mut each: impl FnMut(u64, Fields)) {
    let (mut starts, mut ends) = (Vec::new(), Vec::new());
    let bytes = text.as_bytes();
    let mut from = 0;
    let line_ends = memchr::memchr_iter(b'\n', bytes).chain([bytes.len()]);
    for (i, to) in line_ends.enumerate() {
        // Cut at ASCII bytes, so every piece is whole UTF-8.
        let line = &text[from..to];
        from = to + 1;
        let number = lines_before + i as u64 + 1;
        let mut emit = |starts: &[usize], ends: &[usize]| {
            let blank =
                ends.len() == 1 && line.as_bytes()[starts[0]..ends[0]].trim_ascii().is_empty();
            if !blank {
                each(number, Fields::Plain { line, starts, ends });
            }
        };
        starts.clear();
        ends.clear();
        starts.push(0);
        // A carriage return ends a record as a line feed does.
        for at in memchr::memchr2_iter(delimiter, b'\r', line.as_bytes()) {
            ends.push(at);
            if line.as_bytes()[at] == b'\r' {
                emit(&starts, &ends);
                starts.clear();
                ends.clear();
            }
            starts.push(at + 1);
        }
        ends.push(line.len());
        emit(&starts, &ends);
    }
}

/// The blocks of a text file's data rows: after a byte-order mark and the header.
pub(super) fn data_blocks(
    path: &Path,
    stream: Box<dyn Read>,
    format: Format,
    has_header: bool,
) -> Result<Blocks<Box<dyn Read>>, DataError> {
    let delimiter = match format {
        Format::Delimited(d) => d,
        _ => b' ',
    };
    let mut blocks = Blocks::new(stream, matches!(format, Format::Delimited(_)), delimiter)
        .with_block_bytes(block_bytes());
    let io = |e| unreadable(path, e);
    if blocks.peek(3).map_err(io)? == b"\xEF\xBB\xBF" {
        blocks.skip(3).map_err(io)?;
    }
    if has_header {
        let mut want = 64 * 1024;
        loop {
            let head = blocks.peek(want).map_err(io)?;
            let (len, at_end) = (head.len(), head.len() < want);
            let end = first_record_end(head, format).filter(|&e| e < len || at_end);
            if end.is_some() || at_end {
                blocks.skip(end.unwrap_or(len)).map_err(io)?;
                break;
            }
            want *= 2;
        }
    }
    Ok(blocks)
}

/// Reads the data rows of text file `path` block by block, handing `each` every block's
/// chunks in file order (for the caller to parse in parallel, as many chunks as four per
/// thread); returns the file's SHA-256 and size in bytes. The first error stops the read.
pub fn each_block<E: From<DataError>>(
    path: &Path,
    format: Format,
    has_header: bool,
    mut each: impl FnMut(&[Chunk]) -> Result<(), E>,
) -> Result<(String, u64), E> {
    let (stream, hasher) = super::source::open_text(path)?;
    let mut blocks = data_blocks(path, stream, format, has_header)?;
    let pieces = rayon::current_num_threads() * 4;
    while let Some(chunks) = blocks.next_block(pieces).map_err(|e| unreadable(path, e))? {
        each(&chunks)?;
    }
    Ok(hasher.finish())
}

/// Where the first non-blank record of `head` ends (the header's end).
fn first_record_end(head: &[u8], format: Format) -> Option<usize> {
    match format {
        Format::Delimited(d) => {
            let mut r = csv_reader(d, head);
            let mut rec = ByteRecord::new();
            while r.read_byte_record(&mut rec).ok()? {
                if !is_blank(&rec) {
                    return Some(r.position().byte() as usize);
                }
            }
            None
        }
        _ => {
            let mut at = 0;
            for line in head.split_inclusive(|&b| b == b'\n') {
                at += line.len();
                if line.iter().any(|b| !b.is_ascii_whitespace()) && line.ends_with(b"\n") {
                    return Some(at);
                }
            }
            None
        }
    }
}

#[cfg(not(test))]
fn block_bytes() -> usize {
    BLOCK_BYTES
}

#[cfg(test)]
thread_local! {
    /// Block size of the readers in this thread (tests: many blocks from a small file).
    static BLOCK_OVERRIDE: std::cell::Cell<usize> = const { std::cell::Cell::new(BLOCK_BYTES) };
}

/// Runs `f` on `threads` threads with readers cutting `block`-byte blocks (tests).
#[cfg(test)]
pub(super) fn with_blocks<T: Send>(
    block: usize,
    threads: usize,
    f: impl FnOnce() -> T + Send,
) -> T {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a test thread pool");
    pool.install(|| {
        BLOCK_OVERRIDE.with(|b| b.set(block));
        let out = f();
        BLOCK_OVERRIDE.with(|b| b.set(BLOCK_BYTES));
        out
    })
}

#[cfg(test)]
fn block_bytes() -> usize {
    BLOCK_OVERRIDE.with(|b| b.get())
}

/// An I/O error while reading `path`.
pub(super) fn unreadable(path: &Path, e: std::io::Error) -> DataError {
    DataError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_chunks(text: &[u8], block: usize, pieces: usize) -> Vec<(Vec<u8>, u64)> {
        let mut b = Blocks::new(text, true, b',').with_block_bytes(block);
        let mut out = Vec::new();
        while let Some(chunks) = b.next_block(pieces).unwrap() {
            out.extend(chunks.iter().map(|c| (c.bytes.to_vec(), c.lines_before)));
        }
        out
    }

    #[test]
    fn chunks_end_at_record_boundaries_outside_quotes() {
        let text = b"a,\"x\ny\",1\nb,\"q\"\"\n\",2\nc,plain,3\nd,4\"5,6\ne,7,8\n";
        for block in [1, 3, 7, 16, 1000] {
            for pieces in [1, 2, 3, 8] {
                let chunks = all_chunks(text, block, pieces);
                let joined: Vec<u8> = chunks.iter().flat_map(|(c, _)| c.clone()).collect();
                assert_eq!(joined, text, "block {block} pieces {pieces}");
                for (c, lines) in &chunks {
                    let starts_a_record = [b'a', b'b', b'c', b'd', b'e'].contains(&c[0]);
                    assert!(
                        starts_a_record,
                        "{block}/{pieces}: {:?}",
                        String::from_utf8_lossy(c)
                    );
                    let at = text.windows(c.len()).position(|w| w == &c[..]).unwrap();
                    assert_eq!(*lines, count_lf(&text[..at]));
                }
            }
        }
    }

    /// Every record of `text` with its line number, as `read` reads it.
    fn lines_of(
        text: &str,
        read: impl Fn(Chunk, &mut dyn FnMut(u64, Fields)),
    ) -> Vec<(u64, Vec<String>)> {
        let mut out = Vec::new();
        let chunk = Chunk {
            bytes: text.as_bytes(),
            lines_before: 3,
        };
        read(chunk, &mut |line, f| {
            out.push((line, (0..f.len()).map(|i| f.text(i).into_owned()).collect()));
        });
        out
    }

    #[test]
    fn quote_free_text_splits_into_the_records_and_lines_the_csv_reader_finds() {
        let texts = [
            "a,1\nb,2\n",
            "a,1\r\nb,2\r\n\r\n  \r\nc,3",
            "a,1\rb,2\n\nc,,\n,\n \t \nd,é,ü\n",
            "\n\n a , 1 \n\r\r\nx",
            "",
            "only",
            "a;b\tc\n",
        ];
        for text in texts {
            for d in [b',', b';', b'\t'] {
                let plain = lines_of(text, |c, each| plain_records(text_of(c), 3, d, each));
                let csv = lines_of(text, |c, each| csv_records(c, d, each).unwrap());
                assert_eq!(plain, csv, "{text:?} delimited by {}", d as char);
            }
        }
    }

    fn text_of(c: Chunk<'_>) -> &str {
        std::str::from_utf8(c.bytes).unwrap()
    }

    #[test]
    fn a_last_record_without_line_feed_and_skipped_header_are_kept_apart() {
        let mut b = Blocks::new(&b"h1,h2\nx,1\ny,2"[..], true, b',');
        assert_eq!(b.peek(3).unwrap(), b"h1,");
        b.skip(6).unwrap();
        let chunks = b.next_block(4).unwrap().unwrap();
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.bytes.to_vec()).collect();
        assert_eq!(joined, b"x,1\ny,2");
        assert_eq!(chunks[0].lines_before, 1);
        assert!(b.next_block(4).unwrap().is_none());
    }
}
