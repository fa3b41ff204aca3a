//! Integration tests: Rocket's local client against a server built with a
//! config of the test's choosing, each on its own database.

mod common;

mod attacks;
mod bearer;
mod config;
mod database;
mod durability;
mod encryption;
mod errors;
mod expiry;
mod faults;
mod observability;
mod profiles;
mod properties;
mod rotation;
mod scaling;
mod sessions;
mod signin;
mod signup;
mod single_use;
mod throttle;
