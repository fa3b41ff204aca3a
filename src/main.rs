//! Starts bearer-auth. See `lib.rs` for how the server is built.

use std::process::ExitCode;

fn main() -> ExitCode {
    let rocket = match bearer_auth::rocket() {
        Ok(rocket) => rocket,
        Err(error) => {
            eprintln!("bearer-auth: {error}");
            return ExitCode::FAILURE;
        }
    };
    match rocket::execute(rocket.launch()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bearer-auth: {error}");
            ExitCode::FAILURE
        }
    }
}
