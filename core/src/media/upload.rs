//! The upload request's pieces: the token (the blob's fileEncSha256,
//! base64url without padding, as Baileys sends it) and the path
//! `/mms/<type>/<token>`; the media host answers where the blob now is.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::media_type::MediaType;

/// The upload token for a blob whose SHA-256 is `file_enc_sha256`.
#[must_use]
pub fn upload_token(file_enc_sha256: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(file_enc_sha256)
}

/// The path (and query) an upload of `media_type` is POSTed to, under a
/// media host's base URL. `auth` comes from `media_conn`.
#[must_use]
pub fn upload_path_and_query(
    media_type: MediaType,
    file_enc_sha256: &[u8; 32],
    auth: &str,
) -> String {
    let token = upload_token(file_enc_sha256);
    format!(
        "/mms/{}/{token}?auth={}&token={token}",
        media_type.mms_type(),
        percent_encode_query_value(auth)
    )
}

/// `auth` is opaque base64-ish text from the server; `+`, `/` and `=`
/// must not be read as query syntax.
fn percent_encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_unpadded_base64url() {
        let token = upload_token(&[0xfb; 32]);
        assert_eq!(token.len(), 43);
        assert!(!token.contains(['+', '/', '=']));
        assert!(token.starts_with("-_v7"));
    }

    #[test]
    fn the_path_names_the_server_type_and_escapes_auth() {
        let path = upload_path_and_query(MediaType::Sticker, &[0; 32], "a+b/c=");
        let token = upload_token(&[0; 32]);
        assert_eq!(
            path,
            format!("/mms/image/{token}?auth=a%2Bb%2Fc%3D&token={token}")
        );
    }
}
