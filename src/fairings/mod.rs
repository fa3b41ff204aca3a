//! Fairings: token rotation, the sweeper of dead sessions, response headers.

pub mod headers;
pub mod rotation;
pub mod sweeper;

pub use headers::SecurityHeaders;
pub use rotation::TokenRotation;
pub use sweeper::Sweeper;
