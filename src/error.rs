//! The one error type of server functions. Every message in it is safe to show
//! a user; causes are logged on the server and never sent.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What went wrong, in words a person understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// Not signed in (HTTP 401).
    #[error("Please sign in to continue.")]
    Unauthorized,
    /// Signed in, but the role does not allow it (HTTP 403).
    #[error("You do not have permission to do that.")]
    Forbidden,
    /// A state-changing request from another site (HTTP 403).
    #[error("This request came from another site and was refused.")]
    CrossSite,
    /// Wrong email or password; deliberately the same for both (HTTP 401).
    #[error("Email or password is incorrect.")]
    BadCredentials,
    /// The user must choose a new password before anything else (HTTP 403).
    #[error("Choose a new password first: Account, Change password.")]
    MustChangePassword,
    /// The thing does not exist in the caller's scope (HTTP 404).
    #[error("Not found.")]
    NotFound,
    /// The input was wrong; the message says how (HTTP 400/422).
    #[error("{0}")]
    Invalid(String),
    /// Too many attempts; the message says when to try again (HTTP 429).
    #[error("{0}")]
    Throttled(String),
    /// The server is saturated for now (HTTP 503).
    #[error("The service is busy. Please try again in a moment.")]
    Busy,
    /// Something failed on the server; details are in its log (HTTP 500).
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The request never reached the function or its answer was unreadable.
    #[error("Could not reach the server: {0}")]
    Transport(String),
}

impl AppError {
    /// A validation error with the given message.
    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::Invalid(message.into())
    }

    /// The HTTP status this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Unauthorized => 401,
            AppError::Forbidden | AppError::CrossSite | AppError::MustChangePassword => 403,
            AppError::BadCredentials => 401,
            AppError::NotFound => 404,
            AppError::Invalid(_) => 422,
            AppError::Throttled(_) => 429,
            AppError::Busy => 503,
            AppError::Transport(_) => 400,
            AppError::Internal => 500,
        }
    }
}

/// The wire form: `{"kind": "Invalid", "message": "Name is required."}`.
/// Every error carries its message, so clients other than the console can
/// show it too.
#[derive(Serialize, Deserialize)]
struct WireError {
    kind: String,
    message: String,
}

impl AppError {
    fn kind(&self) -> &'static str {
        match self {
            AppError::Unauthorized => "Unauthorized",
            AppError::Forbidden => "Forbidden",
            AppError::CrossSite => "CrossSite",
            AppError::MustChangePassword => "MustChangePassword",
            AppError::BadCredentials => "BadCredentials",
            AppError::NotFound => "NotFound",
            AppError::Invalid(_) => "Invalid",
            AppError::Throttled(_) => "Throttled",
            AppError::Busy => "Busy",
            AppError::Internal => "Internal",
            AppError::Transport(_) => "Transport",
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireError {
            kind: self.kind().to_string(),
            message: self.to_string(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AppError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireError::deserialize(deserializer)?;
        Ok(match wire.kind.as_str() {
            "Unauthorized" => AppError::Unauthorized,
            "Forbidden" => AppError::Forbidden,
            "CrossSite" => AppError::CrossSite,
            "MustChangePassword" => AppError::MustChangePassword,
            "BadCredentials" => AppError::BadCredentials,
            "NotFound" => AppError::NotFound,
            "Invalid" => AppError::Invalid(wire.message),
            "Throttled" => AppError::Throttled(wire.message),
            "Busy" => AppError::Busy,
            "Internal" => AppError::Internal,
            _ => AppError::Transport(wire.message),
        })
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Malformed arguments are the caller's mistake: say what was
            // wrong. The domain's own parse errors are sentences written for
            // people (they end with a full stop) and are shown as they are.
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                AppError::Invalid(refused_argument(message))
            }
            // In the browser, a form whose fields do not parse never leaves.
            #[cfg(not(feature = "ssr"))]
            ServerFnErrorErr::Serialization(message) => {
                AppError::Invalid(refused_argument(message))
            }
            ServerFnErrorErr::Request(message) => AppError::Transport(message),
            ServerFnErrorErr::Deserialization(message) => AppError::Transport(message),
            other => {
                #[cfg(feature = "ssr")]
                tracing::error!(error = %other, "server function infrastructure error");
                #[cfg(not(feature = "ssr"))]
                let _ = other;
                AppError::Internal
            }
        }
    }
}

/// The message for an argument that did not parse.
fn refused_argument(message: String) -> String {
    if message.ends_with('.') {
        message
    } else {
        format!("The request was not understood: {message}")
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        if let Some(message) = crate::server::db::constraint_message(&error) {
            return AppError::Invalid(message);
        }
        tracing::error!(error = %crate::server::db::loggable(&error), "database error");
        AppError::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_show_no_detail() {
        let shown = AppError::Internal.to_string();
        assert!(!shown.contains("sql"), "{shown}");
        assert_eq!(AppError::Internal.status_code(), 500);
    }

    #[test]
    fn bad_arguments_are_client_errors() {
        let err =
            AppError::from_server_fn_error(ServerFnErrorErr::Args("missing field `x`".into()));
        assert_eq!(err.status_code(), 422);
        assert!(err.to_string().contains("missing field"));
    }

    #[test]
    fn a_domain_rule_is_shown_as_it_is() {
        let err = AppError::from_server_fn_error(ServerFnErrorErr::Args(
            "Concurrency is a whole number from 1 to 1000.".into(),
        ));
        assert_eq!(
            err,
            AppError::invalid("Concurrency is a whole number from 1 to 1000.")
        );
    }

    #[test]
    fn round_trips_as_json_with_its_message() {
        for err in [
            AppError::invalid("Name is required."),
            AppError::BadCredentials,
            AppError::Throttled("Try again in 4 seconds.".into()),
            AppError::Busy,
            AppError::Internal,
        ] {
            let json = serde_json::to_string(&err).unwrap();
            assert!(json.contains(&err.to_string()), "{json}");
            assert_eq!(serde_json::from_str::<AppError>(&json).unwrap(), err);
        }
    }
}
