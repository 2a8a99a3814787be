//! Invite and reset links by email, through a local SMTP server that speaks the protocol
//! (the relay is a third-party service; this plays its part).

use std::sync::{Arc, Mutex};

use sunfleet_tests::{spawn_app_with, Who};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A one-message-per-connection SMTP server that keeps what it receives:
/// (MAIL FROM, RCPT TO, DATA).
async fn smtp_server() -> (String, Arc<Mutex<Vec<(String, String, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let kept = inbox.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let (mut from, mut to, mut data) = (String::new(), String::new(), String::new());
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            kept.lock()
                                .unwrap()
                                .push((from.clone(), to.clone(), data.clone()));
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    let reply: &[u8] = match line.split(':').next().unwrap_or("") {
                        l if l.starts_with("EHLO") => b"250-test\r\n250 8BITMIME\r\n",
                        "MAIL FROM" => {
                            from = line["MAIL FROM:".len()..].to_string();
                            b"250 ok\r\n"
                        }
                        "RCPT TO" => {
                            to = line["RCPT TO:".len()..].to_string();
                            b"250 ok\r\n"
                        }
                        "DATA" => {
                            in_data = true;
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            return;
                        }
                        _ => b"500 what?\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (addr, inbox)
}

/// Spawns sunfleet mailing through `relay` and invites a Platte customer user.
async fn invite_with_relay(relay: &str) -> (sunfleet_tests::TestApp, serde_json::Value) {
    let mailer = sunfleet_app::accounts::mail::Mailer::parse(
        &format!("smtp://{relay}"),
        "fleet@sunfleet.example",
        "https://fleet.example.com",
    )
    .unwrap();
    let app = spawn_app_with(move |state| state.mailer = Some(Arc::new(mailer))).await;
    app.add_customers(&["platte"]).await;
    let (status, link) = app
        .post_fn(
            "/api/user_create",
            &[
                ("email", "new@platte.example"),
                ("name", "New"),
                ("persona", "customer"),
                ("org", "platte"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{link}");
    (app, link)
}

#[tokio::test]
async fn an_invite_link_is_also_emailed_when_an_smtp_relay_is_configured() {
    let (relay, inbox) = smtp_server().await;
    let (app, link) = invite_with_relay(&relay).await;
    assert_eq!(link["mailed"], true, "{link}");
    let inbox = inbox.lock().unwrap().clone();
    assert_eq!(inbox.len(), 1);
    let (from, to, data) = &inbox[0];
    assert_eq!(from, "<fleet@sunfleet.example>");
    assert_eq!(to, "<new@platte.example>");
    let url = format!(
        "https://fleet.example.com{}",
        link["path"].as_str().unwrap()
    );
    assert!(data.contains(&url), "{data}");
    assert!(data.contains("Subject: Your sunfleet invitation"), "{data}");
    // The link in the mail works like the one on the page.
    let token = url.split("token=").nth(1).unwrap();
    let (status, _) = app
        .post_fn_as(
            &Who::Anonymous,
            "/api/link_accept",
            &[("token", token), ("password", "mailed link password")],
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_unreachable_relay_does_not_lose_the_link() {
    // Nothing listens on the discard port.
    let (_app, link) = invite_with_relay("127.0.0.1:9").await;
    assert_eq!(link["mailed"], false);
    assert!(
        link["mail_error"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{link}"
    );
    assert!(link["path"]
        .as_str()
        .unwrap()
        .starts_with("/welcome?token="));
}
