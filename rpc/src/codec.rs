//! The binary body format: one format-version byte, then bincode (standard config) of a
//! serde type. The version byte lets a node refuse a peer speaking another format instead
//! of misreading it.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Bumped whenever a wire type changes incompatibly.
pub const WIRE_FORMAT_VERSION: u8 = 1;

/// Bodies larger than this are refused before decoding (snapshots included).
pub const MAX_BODY_BYTES: usize = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty body")]
    Empty,
    #[error("wire format version {found} is not supported (expected {WIRE_FORMAT_VERSION})")]
    Version { found: u8 },
    #[error("cannot encode: {0}")]
    Encode(String),
    #[error("cannot decode: {0}")]
    Decode(String),
}

pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, CodecError> {
    let mut out = vec![WIRE_FORMAT_VERSION];
    bincode::serde::encode_into_std_write(value, &mut out, bincode::config::standard())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    Ok(Bytes::from(out))
}

pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    let (&version, rest) = body.split_first().ok_or(CodecError::Empty)?;
    if version != WIRE_FORMAT_VERSION {
        return Err(CodecError::Version { found: version });
    }
    let config = bincode::config::standard().with_limit::<MAX_BODY_BYTES>();
    let (value, used) = bincode::serde::decode_from_slice(rest, config)
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != rest.len() {
        return Err(CodecError::Decode(format!(
            "{} trailing bytes",
            rest.len() - used
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Sample {
        A { id: u64, name: String },
        B(Vec<u8>),
    }

    #[test]
    fn round_trips() {
        let v = Sample::A {
            id: 7,
            name: "x".into(),
        };
        let bytes = encode(&v).unwrap();
        assert_eq!(bytes[0], WIRE_FORMAT_VERSION);
        assert_eq!(decode::<Sample>(&bytes).unwrap(), v);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(decode::<Sample>(&[]), Err(CodecError::Empty)));
        let mut bytes = encode(&Sample::B(vec![1, 2])).unwrap().to_vec();
        bytes[0] = 9;
        assert!(matches!(
            decode::<Sample>(&bytes),
            Err(CodecError::Version { found: 9 })
        ));
        bytes[0] = WIRE_FORMAT_VERSION;
        bytes.push(0);
        assert!(matches!(
            decode::<Sample>(&bytes),
            Err(CodecError::Decode(_))
        ));
        assert!(matches!(
            decode::<Sample>(&[WIRE_FORMAT_VERSION, 0xff, 0xff]),
            Err(CodecError::Decode(_))
        ));
    }
}
