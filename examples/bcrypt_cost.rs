//! Times one bcrypt verify at a given cost with the crate the server uses:
//! the benchmark's yardstick for signin throughput.
//!
//!   cargo run --release --example bcrypt_cost -- 10 20   # cost, rounds

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let cost: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let Ok(hash) = bcrypt::hash("correct horse", cost) else {
        eprintln!("bcrypt failed");
        std::process::exit(1);
    };
    let start = Instant::now();
    for _ in 0..rounds {
        let _ = bcrypt::verify("correct horse", &hash);
    }
    let seconds = start.elapsed().as_secs_f64() / f64::from(rounds);
    println!("{seconds:.6}");
}
