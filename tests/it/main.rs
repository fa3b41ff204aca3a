//! Integration tests: Rocket's local client against a server built with a
//! config of the test's choosing, each on its own database.

mod common;

mod bearer;
mod config;
mod errors;
mod signin;
mod signup;
