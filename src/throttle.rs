//! Brute-force throttling of `POST /signin`, kept in the database so that it
//! holds across every instance sharing it.
//!
//! Three limits, all over the failures of the last hour:
//! - one username from one address: 5 free failures, then a delay after each
//!   that doubles (1 s, 2 s, 4 s, ... at most 15 minutes);
//! - one address in all: 50 free failures, then the same doubling delays;
//! - one username from anywhere: at most 100 failures an hour reach bcrypt.
//!   Addresses the user has not signed in from stop at 90; the last 10 are
//!   kept for addresses the user has signed in from before.
//!
//! An "address" is an IPv4 address, or the /64 prefix of an IPv6 address:
//! one IPv6 client usually holds a whole /64, and could otherwise take a
//! fresh address for every attempt.
//!
//! Failures older than an hour no longer count, so delays decay with time.
//! A success clears the failures of that username from that address. Nothing
//! done from addresses the user has never used can stop the right password
//! from an address the user has used before.
//!
//! [`admit`] decides and records in one transaction that holds a write lock,
//! before bcrypt runs: an attempt counts as a failure from the moment it is
//! let through until its password proves right, so attempts sent in parallel
//! cannot all slip past a limit before any failure is written.

use diesel::dsl::{count_star, max, min};
use diesel::prelude::*;

use std::net::{IpAddr, Ipv6Addr};

use crate::db::schema::{known_addresses, signin_failures, users};
use crate::db::DbConn;
use crate::error::ApiError;

/// The PostgreSQL advisory lock that serialises [`admit`] across instances.
const THROTTLE_LOCK: i64 = 0x7468_726f_7474; // "thrott"

/// Failures older than this are forgotten.
pub const WINDOW: i64 = 3600;
/// Free failures for one username from one address.
pub const USER_ADDRESS_FREE: i64 = 5;
/// Free failures from one address over all usernames.
pub const ADDRESS_FREE: i64 = 50;
/// Failures per username per hour that reach bcrypt.
pub const ACCOUNT_CAP: i64 = 100;
/// The part of [`ACCOUNT_CAP`] only addresses the user has signed in from
/// can use.
pub const KNOWN_ADDRESS_RESERVE: i64 = 10;
/// The longest single delay.
pub const MAX_DELAY: i64 = 900;
/// Known addresses not used for this long are forgotten.
pub const KNOWN_ADDRESS_TTL: i64 = 30 * 24 * 3600;

/// The address a client's attempts are counted under: an IPv4 address as
/// it is (also when mapped into IPv6), an IPv6 address as its /64.
pub fn address_key(client: Option<IpAddr>) -> String {
    match client.map(|ip| ip.to_canonical()) {
        None => "unknown".to_owned(),
        Some(IpAddr::V4(ip)) => ip.to_string(),
        Some(IpAddr::V6(ip)) => {
            let [a, b, c, d, ..] = ip.segments();
            format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

/// The throttle's answer for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refused; try again after this many seconds.
    Wait(u64),
}

/// The delay after `failures` failures when the first `free` are free.
pub fn delay(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = (failures - free).min(20) as u32;
    (1i64 << doublings).min(MAX_DELAY)
}

fn wait_until(until: i64, now: i64) -> Option<u64> {
    (until > now).then(|| (until - now) as u64)
}

/// The wait after `count` failures, the latest at `latest`, when `free` are
/// free. Nothing while the failures are free: a failure recorded a second
/// after this attempt's `now` (by an attempt that started later) must not
/// make it wait.
fn delay_wait(count: i64, latest: Option<i64>, free: i64, now: i64) -> Option<u64> {
    let delay = delay(count, free);
    if delay == 0 {
        return None;
    }
    wait_until(latest? + delay, now)
}

/// Decides whether an attempt for `username` from `address` may reach bcrypt
/// and, if so, records it as a failure (cleared by [`record_success`] when
/// the password proves right). Concurrent calls, from any instance, are
/// serialised: on SQLite by the write lock the first statement (the insert)
/// takes, on PostgreSQL by an advisory lock held until commit.
pub fn admit(
    conn: &mut DbConn,
    username: &str,
    address: &str,
    now: i64,
) -> Result<Verdict, ApiError> {
    conn.transaction(|conn| {
        if let DbConn::Postgres(pg) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(THROTTLE_LOCK)
                .execute(pg)?;
        }
        record_failure(conn, username, address, now)?;
        // Under the lock nobody else inserts: the newest row is this attempt.
        let own: i64 = signin_failures::table
            .select(max(signin_failures::id))
            .first::<Option<i64>>(conn)?
            .ok_or_else(|| ApiError::internal("throttle", "the attempt's row is missing"))?;
        let verdict = check(conn, username, address, now, own)?;
        if verdict != Verdict::Allow {
            diesel::delete(signin_failures::table.find(own)).execute(conn)?;
        }
        Ok(verdict)
    })
}

/// The verdict for an attempt, counting the failures of the last hour other
/// than the attempt's own row `own`.
fn check(
    conn: &mut DbConn,
    username: &str,
    address: &str,
    now: i64,
    own: i64,
) -> Result<Verdict, ApiError> {
    let since = now - WINDOW;
    let recent = signin_failures::table
        .filter(signin_failures::failed_at.gt(since))
        .filter(signin_failures::id.ne(own));

    let (count, latest): (i64, Option<i64>) = recent
        .filter(signin_failures::username.eq(username))
        .filter(signin_failures::client_addr.eq(address))
        .select((count_star(), max(signin_failures::failed_at)))
        .first(conn)?;
    if let Some(wait) = delay_wait(count, latest, USER_ADDRESS_FREE, now) {
        return Ok(Verdict::Wait(wait));
    }

    let (count, latest): (i64, Option<i64>) = recent
        .filter(signin_failures::client_addr.eq(address))
        .select((count_star(), max(signin_failures::failed_at)))
        .first(conn)?;
    if let Some(wait) = delay_wait(count, latest, ADDRESS_FREE, now) {
        return Ok(Verdict::Wait(wait));
    }

    let (count, oldest): (i64, Option<i64>) = recent
        .filter(signin_failures::username.eq(username))
        .select((count_star(), min(signin_failures::failed_at)))
        .first(conn)?;
    if count >= ACCOUNT_CAP - KNOWN_ADDRESS_RESERVE {
        let known: i64 = known_addresses::table
            .inner_join(users::table)
            .filter(users::username.eq(username))
            .filter(known_addresses::client_addr.eq(address))
            .filter(known_addresses::last_seen_at.gt(now - KNOWN_ADDRESS_TTL))
            .count()
            .get_result(conn)?;
        if known == 0 || count >= ACCOUNT_CAP {
            let until = oldest.unwrap_or(now) + WINDOW;
            return Ok(Verdict::Wait(wait_until(until, now).unwrap_or(1)));
        }
    }
    Ok(Verdict::Allow)
}

/// Records a failed attempt.
fn record_failure(
    conn: &mut DbConn,
    username: &str,
    address: &str,
    now: i64,
) -> Result<(), ApiError> {
    diesel::insert_into(signin_failures::table)
        .values((
            signin_failures::username.eq(username),
            signin_failures::client_addr.eq(address),
            signin_failures::failed_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// How often a known address's `last_seen_at` is written, at most.
const KNOWN_ADDRESS_REFRESH: i64 = 3600;

/// After a success: clears that username's failures from that address and
/// remembers the address as the user's. Writes only what changed, so a
/// stream of good signins takes no write lock.
pub fn record_success(
    conn: &mut DbConn,
    user_id: i64,
    username: &str,
    address: &str,
    now: i64,
) -> Result<(), ApiError> {
    let failures = signin_failures::table
        .filter(signin_failures::username.eq(username))
        .filter(signin_failures::client_addr.eq(address));
    let had_failures: i64 = failures.count().get_result(conn)?;
    if had_failures > 0 {
        diesel::delete(failures).execute(conn)?;
    }
    let last_seen: Option<i64> = known_addresses::table
        .filter(known_addresses::user_id.eq(user_id))
        .filter(known_addresses::client_addr.eq(address))
        .select(known_addresses::last_seen_at)
        .first(conn)
        .optional()?;
    match last_seen {
        Some(seen) if now - seen < KNOWN_ADDRESS_REFRESH => {}
        Some(_) => {
            diesel::update(
                known_addresses::table
                    .filter(known_addresses::user_id.eq(user_id))
                    .filter(known_addresses::client_addr.eq(address)),
            )
            .set(known_addresses::last_seen_at.eq(now))
            .execute(conn)?;
        }
        None => {
            let inserted = diesel::insert_into(known_addresses::table)
                .values((
                    known_addresses::user_id.eq(user_id),
                    known_addresses::client_addr.eq(address),
                    known_addresses::last_seen_at.eq(now),
                ))
                .execute(conn);
            match inserted {
                // Another instance inserted it at the same moment: fine.
                Ok(_)
                | Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Deletes failures older than the window and stale known addresses.
pub fn sweep(conn: &mut DbConn, now: i64) -> Result<usize, ApiError> {
    let failures =
        diesel::delete(signin_failures::table.filter(signin_failures::failed_at.le(now - WINDOW)))
            .execute(conn)?;
    let known = diesel::delete(
        known_addresses::table.filter(known_addresses::last_seen_at.le(now - KNOWN_ADDRESS_TTL)),
    )
    .execute(conn)?;
    Ok(failures + known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_ipv4_or_an_ipv6_64() {
        let key = |ip: &str| address_key(ip.parse().ok());
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2::9"), "2001:db8:1:2::/64");
        assert_eq!(key("::1"), "::/64");
        assert_eq!(address_key(None), "unknown");
    }

    #[test]
    fn free_failures_never_wait_even_when_recorded_after_now() {
        // Four failures, the latest a second after this attempt's `now`.
        assert_eq!(delay_wait(4, Some(101), 5, 100), None);
        assert_eq!(delay_wait(5, Some(101), 5, 100), Some(2));
        assert_eq!(delay_wait(5, Some(90), 5, 100), None);
        assert_eq!(delay_wait(0, None, 5, 100), None);
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        assert_eq!(delay(4, 5), 0);
        assert_eq!(delay(5, 5), 1);
        assert_eq!(delay(6, 5), 2);
        assert_eq!(delay(9, 5), 16);
        assert_eq!(delay(40, 5), MAX_DELAY);
        assert_eq!(delay(i64::MAX, 5), MAX_DELAY);
    }
}
