//! Numbers with units, formatted the same way on the server and in the browser.

/// Power: "850 W", "1.25 kW", "12.5 kW"; a dash when unknown.
pub fn watts(w: Option<f64>) -> String {
    match w {
        None => "—".into(),
        Some(w) if !w.is_finite() => "—".into(),
        // Halves round away from zero, as people (and JavaScript's `toFixed`) do; `{:.0}`
        // alone rounds them to even, so a page said 18 W where an API client showed 19 W.
        Some(w) if w.abs() < 1000.0 => format!("{:.0} W", w.round()),
        Some(w) if w.abs() < 10_000.0 => format!("{:.2} kW", (w / 10.0).round() / 100.0),
        Some(w) => format!("{:.1} kW", (w / 100.0).round() / 10.0),
    }
}

/// Energy from Wh: "850 Wh", "12.4 kWh", "1,234 kWh" as "1234 kWh".
pub fn kwh(wh: f64) -> String {
    match wh {
        w if !w.is_finite() => "—".into(),
        w if w.abs() < 1000.0 => format!("{w:.0} Wh"),
        w if w.abs() < 100_000.0 => format!("{:.1} kWh", w / 1000.0),
        w => format!("{:.0} kWh", w / 1000.0),
    }
}

pub fn volts(v: f64) -> String {
    format!("{v:.0} V")
}

pub fn celsius(c: f64) -> String {
    format!("{c:.1} °C")
}

pub fn rpm(r: i64) -> String {
    format!("{r} rpm")
}

/// "just now", "4 min ago", "3 h ago", "2 d ago" from an age in seconds.
pub fn ago(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

/// Percent-encodes a value for a URL query string (RFC 3986 unreserved characters pass).
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Escapes text for HTML content and quoted attribute values (names are user input).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_switches_to_kilowatts_at_one_thousand() {
        assert_eq!(watts(Some(999.4)), "999 W");
        assert_eq!(watts(Some(1250.0)), "1.25 kW");
        assert_eq!(watts(Some(12_500.0)), "12.5 kW");
        assert_eq!(watts(None), "—");
        assert_eq!(watts(Some(f64::NAN)), "—");
    }

    #[test]
    fn power_halves_round_away_from_zero() {
        assert_eq!(watts(Some(18.5)), "19 W");
        assert_eq!(watts(Some(-18.5)), "-19 W");
        assert_eq!(watts(Some(1125.0)), "1.13 kW");
        assert_eq!(watts(Some(12_250.0)), "12.3 kW");
    }

    #[test]
    fn ages_read_like_people_talk() {
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(240), "4 min ago");
        assert_eq!(ago(7200), "2 h ago");
        assert_eq!(ago(200_000), "2 d ago");
        assert_eq!(ago(-30), "just now");
    }

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("a b&c=ü"), "a%20b%26c%3D%C3%BC");
    }

    #[test]
    fn html_escaping_neutralises_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<b a="1">Tom's & co</b>"#),
            "&lt;b a=&quot;1&quot;&gt;Tom&#39;s &amp; co&lt;/b&gt;"
        );
    }
}
