//! Progress of the long-running commands (`tier`, `upload`): a line redrawn
//! in place on a terminal, one plain line per item otherwise (logs, CI).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Counts items and bytes against known totals and reports rate and ETA.
pub struct Progress {
    total_items: u64,
    total_bytes: Option<u64>,
    items: u64,
    bytes: u64,
    started: Instant,
    terminal: bool,
}

impl Progress {
    /// `total_bytes`, when known, makes the rate and ETA byte-based.
    pub fn new(total_items: u64, total_bytes: Option<u64>) -> Self {
        Self {
            total_items,
            total_bytes,
            items: 0,
            bytes: 0,
            started: Instant::now(),
            terminal: std::io::stdout().is_terminal(),
        }
    }

    /// One item finished (`bytes` of it counted); `message` says how.
    pub fn advance(&mut self, bytes: u64, message: &str) {
        self.items += 1;
        self.bytes += bytes;
        let status = self.status();
        let mut out = std::io::stdout().lock();
        if self.terminal {
            // The message scrolls up; the status line stays at the bottom.
            let _ = write!(out, "\r\x1b[2K{message}\n{status}");
        } else {
            let _ = writeln!(out, "{message} ({status})");
        }
        let _ = out.flush();
    }

    /// Ends the redrawn line, so what follows starts on a line of its own.
    pub fn finish(&self) {
        if self.terminal && self.items > 0 {
            println!();
        }
    }

    /// `3/10 files, 12.0 MB of 40.0 MB, 2.1 MB/s, ETA 13s`.
    fn status(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = self.bytes as f64 / elapsed;
        let mut s = format!(
            "{}/{}, {}",
            self.items,
            self.total_items,
            human_bytes(self.bytes)
        );
        if let Some(total) = self.total_bytes {
            s += &format!(" of {}", human_bytes(total));
        }
        s += &format!(", {}/s", human_bytes(rate as u64));
        let left = match self.total_bytes {
            Some(total) if rate > 0.0 => Some(total.saturating_sub(self.bytes) as f64 / rate),
            _ if self.items > 0 => Some(
                self.total_items.saturating_sub(self.items) as f64 * elapsed / self.items as f64,
            ),
            _ => None,
        };
        if let Some(secs) = left {
            s += &format!(
                ", ETA {}",
                human_duration(Duration::from_secs_f64(secs.min(1e9)))
            );
        }
        s
    }
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `30d`, `12h`, `90m`, `45s`, `2w`, or `0`: how `--older-than` is written.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 30d, 12h, 90m, 0)"))?;
    let secs = match unit {
        "" if n == 0 => 0,
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        "w" => n * 7 * 86_400,
        _ => return Err(format!("{text:?} needs a unit: s, m, h, d or w (e.g. 30d)")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3y").is_err());
    }

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(12_300_000), "12.3 MB");
        assert_eq!(human_duration(Duration::from_secs(75)), "1m15s");
        assert_eq!(human_duration(Duration::from_secs(7300)), "2h01m");
    }
}
