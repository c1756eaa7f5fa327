//! The help desk's rules, independent of HTTP and storage: enums, transitions, validation, SLA targets.

pub mod agent;
pub mod kb;
pub mod ticket;
pub mod user;
pub mod validate;
pub mod workflow;

/// Declares a closed set of SCREAMING_CASE values stored and sent as text,
/// with `as_str`, `FromStr`, `ALL` and serde/OpenAPI support.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        // Written out rather than derived: the derive cannot see the serde renames through this
        // macro and documented the Rust variant names ("Medium") instead of the wire values.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            pub const ALL: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(value: &str) -> Result<Self, ()> {
                match value { $($text => Ok(Self::$variant),)+ _ => Err(()) }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

/// Why a requested change was refused by a rule; carried to the client as a 4xx problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The change conflicts with the current state (e.g. an invalid status transition): 409.
    #[error("{0}")]
    Conflict(String),
    /// The caller's role may not make this change: 403.
    #[error("{0}")]
    Forbidden(String),
    /// One or more fields are invalid: 400.
    #[error("invalid fields")]
    Invalid(Vec<validate::FieldError>),
}
