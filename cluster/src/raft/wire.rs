//! On-disk encoding of openraft values inside raft-log records.

use std::io;

use raft_log::codeq::{Decode, Encode};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value stored in a raft-log record as bincode (self-delimiting, so records need no
/// extra length prefix).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wire<T>(pub T);

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

impl<T: Serialize> Encode for Wire<T> {
    fn encode<W: io::Write>(&self, mut w: W) -> Result<usize, io::Error> {
        bincode::serde::encode_into_std_write(&self.0, &mut w, config()).map_err(io::Error::other)
    }
}

impl<T: DeserializeOwned> Decode for Wire<T> {
    fn decode<R: io::Read>(mut r: R) -> Result<Self, io::Error> {
        bincode::serde::decode_from_std_read(&mut r, config())
            .map(Wire)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

pub fn to_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, io::Error> {
    bincode::serde::encode_to_vec(value, config()).map_err(io::Error::other)
}

pub fn from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, io::Error> {
    bincode::serde::decode_from_slice(bytes, config())
        .map(|(value, _)| value)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
