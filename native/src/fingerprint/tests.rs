use super::*;

fn blake2b128(parts: &[&[u8]]) -> Digest16 {
    let mut h = Blake2b128::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Straightforward restatement of the definition, for comparison.
fn reference(data: &[u8]) -> Digest16 {
    let mut parts: Vec<Vec<u8>> = vec![(data.len() as u64).to_le_bytes().to_vec()];
    let mut off = 0;
    while off < data.len() {
        let end = (off + CHUNK_SIZE).min(data.len());
        parts.push(blake2b128(&[&data[off..end]]).to_vec());
        off = end;
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    blake2b128(&refs)
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

fn hex(d: &Digest16) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn blake2b128_known_answer() {
    // hashlib.blake2b(b"abc", digest_size=16).hexdigest()
    assert_eq!(
        hex(&blake2b128(&[b"abc"])),
        "cf4ab791c62b8d2b2109c90275287816"
    );
}

#[test]
fn empty_input_has_zero_chunks() {
    let got = fingerprint(b"");
    assert_eq!(got, blake2b128(&[&0u64.to_le_bytes()]));
    assert_eq!(got, reference(b""));
    // hashlib.blake2b(bytes(8), digest_size=16).hexdigest()
    assert_eq!(hex(&got), "c804ce198ec337e3dc762bdd1a09aece");
}

#[test]
fn small_input_is_one_chunk() {
    let data = b"stratum";
    let inner = blake2b128(&[data]);
    let expected = blake2b128(&[&(data.len() as u64).to_le_bytes(), &inner]);
    assert_eq!(fingerprint(data), expected);
    assert_eq!(fingerprint(data), reference(data));
}

#[test]
fn boundary_at_exactly_one_chunk() {
    let data = pseudo_random(CHUNK_SIZE + 1, 7);
    let one = &data[..CHUNK_SIZE];
    let expected = blake2b128(&[&(CHUNK_SIZE as u64).to_le_bytes(), &blake2b128(&[one])]);
    assert_eq!(fingerprint(one), expected);
    // One more byte starts a second (1-byte) chunk.
    let expected2 = blake2b128(&[
        &((CHUNK_SIZE + 1) as u64).to_le_bytes(),
        &blake2b128(&[one]),
        &blake2b128(&[&data[CHUNK_SIZE..]]),
    ]);
    assert_eq!(fingerprint(&data), expected2);
    assert_ne!(fingerprint(one), fingerprint(&data[..CHUNK_SIZE - 1]));
}

#[test]
fn multi_chunk_serial_and_parallel_agree() {
    let data = pseudo_random(5 * CHUNK_SIZE + 123, 42);
    let expected = reference(&data);
    assert_eq!(fingerprint(&data), expected);
    for n_threads in [0, 1, 2, 3, 8] {
        assert_eq!(
            fingerprint_parallel(&data, n_threads).expect("thread pool"),
            expected
        );
    }
}

#[test]
fn parallel_threshold_boundaries() {
    let data = pseudo_random(4 * CHUNK_SIZE + 1, 3);
    for len in [
        3 * CHUNK_SIZE,
        3 * CHUNK_SIZE + 1,
        4 * CHUNK_SIZE,
        4 * CHUNK_SIZE + 1,
    ] {
        let slice = &data[..len];
        assert_eq!(
            fingerprint_parallel(slice, 2).expect("thread pool"),
            reference(slice)
        );
    }
}

#[test]
fn length_is_part_of_the_digest() {
    // Same chunk contents, different totals: zero bytes vs. nothing.
    assert_ne!(fingerprint(b""), fingerprint(&[0u8]));
    assert_ne!(fingerprint(&[0u8; 3]), fingerprint(&[0u8; 4]));
}
