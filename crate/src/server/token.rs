//! Random ids and bearer tokens, and the SHA-256 hashes under which tokens are stored: a copy
//! of the database does not let anyone act as an experimenter or a participant.

use sha2::{Digest, Sha256};

/// `bytes` random bytes from the operating system, as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    // The OS random source failing is not recoverable for a server that hands out secrets.
    getrandom::fill(&mut buffer).expect("the operating system's random source failed");
    hex(&buffer)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Whether `token` hashes to `stored`, compared in constant time.
pub fn matches(token: &str, stored: &str) -> bool {
    let computed = hash(token);
    computed.len() == stored.len()
        && computed
            .bytes()
            .zip(stored.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
