//! Authentication and authorisation: password hashing, access and refresh tokens,
//! login throttling, and the extractors that give handlers the authenticated caller.

pub mod extractor;
pub mod password;
pub mod sessions;
pub mod throttle;
pub mod tokens;

pub use extractor::{AuthUser, MaybeAuthUser};
