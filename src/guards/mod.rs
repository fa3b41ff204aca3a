//! Request guards: all authentication happens here. Routes only declare them.

pub mod basic;
pub mod bearer;
pub mod client;
pub mod signup;

pub use basic::BasicCredentials;
pub use bearer::BearerUser;
pub use client::ClientInfo;
pub use signup::SignupRequest;
