//! WhatsApp media, sans I/O: a media key's expansion per type, the
//! encrypted blob made and opened in a stream (AES-256-CBC + a 10-byte
//! HMAC-SHA256), the checks against the message that references it, the
//! upload request's path, and `media_conn` (hosts and auth, kept for
//! their ttl). The shell moves the bytes.
//!
//! Sending: draw 32 random bytes as a [`MediaKey`], [`MediaKeys::expand`]
//! them for the type, feed the file through a [`MediaEncryptor`] into the
//! upload, POST it to [`upload_path_and_query`], and put
//! [`uploaded_descriptor`] in the message. Receiving:
//! [`DownloadPlan::from_descriptor`], then the blob through a
//! [`MediaDecryptor`].
//!
//! [`MediaKey`]: crate::message::content::MediaKey

pub mod conn;
pub mod decrypt;
pub mod descriptor;
pub mod encrypt;
pub mod keys;
pub mod media_type;
pub mod upload;

pub use conn::{MediaConn, MediaConnCache, MediaConnError, media_conn_request};
pub use decrypt::{ExpectedMedia, MediaDecryptError, MediaDecryptor, VerifiedMedia, decrypt_media};
pub use descriptor::{
    BlobLocation, DescriptorError, DownloadPlan, UploadedBlob, uploaded_descriptor,
};
pub use encrypt::{EncryptedMedia, MAC_LEN, MediaEncryptor, blob_len_for, encrypt_media};
pub use keys::{MEDIA_KEY_LEN, MediaKeyError, MediaKeys};
pub use media_type::MediaType;
pub use upload::{upload_path_and_query, upload_token};
