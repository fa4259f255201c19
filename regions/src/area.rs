//! Area codes: the data centers an app can live in (SPEC §1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One data center. The canonical spelling (`as_str`) is the exact string used on the
/// wire, in config files and in SDK configuration.
#[derive(Copy, Clone, Eq, PartialEq, Hash, Ord, PartialOrd, Debug)]
pub enum AreaCode {
    Cn,
    Sg,
    SgB,
    Na,
    Sa,
}

impl AreaCode {
    /// Every area, in declaration order.
    pub const ALL: [AreaCode; 5] = [
        AreaCode::Cn,
        AreaCode::Sg,
        AreaCode::SgB,
        AreaCode::Na,
        AreaCode::Sa,
    ];

    /// Canonical spelling: "CN", "SG", "SG-B", "NA", "SA".
    pub const fn as_str(self) -> &'static str {
        match self {
            AreaCode::Cn => "CN",
            AreaCode::Sg => "SG",
            AreaCode::SgB => "SG-B",
            AreaCode::Na => "NA",
            AreaCode::Sa => "SA",
        }
    }

    /// Numeric code used by client SDKs. Fixed by the SDK protocol, so it does not
    /// follow declaration order (NA is 3, SG-B is 4).
    pub const fn sdk_code(self) -> u8 {
        match self {
            AreaCode::Cn => 1,
            AreaCode::Sg => 2,
            AreaCode::Na => 3,
            AreaCode::SgB => 4,
            AreaCode::Sa => 5,
        }
    }

    /// Inverse of [`AreaCode::sdk_code`].
    pub fn from_sdk_code(code: u8) -> Option<AreaCode> {
        AreaCode::ALL.into_iter().find(|a| a.sdk_code() == code)
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the canonical area codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown area code {0:?}, expected one of CN, SG, SG-B, NA, SA")]
pub struct UnknownAreaCode(pub String);

impl FromStr for AreaCode {
    type Err = UnknownAreaCode;

    /// Case-insensitive, but only on the canonical spellings: "sg-b" is accepted,
    /// "SGB" and "SG_B" are not, so a typo never silently picks an area.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AreaCode::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownAreaCode(s.to_owned()))
    }
}

impl Serialize for AreaCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AreaCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = AreaCode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an area code (CN, SG, SG-B, NA, SA)")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AreaCode, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_canonical_strings_case_insensitively() {
        assert_eq!("CN".parse::<AreaCode>(), Ok(AreaCode::Cn));
        assert_eq!("sg".parse::<AreaCode>(), Ok(AreaCode::Sg));
        assert_eq!("sg-b".parse::<AreaCode>(), Ok(AreaCode::SgB));
        assert_eq!("Sg-B".parse::<AreaCode>(), Ok(AreaCode::SgB));
        assert_eq!("na".parse::<AreaCode>(), Ok(AreaCode::Na));
        assert_eq!("sA".parse::<AreaCode>(), Ok(AreaCode::Sa));
    }

    #[test]
    fn rejects_non_canonical_spellings() {
        for bad in ["sgb", "SG_B", "SG B", " SG", "", "EU", "SG-B-"] {
            let err = bad.parse::<AreaCode>().unwrap_err();
            assert_eq!(err, UnknownAreaCode(bad.to_owned()));
            let msg = err.to_string();
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
            assert!(msg.contains("CN, SG, SG-B, NA, SA"), "{msg}");
        }
    }

    #[test]
    fn displays_canonical_strings() {
        let shown: Vec<String> = AreaCode::ALL.iter().map(|a| a.to_string()).collect();
        assert_eq!(shown, ["CN", "SG", "SG-B", "NA", "SA"]);
        for a in AreaCode::ALL {
            assert_eq!(a.to_string(), a.as_str());
            assert_eq!(a.as_str().parse::<AreaCode>(), Ok(a));
        }
    }

    #[test]
    fn sdk_codes_match_spec_and_round_trip() {
        let codes: Vec<(AreaCode, u8)> = AreaCode::ALL.iter().map(|a| (*a, a.sdk_code())).collect();
        assert_eq!(
            codes,
            [
                (AreaCode::Cn, 1),
                (AreaCode::Sg, 2),
                (AreaCode::SgB, 4),
                (AreaCode::Na, 3),
                (AreaCode::Sa, 5),
            ]
        );
        for a in AreaCode::ALL {
            assert_eq!(AreaCode::from_sdk_code(a.sdk_code()), Some(a));
        }
        assert_eq!(AreaCode::from_sdk_code(0), None);
        assert_eq!(AreaCode::from_sdk_code(6), None);
    }

    #[test]
    fn serde_uses_canonical_string() {
        assert_eq!(serde_json::to_string(&AreaCode::SgB).unwrap(), "\"SG-B\"");
        assert_eq!(
            serde_json::from_str::<AreaCode>("\"sg-b\"").unwrap(),
            AreaCode::SgB
        );
        let err = serde_json::from_str::<AreaCode>("\"SG_B\"").unwrap_err();
        assert!(
            err.to_string().contains("unknown area code \"SG_B\""),
            "{err}"
        );
        let err = serde_json::from_str::<AreaCode>("2").unwrap_err();
        assert!(err.to_string().contains("an area code"), "{err}");
    }
}
