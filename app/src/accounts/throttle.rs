//! Sign-in throttling: failed attempts are counted per account and per client address in a
//! fixed window; over the limit, sign-in answers 429 with how long to wait. Successful
//! sign-ins clear the account's count. In memory, per process: with several sunfleet nodes
//! an attacker gets the limit once per node, still far too few guesses to matter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per account per window.
pub const ACCOUNT_LIMIT: u32 = 5;
/// Failures allowed per client address per window (an office behind one NAT has many users).
pub const ADDRESS_LIMIT: u32 = 30;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The map is pruned of finished windows when it grows past this.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Default)]
pub struct LoginThrottle {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl LoginThrottle {
    /// `Err(seconds to wait)` when either key is over its limit.
    pub fn check(&self, account: &str, address: &str, now: Instant) -> Result<(), u32> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let wait = |key: String, limit: u32| match windows.get(&key) {
            Some((start, n)) if *n >= limit && now.duration_since(*start) < WINDOW => {
                Some((WINDOW - now.duration_since(*start)).as_secs().max(1) as u32)
            }
            _ => None,
        };
        match wait(account_key(account), ACCOUNT_LIMIT)
            .into_iter()
            .chain(wait(address_key(address), ADDRESS_LIMIT))
            .max()
        {
            Some(s) => Err(s),
            None => Ok(()),
        }
    }

    pub fn failed(&self, account: &str, address: &str, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= PRUNE_AT {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        for key in [account_key(account), address_key(address)] {
            let entry = windows.entry(key).or_insert((now, 0));
            if now.duration_since(entry.0) >= WINDOW {
                *entry = (now, 0);
            }
            entry.1 += 1;
        }
    }

    pub fn succeeded(&self, account: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows.remove(&account_key(account));
    }
}

fn account_key(account: &str) -> String {
    format!("a:{account}")
}

fn address_key(address: &str) -> String {
    format!("ip:{address}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_locked_after_five_failures_for_the_rest_of_the_window() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..ACCOUNT_LIMIT {
            assert!(t.check("ana@x.io", "1.2.3.4", now).is_ok());
            t.failed("ana@x.io", "1.2.3.4", now);
        }
        let wait = t.check("ana@x.io", "5.6.7.8", now).unwrap_err();
        assert_eq!(wait as u64, WINDOW.as_secs());
        assert!(
            t.check("bo@x.io", "5.6.7.8", now).is_ok(),
            "others unaffected"
        );
        assert!(
            t.check("ana@x.io", "1.2.3.4", now + WINDOW).is_ok(),
            "window over"
        );
    }

    #[test]
    fn one_address_guessing_many_accounts_is_stopped_too() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..ADDRESS_LIMIT {
            t.failed(&format!("user{i}@x.io"), "9.9.9.9", now);
        }
        assert!(t.check("fresh@x.io", "9.9.9.9", now).is_err());
        assert!(t.check("fresh@x.io", "1.1.1.1", now).is_ok());
    }

    #[test]
    fn success_clears_the_account_count() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..ACCOUNT_LIMIT - 1 {
            t.failed("ana@x.io", "1.2.3.4", now);
        }
        t.succeeded("ana@x.io");
        t.failed("ana@x.io", "1.2.3.4", now);
        assert!(t.check("ana@x.io", "1.2.3.4", now).is_ok());
    }
}
