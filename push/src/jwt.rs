//! Compact JSON Web Tokens signed with ring: ES256 for APNs provider tokens, RS256 for
//! Google service-account assertions.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivatePkcs8KeyDer;
use serde_json::Value;

fn pkcs8_der(pem: &str) -> Result<PrivatePkcs8KeyDer<'static>, String> {
    PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("not a PKCS#8 \"PRIVATE KEY\" PEM: {e}"))
}

/// An APNs .p8 key: PKCS#8 holding a P-256 key.
pub(crate) fn p256_key(pem: &str) -> Result<EcdsaKeyPair, String> {
    let der = pkcs8_der(pem)?;
    EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        der.secret_pkcs8_der(),
        &SystemRandom::new(),
    )
    .map_err(|e| format!("not a P-256 private key: {e}"))
}

/// A Google service account key: PKCS#8 holding an RSA key (2048 bits or more).
pub(crate) fn rsa_key(pem: &str) -> Result<RsaKeyPair, String> {
    let der = pkcs8_der(pem)?;
    RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
        .map_err(|e| format!("not an RSA private key: {e}"))
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

pub(crate) fn sign_es256(key_pem: &str, header: &Value, claims: &Value) -> Result<String, String> {
    let key = p256_key(key_pem)?;
    let input = signing_input(header, claims);
    let signature = key
        .sign(&SystemRandom::new(), input.as_bytes())
        .map_err(|_| "ES256 signing failed".to_string())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

pub(crate) fn sign_rs256(key_pem: &str, header: &Value, claims: &Value) -> Result<String, String> {
    let key = rsa_key(key_pem)?;
    let input = signing_input(header, claims);
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "RS256 signing failed".to_string())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// A JWT taken apart (signature not yet checked), for the fakes.
#[cfg(feature = "fake")]
pub(crate) struct Parsed {
    pub header: Value,
    pub claims: Value,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

#[cfg(feature = "fake")]
pub(crate) fn parse(token: &str) -> Option<Parsed> {
    let mut parts = token.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = |part: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    Some(Parsed {
        header: json(header)?,
        claims: json(claims)?,
        signing_input: format!("{header}.{claims}"),
        signature: URL_SAFE_NO_PAD.decode(signature).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // covers: PUSH-02
    #[test]
    fn es256_token_has_a_fixed_size_signature_over_its_first_two_parts() {
        let key = rcgen::KeyPair::generate().unwrap();
        let token = sign_es256(
            &key.serialize_pem(),
            &serde_json::json!({"alg": "ES256", "kid": "ABCDEFGHIJ"}),
            &serde_json::json!({"iss": "TEAM012345", "iat": 1}),
        )
        .unwrap();
        let parsed = parse(&token).unwrap();
        assert_eq!(parsed.header["kid"], "ABCDEFGHIJ");
        assert_eq!(parsed.claims["iss"], "TEAM012345");
        assert_eq!(parsed.signature.len(), 64, "ES256 signatures are r||s");
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            key.public_key_raw(),
        )
        .verify(parsed.signing_input.as_bytes(), &parsed.signature)
        .expect("signature verifies with the public key");
    }

    // covers: PUSH-02
    #[test]
    fn wrong_key_types_are_refused() {
        let p256 = rcgen::KeyPair::generate().unwrap().serialize_pem();
        assert!(rsa_key(&p256).is_err());
        assert!(p256_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err());
        assert!(p256_key("not pem").is_err());
    }
}
