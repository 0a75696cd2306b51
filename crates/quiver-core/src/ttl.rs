//! Time-to-live values such as `2h`, `7d` or `1d 12h`.

use std::time::Duration;

/// Parses a positive TTL. No TTL is written by leaving the field out, so a zero
/// duration is refused rather than silently meaning "forever".
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("invalid ttl `{text}`: {e} (examples: 30m, 2h, 7d, 1d 12h)"))?;
    if duration.is_zero() {
        return Err(format!(
            "ttl `{text}` is zero; leave `ttl` out for a view whose values never expire"
        ));
    }
    if duration.subsec_nanos() != 0 {
        return Err(format!("ttl `{text}` must be a whole number of seconds"));
    }
    Ok(duration)
}

/// The canonical spelling stored in the registry, so `24h` and `1d` compare equal.
pub fn format_ttl(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_ttl("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_ttl("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(parse_ttl("1d 12h").unwrap(), Duration::from_secs(36 * 3600));
        assert_eq!(
            format_ttl(parse_ttl("24h").unwrap()),
            format_ttl(parse_ttl("1d").unwrap())
        );
    }

    #[test]
    fn rejects_bad_ttls() {
        assert!(parse_ttl("2x").unwrap_err().contains("invalid ttl `2x`"));
        assert!(parse_ttl("0s").unwrap_err().contains("zero"));
        assert!(parse_ttl("1500ms").unwrap_err().contains("whole number"));
        assert!(parse_ttl("").is_err());
    }
}
