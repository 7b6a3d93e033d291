//! The cryptography of Web Push: the server's VAPID identity (RFC 8292) and the payload
//! encryption a browser can open with its subscription keys (RFC 8291).
//!
//! Crates, and why: the RFC 8188 `aes128gcm` content coding (key and nonce derivation,
//! the record delimiter, AES-128-GCM, the header) comes from `ece-native`, a pure-Rust
//! implementation on RustCrypto's `aes-gcm` and `hkdf`. The Web Push layer on top of it is
//! two steps — a P-256 ECDH with a fresh key and one HKDF (RFC 8291 §3.3, 3.4) — done here
//! with RustCrypto's `p256` and `hkdf`, and pinned byte for byte to the RFC's worked
//! example in the tests below.
//!
//! Rejected: `web-push-native` (the same author's crate around `ece-native`) sets the
//! record size to exactly the record's length, where RFC 8291 §4 requires it to be
//! greater, and builds the VAPID audience without the port; `web-push` and `ece` default
//! to OpenSSL, which a fresh machine would need system packages for. The VAPID token is a
//! three-part ES256 JWT, signed here with `p256::ecdsa` rather than through a JWT library.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::{PublicKey, SecretKey};
use rand::RngCore as _;
use rand::rngs::OsRng;
use sha2::Sha256;
use thiserror::Error;

/// The record size announced in the encrypted payload's header: RFC 8291 §4 asks for one
/// record, with a record size *greater* than the record; 4096 is what browsers and the
/// RFC's example use.
const RECORD_SIZE: u32 = 4096;
/// Header of the encrypted payload: salt (16), record size (4), key id length (1) and the
/// key id, our uncompressed public key (65).
const HEADER_LEN: usize = 16 + 4 + 1 + 65;
/// Longest plaintext: push services accept at most 4096 bytes of body (RFC 8291 §4), and
/// the record adds a delimiter and a 16-byte tag to it.
pub(crate) const MAX_PLAINTEXT: usize = 4096 - HEADER_LEN - 1 - 16;
/// How long a VAPID token is valid: RFC 8292 §2 allows at most 24 hours.
const TOKEN_VALIDITY_SECS: u64 = 12 * 60 * 60;

/// Why a push could not be prepared.
#[derive(Debug, Error)]
pub enum PushCryptoError {
    /// A stored key does not decode (the database was edited by hand, or is corrupt).
    #[error("stored key is not valid: {0}")]
    BadKey(&'static str),
    /// The payload does not fit in one push message.
    #[error("payload of {0} bytes is too long for a push message")]
    TooLong(usize),
    /// Encryption failed (cannot happen with valid keys and length).
    #[error("encryption failed: {0}")]
    Encrypt(String),
}

/// Decodes base64url with or without padding; clients also send the standard alphabet
/// (`+`, `/`), which is accepted too.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let cleaned: String = s
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(cleaned).ok()
}

/// A subscriber's `p256dh` key: an uncompressed point (65 bytes, `0x04 ‖ x ‖ y`) on P-256.
pub(crate) fn parse_p256dh(s: &str) -> Option<PublicKey> {
    let bytes = decode_base64(s)?;
    if bytes.len() != 65 || bytes[0] != 0x04 {
        return None;
    }
    PublicKey::from_sec1_bytes(&bytes).ok()
}

/// A subscriber's `auth` secret: 16 bytes.
pub(crate) fn parse_auth(s: &str) -> Option<[u8; 16]> {
    decode_base64(s)?.try_into().ok()
}

/// `key` as stored and sent: uncompressed, base64url without padding.
pub(crate) fn encode_public_key(key: &PublicKey) -> String {
    URL_SAFE_NO_PAD.encode(key.to_encoded_point(false).as_bytes())
}

/// The server's VAPID key pair: signs every push request, and its public half is what
/// clients pass to the browser as `applicationServerKey`.
#[derive(Clone)]
pub(crate) struct VapidKey {
    signing: SigningKey,
    /// The public key, uncompressed, base64url without padding.
    public: String,
}

impl std::fmt::Debug for VapidKey {
    /// Shows the public key only: the private key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl VapidKey {
    /// A new random key pair.
    pub(crate) fn generate() -> Self {
        Self::from_signing(SigningKey::random(&mut OsRng))
    }

    fn from_signing(signing: SigningKey) -> Self {
        let public =
            URL_SAFE_NO_PAD.encode(signing.verifying_key().to_encoded_point(false).as_bytes());
        Self { signing, public }
    }

    /// The key pair from its stored private scalar ([`VapidKey::private_key`]).
    pub(crate) fn from_private_key(stored: &str) -> Result<Self, PushCryptoError> {
        let bytes = decode_base64(stored).ok_or(PushCryptoError::BadKey("not base64url"))?;
        let signing = SigningKey::from_slice(&bytes)
            .map_err(|_| PushCryptoError::BadKey("not a P-256 private key"))?;
        Ok(Self::from_signing(signing))
    }

    /// The private scalar, base64url, for storing.
    pub(crate) fn private_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signing.to_bytes())
    }

    /// The public key, uncompressed, base64url without padding.
    pub(crate) fn public_key(&self) -> &str {
        &self.public
    }

    /// The `Authorization` header of a push to `endpoint` (RFC 8292 §3):
    /// `vapid t=<JWT>, k=<public key>`, the JWT signed with ES256 and claiming the
    /// endpoint's origin as audience, an expiry 12 hours from `now` (Unix seconds) and
    /// `contact` as subject.
    pub(crate) fn authorization(&self, endpoint: &url::Url, contact: &str, now: u64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            // The origin keeps a non-default port (`https://push.example:8443`).
            "aud": endpoint.origin().ascii_serialization(),
            "exp": now + TOKEN_VALIDITY_SECS,
            "sub": contact,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        // JWS ES256 (RFC 7518 §3.4): SHA-256, the signature as the 64 bytes `r ‖ s`.
        let signature: Signature = self.signing.sign(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        format!("vapid t={signing_input}.{signature}, k={}", self.public)
    }
}

/// Encrypts `plaintext` for a subscriber (RFC 8291) with a fresh key pair and salt, as
/// every message must be: the body of an `aes128gcm` push.
pub(crate) fn encrypt(
    plaintext: &[u8],
    ua_public: &PublicKey,
    auth: &[u8; 16],
) -> Result<Vec<u8>, PushCryptoError> {
    let mut salt = [0_u8; 16];
    OsRng.fill_bytes(&mut salt);
    encrypt_with(
        plaintext,
        ua_public,
        auth,
        &SecretKey::random(&mut OsRng),
        salt,
    )
}

/// [`encrypt`] with the sender's key pair and the salt given (for the RFC's example).
fn encrypt_with(
    plaintext: &[u8],
    ua_public: &PublicKey,
    auth: &[u8; 16],
    as_secret: &SecretKey,
    salt: [u8; 16],
) -> Result<Vec<u8>, PushCryptoError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(PushCryptoError::TooLong(plaintext.len()));
    }
    let ua_point = ua_public.to_encoded_point(false);
    let as_point = as_secret.public_key().to_encoded_point(false);
    // RFC 8291 §3.3: ecdh_secret = ECDH(as_private, ua_public);
    // §3.4: IKM = HKDF(salt = auth_secret, ikm = ecdh_secret,
    //                  info = "WebPush: info" ‖ 0x00 ‖ ua_public ‖ as_public, L = 32).
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_public.as_affine());
    let mut info = Vec::with_capacity(14 + 65 + 65);
    info.extend_from_slice(b"WebPush: info\0");
    info.extend_from_slice(ua_point.as_bytes());
    info.extend_from_slice(as_point.as_bytes());
    let mut ikm = [0_u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&info, &mut ikm)
        .map_err(|e| PushCryptoError::Encrypt(e.to_string()))?;
    // RFC 8188 with the sender's public key as key id (RFC 8291 §4), in one record.
    ece_native::encrypt(
        ikm,
        salt,
        as_point.as_bytes(),
        std::iter::once(plaintext.to_vec()),
        RECORD_SIZE,
    )
    .map_err(|e| PushCryptoError::Encrypt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier as _;

    fn b64(s: &str) -> Vec<u8> {
        decode_base64(s).unwrap()
    }

    /// RFC 8291 §5 and Appendix A: the sender's key pair and salt fixed, the body must be
    /// the RFC's to the byte.
    #[test]
    fn encryption_matches_the_rfc_8291_example() {
        let ua_public = parse_p256dh(
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        )
        .unwrap();
        let auth = parse_auth("BTBZMqHH6r4Tts7J_aSIgg").unwrap();
        let as_secret =
            SecretKey::from_slice(&b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = encrypt_with(
            b"When I grow up, I want to be a watermelon",
            &ua_public,
            &auth,
            &as_secret,
            salt,
        )
        .unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLoc\
             InmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLV\
             WGNWQexSgSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn fresh_keys_and_salt_for_every_message() {
        let ua = SecretKey::random(&mut OsRng).public_key();
        let a = encrypt(b"x", &ua, &[7; 16]).unwrap();
        let b = encrypt(b"x", &ua, &[7; 16]).unwrap();
        assert_ne!(a[..16], b[..16], "salt");
        assert_ne!(a[21..86], b[21..86], "sender key");
        assert_eq!(a.len(), HEADER_LEN + 1 + 1 + 16);
        let too_long = vec![b'x'; MAX_PLAINTEXT + 1];
        assert!(matches!(
            encrypt(&too_long, &ua, &[7; 16]),
            Err(PushCryptoError::TooLong(_))
        ));
        assert!(encrypt(&too_long[1..], &ua, &[7; 16]).is_ok());
    }

    #[test]
    fn subscriber_keys_are_checked() {
        let key = SecretKey::random(&mut OsRng).public_key();
        let encoded = encode_public_key(&key);
        assert_eq!(parse_p256dh(&encoded), Some(key));
        assert_eq!(parse_p256dh(&format!("{encoded}=")), Some(key), "padded");
        let standard = base64::engine::general_purpose::STANDARD
            .encode(key.to_encoded_point(false).as_bytes());
        assert_eq!(parse_p256dh(&standard), Some(key), "standard alphabet");
        let compressed = URL_SAFE_NO_PAD.encode(key.to_encoded_point(true).as_bytes());
        assert_eq!(
            parse_p256dh(&compressed),
            None,
            "compressed points are refused"
        );
        let mut off_curve = key.to_encoded_point(false).as_bytes().to_vec();
        off_curve[64] ^= 1;
        assert_eq!(parse_p256dh(&URL_SAFE_NO_PAD.encode(&off_curve)), None);
        assert_eq!(parse_p256dh("not base64!"), None);
        assert_eq!(
            parse_auth("BTBZMqHH6r4Tts7J_aSIgg=="),
            Some(b64("BTBZMqHH6r4Tts7J_aSIgg").try_into().unwrap())
        );
        assert_eq!(parse_auth("BTBZMqHH6r4Tts7J_aSI"), None, "15 bytes");
    }

    #[test]
    fn vapid_tokens_verify_with_the_public_key() {
        let key = VapidKey::generate();
        let again = VapidKey::from_private_key(&key.private_key()).unwrap();
        assert_eq!(
            again.public_key(),
            key.public_key(),
            "the stored key round-trips"
        );
        assert!(!format!("{key:?}").contains(&key.private_key()));

        let endpoint = url::Url::parse("https://push.example:8443/send/abc").unwrap();
        let header = key.authorization(&endpoint, "mailto:ops@example.com", 1_000);
        let (token, k) = header
            .strip_prefix("vapid t=")
            .unwrap()
            .split_once(", k=")
            .unwrap();
        assert_eq!(k, key.public_key());
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let verifying = VerifyingKey::from_sec1_bytes(&b64(k)).unwrap();
        let signature = Signature::from_slice(&b64(signature)).unwrap();
        verifying.verify(signed.as_bytes(), &signature).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&b64(signed.split_once('.').unwrap().1)).unwrap();
        assert_eq!(
            claims,
            serde_json::json!({
                "aud": "https://push.example:8443",
                "exp": 1_000 + TOKEN_VALIDITY_SECS,
                "sub": "mailto:ops@example.com",
            })
        );
    }
}
