//! Text vectorizer kernels: tokenization, n-grams, counting and feature
//! hashing with exactly scikit-learn's semantics (`CountVectorizer`,
//! `TfidfVectorizer`, `HashingVectorizer`).
//!
//! Character classes follow Python's `re` module, not Rust's Unicode
//! definitions: the caller passes a table with one byte of flags per code
//! point ([`WORD`] for `\w`, [`SPACE`] for `\s` / `str.isspace`), built from
//! the running interpreter. Lowercasing of non-ASCII text is the caller's job
//! (Python's `str.lower` has its own Unicode version and special cases); this
//! module only lowercases documents that are pure ASCII.
//!
//! Documents are processed in contiguous chunks on a rayon pool; a fit merges
//! the chunks' vocabularies in document order, so term ids are assigned in
//! first-seen order exactly as scikit-learn's `_count_vocab` does, whatever
//! the thread count.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};
use rayon::prelude::*;
use rayon::ThreadPoolBuildError;

/// Flag bit: the code point matches Python's `\w`.
pub const WORD: u8 = 1;
/// Flag bit: the code point matches Python's `\s` (`str.isspace`).
pub const SPACE: u8 = 2;
/// Flag bit: `str.lower` maps the code point to another single code point,
/// given by the lowercase map.
pub const LOWER_SIMPLE: u8 = 4;
/// Flag bit: `str.lower` maps the code point to several code points or
/// depends on its context (capital sigma); such text is lowercased by
/// Python.
pub const LOWER_SPECIAL: u8 = 8;

/// Which n-grams an analyzer produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Token n-grams, tokens being `(?u)\b\w\w+\b` matches.
    Word,
    /// Character n-grams over whitespace-normalized text.
    Char,
    /// Character n-grams inside space-padded words.
    CharWb,
}

impl Kind {
    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "word" => Some(Kind::Word),
            "char" => Some(Kind::Char),
            "char_wb" => Some(Kind::CharWb),
            _ => None,
        }
    }
}

/// Per-code-point flags ([`WORD`], [`SPACE`], [`LOWER_SIMPLE`],
/// [`LOWER_SPECIAL`]) and lowercase map (one `u32` per code point); code
/// points past their ends have no flag and map to themselves.
#[derive(Clone, Copy)]
pub struct CharTable<'a> {
    flags: &'a [u8],
    lower: &'a [u32],
}

impl<'a> CharTable<'a> {
    pub fn new(flags: &'a [u8]) -> Self {
        CharTable { flags, lower: &[] }
    }

    pub fn with_lower(flags: &'a [u8], lower: &'a [u32]) -> Self {
        CharTable { flags, lower }
    }

    /// Whether `text` can be lowercased with the per-code-point map.
    pub fn simple_lowercase(&self, text: &str) -> bool {
        text.chars().all(|c| self.flag(c) & LOWER_SPECIAL == 0)
    }

    #[inline]
    fn lowercase(&self, c: char) -> char {
        if self.flag(c) & LOWER_SIMPLE != 0 {
            if let Some(&m) = self.lower.get(c as usize) {
                return char::from_u32(m).unwrap_or(c);
            }
        }
        c
    }

    #[inline]
    fn flag(&self, c: char) -> u8 {
        self.flags.get(c as usize).copied().unwrap_or(0)
    }

    #[inline]
    fn is_word(&self, c: char) -> bool {
        self.flag(c) & WORD != 0
    }

    #[inline]
    fn is_space(&self, c: char) -> bool {
        self.flag(c) & SPACE != 0
    }
}

/// A document as the analyzer sees it: its text and whether it still has
/// to be lowercased (ASCII, or with the table's simple map).
#[derive(Clone, Copy)]
pub struct Doc<'a> {
    pub text: &'a str,
    pub lower: bool,
}

/// What an analyzer does, apart from its character table: built once (per
/// estimator), then paired with the table by [`Settings::analyzer`].
pub struct Settings {
    kind: Kind,
    min_n: usize,
    max_n: usize,
    stop_words: Option<hashbrown::HashSet<String>>,
}

impl Settings {
    /// `stop_words` only applies to the word analyzer (as in scikit-learn).
    pub fn new(
        kind: Kind,
        min_n: usize,
        max_n: usize,
        stop_words: Option<&[&str]>,
    ) -> Result<Self, String> {
        if min_n < 1 || min_n > max_n {
            return Err(format!("invalid n-gram range ({min_n}, {max_n})"));
        }
        let stop_words = match kind {
            Kind::Word => stop_words.map(|w| w.iter().map(|&w| w.to_owned()).collect()),
            _ => None,
        };
        Ok(Settings {
            kind,
            min_n,
            max_n,
            stop_words,
        })
    }

    /// The analyzer of these settings with `table`.
    pub fn analyzer<'a>(&'a self, table: CharTable<'a>) -> Analyzer<'a> {
        Analyzer {
            kind: self.kind,
            min_n: self.min_n,
            max_n: self.max_n,
            table,
            stop_words: self.stop_words.as_ref(),
        }
    }
}

/// Turns documents into features (n-grams), in scikit-learn's order.
pub struct Analyzer<'a> {
    kind: Kind,
    min_n: usize,
    max_n: usize,
    table: CharTable<'a>,
    stop_words: Option<&'a hashbrown::HashSet<String>>,
}

/// Reusable buffers of one worker.
#[derive(Default)]
pub struct Scratch {
    lower: String,
    norm: String,
    padded: String,
    gram: String,
    offs: Vec<usize>,
    spans: Vec<(usize, usize)>,
}

impl Analyzer<'_> {
    /// Calls `emit` with each feature of `doc`, in scikit-learn's order.
    pub fn analyze(&self, doc: Doc<'_>, s: &mut Scratch, emit: &mut impl FnMut(&str)) {
        let Scratch {
            lower,
            norm,
            padded,
            gram,
            offs,
            spans,
        } = s;
        let text: &str = if !doc.lower {
            doc.text
        } else if doc.text.is_ascii() {
            if doc.text.bytes().any(|b| b.is_ascii_uppercase()) {
                lower.clear();
                lower.push_str(doc.text);
                lower.make_ascii_lowercase();
                lower
            } else {
                doc.text
            }
        } else {
            lower.clear();
            lower.extend(doc.text.chars().map(|c| self.table.lowercase(c)));
            lower
        };
        match self.kind {
            Kind::Word => self.word_ngrams(text, spans, gram, emit),
            Kind::Char => {
                let text = self.collapse_spaces(text, norm);
                char_ngrams(text, self.min_n, self.max_n, offs, emit);
            }
            Kind::CharWb => self.char_wb_ngrams(text, padded, offs, emit),
        }
    }

    /// Byte spans of the `(?u)\b\w\w+\b` matches: maximal runs of word
    /// characters at least two code points long.
    fn tokens(&self, text: &str, spans: &mut Vec<(usize, usize)>) {
        spans.clear();
        if text.is_ascii() {
            let flags = self.table.flags;
            let words = text.bytes().map(|b| flags[b as usize] & WORD != 0);
            word_runs(words.enumerate(), text.len(), spans);
        } else {
            let words = text.char_indices().map(|(i, c)| (i, self.table.is_word(c)));
            word_runs(words, text.len(), spans);
        }
    }

    fn word_ngrams(
        &self,
        text: &str,
        spans: &mut Vec<(usize, usize)>,
        gram: &mut String,
        emit: &mut impl FnMut(&str),
    ) {
        self.tokens(text, spans);
        if let Some(stop) = self.stop_words {
            spans.retain(|&(a, b)| !stop.contains(&text[a..b]));
        }
        let tok = |i: usize| &text[spans[i].0..spans[i].1];
        let n_tok = spans.len();
        let mut min_n = self.min_n;
        if self.max_n == 1 || min_n == 1 {
            for i in 0..n_tok {
                emit(tok(i));
            }
            if self.max_n == 1 {
                return;
            }
            min_n = 2;
        }
        for n in min_n..=self.max_n.min(n_tok) {
            for i in 0..=n_tok - n {
                gram.clear();
                gram.push_str(tok(i));
                for j in i + 1..i + n {
                    gram.push(' ');
                    gram.push_str(tok(j));
                }
                emit(gram);
            }
        }
    }

    /// `re.sub(r"\s\s+", " ", text)`: runs of two or more whitespace
    /// characters become one space; a lone whitespace character stays.
    fn collapse_spaces<'t>(&self, text: &'t str, norm: &'t mut String) -> &'t str {
        let mut prev_space = false;
        let mut needed = false;
        for c in text.chars() {
            let sp = self.table.is_space(c);
            if sp && prev_space {
                needed = true;
                break;
            }
            prev_space = sp;
        }
        if !needed {
            return text;
        }
        norm.clear();
        let mut it = text.chars().peekable();
        while let Some(c) = it.next() {
            if self.table.is_space(c) && it.peek().is_some_and(|&d| self.table.is_space(d)) {
                while it.peek().is_some_and(|&d| self.table.is_space(d)) {
                    it.next();
                }
                norm.push(' ');
            } else {
                norm.push(c);
            }
        }
        norm
    }

    fn char_wb_ngrams(
        &self,
        text: &str,
        padded: &mut String,
        offs: &mut Vec<usize>,
        emit: &mut impl FnMut(&str),
    ) {
        let mut start: Option<usize> = None;
        for (i, c) in text.char_indices() {
            if self.table.is_space(c) {
                if let Some(a) = start.take() {
                    self.padded_word(&text[a..i], padded, offs, emit);
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(a) = start {
            self.padded_word(&text[a..], padded, offs, emit);
        }
    }

    /// The n-grams of `" " + word + " "`, as `_char_wb_ngrams` emits them.
    fn padded_word(
        &self,
        word: &str,
        padded: &mut String,
        offs: &mut Vec<usize>,
        emit: &mut impl FnMut(&str),
    ) {
        padded.clear();
        padded.push(' ');
        padded.push_str(word);
        padded.push(' ');
        let w = padded.as_str();
        let w_len = code_point_offsets(w, offs);
        let at = |i: usize| if offs.is_empty() { i } else { offs[i] };
        for n in self.min_n..=self.max_n {
            let mut offset = 0usize;
            emit(&w[..at(n.min(w_len))]);
            while offset + n < w_len {
                offset += 1;
                emit(&w[at(offset)..at(offset + n)]);
            }
            if offset == 0 {
                break;
            }
        }
    }
}

/// Appends to `spans` the byte spans of the runs of two or more word
/// characters of a `len`-byte text, given each character's byte offset and
/// whether it is a word character.
#[inline(always)]
fn word_runs(
    chars: impl Iterator<Item = (usize, bool)>,
    len: usize,
    spans: &mut Vec<(usize, usize)>,
) {
    let mut start = 0usize;
    let mut run = 0usize;
    for (i, word) in chars {
        if word {
            if run == 0 {
                start = i;
            }
            run += 1;
        } else {
            if run >= 2 {
                spans.push((start, i));
            }
            run = 0;
        }
    }
    if run >= 2 {
        spans.push((start, len));
    }
}

/// Fills `offs` with the byte offset of every code point of `text` plus its
/// length, and returns the number of code points. For ASCII text `offs` is
/// left empty (offsets are the indices themselves).
fn code_point_offsets(text: &str, offs: &mut Vec<usize>) -> usize {
    offs.clear();
    if text.is_ascii() {
        return text.len();
    }
    offs.extend(text.char_indices().map(|(i, _)| i));
    let n = offs.len();
    offs.push(text.len());
    n
}

fn char_ngrams(
    text: &str,
    min_n: usize,
    max_n: usize,
    offs: &mut Vec<usize>,
    emit: &mut impl FnMut(&str),
) {
    let len = code_point_offsets(text, offs);
    let at = |i: usize| if offs.is_empty() { i } else { offs[i] };
    for n in min_n..=max_n.min(len) {
        for i in 0..=len - n {
            emit(&text[at(i)..at(i + n)]);
        }
    }
}

// ---------------------------------------------------------------------------
// Vocabularies

/// An interning table of terms: ids are dense and assigned in insertion
/// order; the term bytes live in one arena.
pub struct Vocab {
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
    arena: Vec<u8>,
    ends: Vec<usize>,
}

impl Default for Vocab {
    fn default() -> Self {
        Vocab {
            table: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            arena: Vec::new(),
            ends: Vec::new(),
        }
    }
}

impl Vocab {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn term(&self, id: u32) -> &str {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        // SAFETY: the arena only holds whole `&str`s appended by `intern`,
        // and `start..end` delimits exactly one of them.
        unsafe { std::str::from_utf8_unchecked(&self.arena[start..self.ends[id]]) }
    }

    #[inline]
    pub fn get(&self, term: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(term.as_bytes());
        self.table.find(hash, |&id| self.term(id) == term).copied()
    }

    /// The id of `term`, adding it if new.
    #[inline]
    pub fn intern(&mut self, term: &str) -> u32 {
        let hash = self.hasher.hash_one(term.as_bytes());
        let Vocab {
            table,
            hasher,
            arena,
            ends,
        } = self;
        if let Some(&id) = table.find(hash, |&id| term_of(id, arena, ends) == term.as_bytes()) {
            return id;
        }
        let id = ends.len() as u32;
        arena.extend_from_slice(term.as_bytes());
        ends.push(arena.len());
        table.insert_unique(hash, id, |&id| hasher.hash_one(term_of(id, arena, ends)));
        id
    }

    /// For each id, its rank in the code-point (= UTF-8 byte) order of terms.
    pub fn sorted_ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.par_sort_unstable_by(|&a, &b| self.term(a).cmp(self.term(b)));
        let mut rank = vec![0u32; self.len()];
        for (r, &id) in order.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        rank
    }
}

fn term_of<'v>(id: u32, arena: &'v [u8], ends: &[usize]) -> &'v [u8] {
    let id = id as usize;
    let start = if id == 0 { 0 } else { ends[id - 1] };
    &arena[start..ends[id]]
}

// ---------------------------------------------------------------------------
// Sparse rows

/// Rows of a sparse matrix under construction: per row, its entries.
#[derive(Default)]
pub struct Rows<V> {
    pub row_nnz: Vec<usize>,
    pub cols: Vec<u32>,
    pub vals: Vec<V>,
}

impl<V: Copy> Rows<V> {
    pub fn nnz(&self) -> usize {
        self.cols.len()
    }
}

/// Sorts `ids` and appends one `(id, count)` entry per distinct id.
fn push_counted_row(ids: &mut [u32], rows: &mut Rows<u32>) {
    ids.sort_unstable();
    let before = rows.cols.len();
    let mut i = 0;
    while i < ids.len() {
        let id = ids[i];
        let mut j = i + 1;
        while j < ids.len() && ids[j] == id {
            j += 1;
        }
        rows.cols.push(id);
        rows.vals.push((j - i) as u32);
        i = j;
    }
    rows.row_nnz.push(rows.cols.len() - before);
}

/// Contiguous `[start, end)` ranges splitting `n` items into `parts` chunks.
fn split_ranges(n: usize, parts: usize) -> Vec<(usize, usize)> {
    let parts = parts.clamp(1, n.max(1));
    (0..parts)
        .map(|k| (k * n / parts, (k + 1) * n / parts))
        .collect()
}

/// Documents per work item for the kernels that need no merge.
const TASK_DOCS: usize = 2048;

/// A fitted vocabulary and the count matrix of the training documents.
pub struct FitCounts {
    /// Terms in first-seen order (their id is their position).
    pub vocab: Vocab,
    /// Per-row entries, columns being first-seen ids sorted ascending.
    pub rows: Rows<u32>,
}

/// Learns the vocabulary of `docs` and counts each document's terms
/// (scikit-learn's `_count_vocab(..., fixed_vocab=False)` followed by
/// `sort_indices`).
pub fn count_fit(analyzer: &Analyzer<'_>, docs: &[Doc<'_>], n_chunks: usize) -> FitCounts {
    let ranges = split_ranges(docs.len(), n_chunks);
    let mut parts: Vec<(Vocab, Rows<u32>)> = ranges
        .par_iter()
        .map(|&(a, b)| {
            let mut vocab = Vocab::default();
            let mut rows = Rows::default();
            let mut scratch = Scratch::default();
            let mut ids: Vec<u32> = Vec::new();
            for &doc in &docs[a..b] {
                ids.clear();
                analyzer.analyze(doc, &mut scratch, &mut |f| ids.push(vocab.intern(f)));
                push_counted_row(&mut ids, &mut rows);
            }
            (vocab, rows)
        })
        .collect();
    if parts.is_empty() {
        return FitCounts {
            vocab: Vocab::default(),
            rows: Rows::default(),
        };
    }
    // Merge vocabularies in document order: first-seen ids, as a serial pass.
    let (mut vocab, rows0) = parts.remove(0);
    let maps: Vec<Vec<u32>> = parts
        .iter()
        .map(|(local, _)| {
            (0..local.len() as u32)
                .map(|id| vocab.intern(local.term(id)))
                .collect()
        })
        .collect();
    let remapped: Vec<Rows<u32>> = parts
        .into_par_iter()
        .zip(maps.par_iter())
        .map(|((_, rows), map)| remap_rows(rows, map))
        .collect();
    let mut all = rows0;
    for r in remapped {
        all.row_nnz.extend_from_slice(&r.row_nnz);
        all.cols.extend_from_slice(&r.cols);
        all.vals.extend_from_slice(&r.vals);
    }
    FitCounts { vocab, rows: all }
}

/// Maps every column through `map` and re-sorts each row by column.
fn remap_rows(rows: Rows<u32>, map: &[u32]) -> Rows<u32> {
    let Rows {
        row_nnz,
        mut cols,
        mut vals,
    } = rows;
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut start = 0;
    for &len in &row_nnz {
        let end = start + len;
        pairs.clear();
        pairs.extend((start..end).map(|k| (map[cols[k] as usize], vals[k])));
        pairs.sort_unstable_by_key(|p| p.0);
        for (k, &(c, v)) in (start..end).zip(pairs.iter()) {
            cols[k] = c;
            vals[k] = v;
        }
        start = end;
    }
    Rows {
        row_nnz,
        cols,
        vals,
    }
}

/// Counts the terms of a fixed vocabulary (`index[id]` is the column of the
/// vocabulary's term `id`) in each document, columns sorted ascending.
pub fn count_transform(
    analyzer: &Analyzer<'_>,
    docs: &[Doc<'_>],
    vocab: &Vocab,
    index: &[u32],
) -> Rows<u32> {
    let parts: Vec<Rows<u32>> = docs
        .par_chunks(TASK_DOCS)
        .map(|chunk| {
            let mut rows = Rows::default();
            let mut scratch = Scratch::default();
            let mut ids: Vec<u32> = Vec::new();
            for &doc in chunk {
                ids.clear();
                analyzer.analyze(doc, &mut scratch, &mut |f| {
                    if let Some(id) = vocab.get(f) {
                        ids.push(index[id as usize]);
                    }
                });
                push_counted_row(&mut ids, &mut rows);
            }
            rows
        })
        .collect();
    concat_rows(parts)
}

fn concat_rows<V: Copy>(parts: Vec<Rows<V>>) -> Rows<V> {
    let mut it = parts.into_iter();
    let Some(mut all) = it.next() else {
        return Rows {
            row_nnz: Vec::new(),
            cols: Vec::new(),
            vals: Vec::new(),
        };
    };
    for r in it {
        all.row_nnz.extend_from_slice(&r.row_nnz);
        all.cols.extend_from_slice(&r.cols);
        all.vals.extend_from_slice(&r.vals);
    }
    all
}

// ---------------------------------------------------------------------------
// Feature hashing

/// MurmurHash3 x86 32-bit of `key` (scikit-learn's `murmurhash3_32`,
/// signed result).
pub fn murmurhash3_32(key: &[u8], seed: u32) -> i32 {
    let mut h = seed;
    let mut blocks = key.chunks_exact(4);
    for b in &mut blocks {
        h = murmur3_round(h, murmur3_mix(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        h ^= murmur3_mix(murmur3_tail(tail));
    }
    murmur3_finish(h, key.len()) as i32
}

/// MurmurHash3's scrambling of a 4-byte block (or of the tail): the part of
/// the hash that does not depend on the seed.
#[inline(always)]
pub fn murmur3_mix(k: u32) -> u32 {
    k.wrapping_mul(0xcc9e_2d51)
        .rotate_left(15)
        .wrapping_mul(0x1b87_3593)
}

/// The last 1 to 3 bytes of a key as one little-endian word.
#[inline(always)]
pub fn murmur3_tail(tail: &[u8]) -> u32 {
    tail.iter()
        .enumerate()
        .fold(0, |k, (i, &b)| k | u32::from(b) << (8 * i))
}

/// Folds a scrambled 4-byte block into the state `h`.
#[inline(always)]
pub fn murmur3_round(h: u32, k: u32) -> u32 {
    (h ^ k)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

/// The final avalanche of the state `h` of a `len`-byte key.
#[inline(always)]
pub fn murmur3_finish(mut h: u32, len: usize) -> u32 {
    h ^= len as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// Column and sign of a feature, as `sklearn.feature_extraction._hashing_fast`.
#[inline]
pub fn hashed_column(feature: &str, n_features: u32, alternate_sign: bool) -> (u32, f64) {
    let h = murmurhash3_32(feature.as_bytes(), 0);
    let col = if h == i32::MIN {
        (i32::MAX as u32 - (n_features - 1)) % n_features
    } else {
        h.unsigned_abs() % n_features
    };
    let sign = if alternate_sign && h < 0 { -1.0 } else { 1.0 };
    (col, sign)
}

/// Hashes each document's features into `n_features` columns; rows are
/// sorted by column with duplicates summed (zeros kept), as
/// `FeatureHasher.transform` does.
pub fn hash_transform(
    analyzer: &Analyzer<'_>,
    docs: &[Doc<'_>],
    n_features: u32,
    alternate_sign: bool,
) -> Rows<f64> {
    let parts: Vec<Rows<f64>> = docs
        .par_chunks(TASK_DOCS)
        .map(|chunk| {
            let mut rows = Rows::default();
            let mut scratch = Scratch::default();
            // Column and sign packed in one key: `col << 1 | negative`.
            let mut keys: Vec<u64> = Vec::new();
            for &doc in chunk {
                keys.clear();
                analyzer.analyze(doc, &mut scratch, &mut |f| {
                    let (col, sign) = hashed_column(f, n_features, alternate_sign);
                    keys.push(u64::from(col) << 1 | u64::from(sign < 0.0));
                });
                keys.sort_unstable();
                let before = rows.cols.len();
                let mut i = 0;
                while i < keys.len() {
                    let col = keys[i] >> 1;
                    let mut v = 0.0f64;
                    while i < keys.len() && keys[i] >> 1 == col {
                        v += if keys[i] & 1 == 1 { -1.0 } else { 1.0 };
                        i += 1;
                    }
                    rows.cols.push(col as u32);
                    rows.vals.push(v);
                }
                rows.row_nnz.push(rows.cols.len() - before);
            }
            rows
        })
        .collect();
    concat_rows(parts)
}

// ---------------------------------------------------------------------------
// Thread pools

/// Runs `f` on a pool of `n_threads` threads (built once and cached).
pub fn run_in_pool<R: Send>(
    n_threads: usize,
    f: impl FnOnce() -> R + Send,
) -> Result<R, ThreadPoolBuildError> {
    Ok(crate::par::pool("text", n_threads.max(1))?.install(f))
}

#[cfg(feature = "pyo3")]
pub(crate) mod py;

#[cfg(test)]
mod tests;
