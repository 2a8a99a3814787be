//! Sending invite and reset links by email, when an SMTP relay is configured
//! (`SUNFLEET_SMTP_URL=smtp://host:port`, `SUNFLEET_SMTP_FROM`, and `SUNFLEET_PUBLIC_URL` for
//! the links' address). Plain SMTP to a relay you run (a local postfix or the provider's
//! relay on a private network): EHLO, MAIL, RCPT, DATA, QUIT. Without it the link is only
//! shown to whoever issued it, which always happens anyway. Server-only.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Where and as whom to send.
#[derive(Debug, Clone)]
pub struct Mailer {
    /// `host:port` of the SMTP relay.
    pub relay: String,
    /// The sender address, e.g. `sunfleet@fleet.example.com`.
    pub from: String,
    /// The site's address for links, e.g. `https://fleet.example.com` (no trailing `/`).
    pub public_url: String,
}

/// Everything of one SMTP conversation takes at most this long.
const TIMEOUT: Duration = Duration::from_secs(10);

impl Mailer {
    /// From `smtp://host[:port]`; the port defaults to 25.
    pub fn parse(url: &str, from: &str, public_url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("smtp://")
            .ok_or("SUNFLEET_SMTP_URL: use smtp://HOST[:PORT]")?;
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains(['/', '@', ' ']) {
            return Err("SUNFLEET_SMTP_URL: use smtp://HOST[:PORT]".into());
        }
        let relay = if rest.contains(':') {
            rest.to_string()
        } else {
            format!("{rest}:25")
        };
        let from = super::model::Email::parse(from)
            .map_err(|_| "SUNFLEET_SMTP_FROM: an email address is needed to send mail")?;
        let public_url = public_url.trim_end_matches('/');
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(
                "SUNFLEET_PUBLIC_URL: the site's address (https://…) is needed for links in mail"
                    .into(),
            );
        }
        Ok(Self {
            relay,
            from: from.to_string(),
            public_url: public_url.to_string(),
        })
    }

    /// Sends a plain-text message. `to` must be a checked email address (no line breaks can
    /// reach the headers: [`super::model::Email`] refuses whitespace and control
    /// characters).
    pub async fn send(
        &self,
        to: &super::model::Email,
        subject: &str,
        body: &str,
    ) -> Result<(), String> {
        tokio::time::timeout(TIMEOUT, self.conversation(to.as_str(), subject, body))
            .await
            .map_err(|_| format!("no answer from {} within 10 s", self.relay))?
    }

    async fn conversation(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let stream = TcpStream::connect(&self.relay)
            .await
            .map_err(|e| format!("cannot reach {}: {e}", self.relay))?;
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        expect(&mut read, 220).await?;
        for (command, code) in [
            ("EHLO sunfleet".to_string(), 250),
            (format!("MAIL FROM:<{}>", self.from), 250),
            (format!("RCPT TO:<{to}>"), 250),
            ("DATA".to_string(), 354),
        ] {
            send_line(&mut write, &command).await?;
            expect(&mut read, code).await?;
        }
        let date = chrono::Utc::now().to_rfc2822();
        let mut message = format!(
            "From: sunfleet <{}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {date}\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
            self.from
        );
        for line in body.lines() {
            // Dot-stuffing: a line starting with "." gets another one (RFC 5321 §4.5.2).
            if line.starts_with('.') {
                message.push('.');
            }
            message.push_str(line);
            message.push_str("\r\n");
        }
        message.push_str(".\r\n");
        write
            .write_all(message.as_bytes())
            .await
            .map_err(|e| format!("sending the message: {e}"))?;
        expect(&mut read, 250).await?;
        send_line(&mut write, "QUIT").await?;
        let _ = expect(&mut read, 221).await;
        Ok(())
    }
}

async fn send_line(write: &mut tokio::net::tcp::OwnedWriteHalf, line: &str) -> Result<(), String> {
    write
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .map_err(|e| format!("SMTP write: {e}"))
}

/// Reads one (possibly multi-line) reply and checks its code.
async fn expect(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    code: u16,
) -> Result<(), String> {
    loop {
        let mut line = String::new();
        let n = read
            .read_line(&mut line)
            .await
            .map_err(|e| format!("SMTP read: {e}"))?;
        if n == 0 {
            return Err("the SMTP relay closed the connection".into());
        }
        let got: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        if got != code {
            return Err(format!("the SMTP relay answered {}", line.trim_end()));
        }
        // "250-…" continues, "250 …" ends the reply.
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_address_sender_and_site_are_checked() {
        let m = Mailer::parse(
            "smtp://relay.internal",
            "fleet@example.com",
            "https://fleet.example.com/",
        )
        .unwrap();
        assert_eq!(m.relay, "relay.internal:25");
        assert_eq!(m.public_url, "https://fleet.example.com");
        assert!(Mailer::parse("smtps://x", "a@b.io", "https://x.io").is_err());
        assert!(Mailer::parse("smtp://x:2525", "not mail", "https://x.io").is_err());
        assert!(Mailer::parse("smtp://x:2525", "a@b.io", "fleet.example").is_err());
    }
}
