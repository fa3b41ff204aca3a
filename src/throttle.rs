//! Brute-force throttling of `POST /signin`, kept in the database so that it
//! holds across every instance sharing it.
//!
//! Three limits, all over the failures of the last hour:
//! - one username from one address: 5 free failures, then a delay after each
//!   that doubles (1 s, 2 s, 4 s, ... at most 15 minutes);
//! - one address in all: 50 free failures, then the same doubling delays;
//! - one username from anywhere: at most 100 failures an hour reach bcrypt;
//!   past that only addresses the user has signed in from before get through.
//!
//! Failures older than an hour no longer count, so delays decay with time.
//! A success clears the failures of that username from that address. Nothing
//! done from one address can stop the right password from another address
//! the user has used before.

use diesel::dsl::{count_star, max, min};
use diesel::prelude::*;

use crate::db::schema::{known_addresses, signin_failures, users};
use crate::db::DbConn;
use crate::error::ApiError;

/// Failures older than this are forgotten.
pub const WINDOW: i64 = 3600;
/// Free failures for one username from one address.
pub const USER_ADDRESS_FREE: i64 = 5;
/// Free failures from one address over all usernames.
pub const ADDRESS_FREE: i64 = 50;
/// Failures per username per hour that reach bcrypt.
pub const ACCOUNT_CAP: i64 = 100;
/// The longest single delay.
pub const MAX_DELAY: i64 = 900;
/// Known addresses not used for this long are forgotten.
pub const KNOWN_ADDRESS_TTL: i64 = 30 * 24 * 3600;

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

/// Decides whether an attempt for `username` from `address` may reach bcrypt.
pub fn check(
    conn: &mut DbConn,
    username: &str,
    address: &str,
    now: i64,
) -> Result<Verdict, ApiError> {
    let since = now - WINDOW;
    let recent = signin_failures::table.filter(signin_failures::failed_at.gt(since));

    let (count, latest): (i64, Option<i64>) = recent
        .filter(signin_failures::username.eq(username))
        .filter(signin_failures::client_addr.eq(address))
        .select((count_star(), max(signin_failures::failed_at)))
        .first(conn)?;
    if let Some(latest) = latest {
        if let Some(wait) = wait_until(latest + delay(count, USER_ADDRESS_FREE), now) {
            return Ok(Verdict::Wait(wait));
        }
    }

    let (count, latest): (i64, Option<i64>) = recent
        .filter(signin_failures::client_addr.eq(address))
        .select((count_star(), max(signin_failures::failed_at)))
        .first(conn)?;
    if let Some(latest) = latest {
        if let Some(wait) = wait_until(latest + delay(count, ADDRESS_FREE), now) {
            return Ok(Verdict::Wait(wait));
        }
    }

    let (count, oldest): (i64, Option<i64>) = recent
        .filter(signin_failures::username.eq(username))
        .select((count_star(), min(signin_failures::failed_at)))
        .first(conn)?;
    if count >= ACCOUNT_CAP {
        let known: i64 = known_addresses::table
            .inner_join(users::table)
            .filter(users::username.eq(username))
            .filter(known_addresses::client_addr.eq(address))
            .filter(known_addresses::last_seen_at.gt(now - KNOWN_ADDRESS_TTL))
            .count()
            .get_result(conn)?;
        if known == 0 {
            let until = oldest.unwrap_or(now) + WINDOW;
            return Ok(Verdict::Wait(wait_until(until, now).unwrap_or(1)));
        }
    }
    Ok(Verdict::Allow)
}

/// Records a failed attempt that reached bcrypt.
pub fn record_failure(
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
    fn delays_double_up_to_the_cap() {
        assert_eq!(delay(4, 5), 0);
        assert_eq!(delay(5, 5), 1);
        assert_eq!(delay(6, 5), 2);
        assert_eq!(delay(9, 5), 16);
        assert_eq!(delay(40, 5), MAX_DELAY);
        assert_eq!(delay(i64::MAX, 5), MAX_DELAY);
    }
}
