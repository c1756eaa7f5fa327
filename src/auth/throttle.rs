//! Login throttling: after too many failures for one account from one client address,
//! further attempts are refused for a cool-down period, without even checking the password.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bound on tracked keys so a flood of distinct e-mails cannot grow memory without limit.
const MAX_TRACKED: usize = 100_000;

pub struct LoginThrottle {
    max_failures: u32,
    failures: Mutex<HashMap<(String, IpAddr), (u32, Instant)>>,
}

impl LoginThrottle {
    pub fn new(max_failures: u32) -> Self {
        Self { max_failures, failures: Mutex::new(HashMap::new()) }
    }

    /// `Err(seconds)` to wait if this account/address pair is locked out.
    pub fn check(&self, email: &str, ip: IpAddr) -> Result<(), u64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(&(email.to_string(), ip)) {
            Some((count, since)) if *count >= self.max_failures && since.elapsed() < WINDOW => {
                Err((WINDOW - since.elapsed()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, email: &str, ip: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        if failures.len() >= MAX_TRACKED {
            return;
        }
        let entry = failures.entry((email.to_string(), ip)).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn record_success(&self, email: &str, ip: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&(email.to_string(), ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_success_resets() {
        let throttle = LoginThrottle::new(3);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(throttle.check("a@example.com", ip).is_ok());
            throttle.record_failure("a@example.com", ip);
        }
        assert!(throttle.check("a@example.com", ip).is_err());
        assert!(throttle.check("b@example.com", ip).is_ok(), "other accounts unaffected");
        throttle.record_success("a@example.com", ip);
        assert!(throttle.check("a@example.com", ip).is_ok());
    }
}
