//! On-disk encoding of openraft values inside raft-log records.

use std::io;

use meridian_rpc::codec::MAX_BODY_BYTES;
use raft_log::codeq::{Decode, Encode};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value stored in a raft-log record as bincode (self-delimiting, so records need no
/// extra length prefix).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wire<T>(pub T);

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_BODY_BYTES>,
>;

/// Nothing stored was bigger than the RPC body it arrived in, so a length prefix that
/// claims more is corrupt: it fails to decode instead of becoming an allocation that
/// aborts the process (found by fuzz/internal_codec). The limit does not change the bytes.
fn config() -> Config {
    bincode::config::standard().with_limit::<MAX_BODY_BYTES>()
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
            .map_err(read_error)
    }
}

/// A value cut off by the end of the input stays an unexpected end: raft-log then takes
/// the last record of its last chunk as a write torn by a crash or a full disk (never
/// reported flushed, so never counted by Raft) and truncates it instead of refusing to
/// open. Anything else is invalid data.
fn read_error(e: bincode::error::DecodeError) -> io::Error {
    use bincode::error::DecodeError;
    match e {
        DecodeError::Io { inner, .. } if inner.kind() == io::ErrorKind::UnexpectedEof => inner,
        DecodeError::UnexpectedEnd { .. } => io::Error::new(io::ErrorKind::UnexpectedEof, e),
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}

pub fn to_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, io::Error> {
    bincode::serde::encode_to_vec(value, config()).map_err(io::Error::other)
}

pub fn from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, io::Error> {
    bincode::serde::decode_from_slice(bytes, config())
        .map(|(value, _)| value)
        .map_err(read_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Batch;

    /// A fuzzer's input: a batch whose string claims 2^61 bytes.
    #[test]
    fn a_huge_length_prefix_is_an_error_not_an_allocation() {
        let corrupt: [u8; 42] = [
            0x01, 0x04, 0x02, 0x53, 0x61, 0x08, 0x01, 0x01, 0x11, 0x00, 0x00, 0x01, 0x00, 0x00,
            0x01, 0x01, 0x01, 0x08, 0x00, 0x00, 0x01, 0x00, 0x01, 0x10, 0x00, 0x00, 0xfd, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x03,
        ];
        let error = from_bytes::<Batch>(&corrupt).expect_err("corrupt");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_value_cut_off_by_the_end_of_the_input_is_an_unexpected_end() {
        let bytes = to_bytes(&("a log id", 7u64, vec![1u8; 300])).unwrap();
        for cut in [1, bytes.len() / 2, bytes.len() - 1] {
            let read = Wire::<(String, u64, Vec<u8>)>::decode(&bytes[..cut]);
            assert_eq!(
                read.expect_err("cut off").kind(),
                io::ErrorKind::UnexpectedEof
            );
        }
    }
}
