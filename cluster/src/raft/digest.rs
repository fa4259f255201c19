//! A hash of the replicated records, for comparing replicas.

use std::io;

use sha2::Digest;

use super::state_machine::META_PREFIX;

/// The number of replicated records in `tree` and a SHA-256 (hex) over them in key order,
/// each as its key and value lengths and bytes. Node-local bookkeeping (applied index,
/// membership) is left out, so replicas that applied the same records hash alike even if
/// one has applied more entries that change no record (a new leader's blank entry).
pub(crate) fn records_digest(tree: &sled::Tree) -> io::Result<(u64, String)> {
    let mut hasher = sha2::Sha256::new();
    let mut records = 0u64;
    for item in tree.iter() {
        let (key, value) = item.map_err(io::Error::other)?;
        if key.starts_with(META_PREFIX) {
            continue;
        }
        for part in [&key[..], &value[..]] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        records += 1;
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((records, sha256))
}
