//! One-off commands to a device (issue 6): start, stop, set speed, reboot, sync schedule.
//!
//! A command is queued with a time to live, handed to the device in the answer to its next
//! status post (or at once through Particle's function call, when configured and the device
//! is connected), and acknowledged by the device — `acks` in a later status, or the ack
//! endpoint. Its life is the small state machine below:
//!
//! ```text
//! queued ──deliver──▶ delivered ──ack ok──▶ acked
//!    │                    │      └─ack not ok─▶ failed
//!    └────────── TTL passed ─────────────▶ expired
//! ```
//!
//! A delivered command is delivered again at every post until it is acknowledged or
//! expires (answers can be lost; Particle retries): devices run each command id once and
//! in id order, so a repeat is harmless and several commands keep their order.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The commands a device understands, with their arguments checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Command {
    Start,
    Stop,
    /// Motor speed in % of rated (0–100).
    SetSpeed {
        percent: u8,
    },
    Reboot,
    /// Fetch the desired schedule now, whatever version the device thinks it runs.
    SyncSchedule,
}

pub const KINDS: [&str; 5] = ["start", "stop", "set_speed", "reboot", "sync_schedule"];

impl Command {
    /// Parses a command as partners and the UI send it: a kind and, for `set_speed`, a
    /// percentage.
    pub fn parse(kind: &str, percent: Option<i64>) -> Result<Self, String> {
        let command = match kind.trim() {
            "start" => Command::Start,
            "stop" => Command::Stop,
            "reboot" => Command::Reboot,
            "sync_schedule" => Command::SyncSchedule,
            "set_speed" => match percent {
                Some(p @ 0..=100) => Command::SetSpeed { percent: p as u8 },
                Some(p) => return Err(format!("speed {p} % is outside 0–100 %")),
                None => return Err("set_speed needs `percent` (0–100)".into()),
            },
            other => {
                return Err(format!(
                    "unknown command kind “{other}”: use one of {}",
                    KINDS.join(", ")
                ))
            }
        };
        if percent.is_some() && !matches!(command, Command::SetSpeed { .. }) {
            return Err(format!("{kind} takes no `percent`"));
        }
        Ok(command)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Stop => "stop",
            Command::SetSpeed { .. } => "set_speed",
            Command::Reboot => "reboot",
            Command::SyncSchedule => "sync_schedule",
        }
    }

    pub fn percent(&self) -> Option<u8> {
        match self {
            Command::SetSpeed { percent } => Some(*percent),
            _ => None,
        }
    }

    /// The argument string of Particle's function call: `"17 set_speed 70"` (id, kind and
    /// argument, space-separated; well under Particle's 63-character limit).
    pub fn particle_arg(&self, id: u64) -> String {
        match self.percent() {
            Some(p) => format!("{id} {} {p}", self.kind()),
            None => format!("{id} {}", self.kind()),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Start => f.write_str("start the motor"),
            Command::Stop => f.write_str("stop the motor"),
            Command::SetSpeed { percent } => write!(f, "set the speed to {percent} %"),
            Command::Reboot => f.write_str("reboot"),
            Command::SyncSchedule => f.write_str("fetch the schedule"),
        }
    }
}

/// Where a command is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    Queued,
    Delivered,
    Acked,
    Failed,
    Expired,
}

/// Why an acknowledgement was not taken. `code` is stable; firmware matches on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRefusal {
    pub code: &'static str,
    pub message: String,
}

impl CommandState {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => Self::Queued,
            "delivered" => Self::Delivered,
            "acked" => Self::Acked,
            "failed" => Self::Failed,
            "expired" => Self::Expired,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Delivered => "delivered",
            Self::Acked => "acked",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    /// Still waiting for the device.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Queued | Self::Delivered)
    }

    /// Handed to the device in an answer (again, if it was already).
    pub fn deliver(self) -> Self {
        match self {
            Self::Queued => Self::Delivered,
            other => other,
        }
    }

    /// The time to live passed before the device acknowledged.
    pub fn expire(self) -> Self {
        if self.is_open() {
            Self::Expired
        } else {
            self
        }
    }

    /// The device says it ran the command (`ok`) or could not. A repeated ack with the same
    /// outcome is taken again (Particle retries); `delivered` says whether the device was
    /// ever handed it, which lets a late ack of an expired command count — the device did
    /// run it — while an ack of one it never got is refused.
    pub fn ack(self, ok: bool, delivered: bool) -> Result<Self, AckRefusal> {
        let done = if ok { Self::Acked } else { Self::Failed };
        match self {
            Self::Queued | Self::Delivered => Ok(done),
            Self::Expired if delivered => Ok(done),
            Self::Expired => Err(AckRefusal {
                code: "command_expired",
                message: "the command expired before it was delivered".into(),
            }),
            finished if finished == done => Ok(finished),
            finished => Err(AckRefusal {
                code: "command_finished",
                message: format!("the command was already {}", finished.as_str()),
            }),
        }
    }
}

impl fmt::Display for CommandState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A command as the device gets it in an ingest answer: `{"id":17,"kind":"set_speed",
/// "percent":70}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOrder {
    pub id: u64,
    #[serde(flatten)]
    pub command: Command,
}

/// Most commands in one answer: with a schedule notice that stays within one 512-byte
/// Particle hook-response chunk. More wait for the next post, in order.
pub const MAX_PER_ANSWER: usize = 5;

/// A device's acknowledgement: `17` (done) or `{"id": 17, "ok": false, "error": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub id: u64,
    pub ok: bool,
    pub error: Option<String>,
}

/// One acknowledgement that was not taken, by its position in `acks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckRejected {
    pub index: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub code: String,
    pub message: String,
}

impl AckRejected {
    pub fn new(index: usize, id: Option<u64>, code: &str, message: impl Into<String>) -> Self {
        Self {
            index,
            id,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Longest failure reason kept from a device.
pub const MAX_ACK_ERROR: usize = 200;

impl Ack {
    /// Parses a device's `acks` list; bad entries are reported by index, the good ones kept
    /// with theirs.
    pub fn parse_list(value: &serde_json::Value) -> (Vec<(usize, Ack)>, Vec<AckRejected>) {
        use serde_json::Value;
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            match Self::parse(item) {
                Ok(ack) => good.push((index, ack)),
                Err(message) => bad.push(AckRejected::new(index, None, "invalid_ack", message)),
            }
        }
        (good, bad)
    }

    fn parse(item: &serde_json::Value) -> Result<Ack, String> {
        use serde_json::Value;
        let id_of = |v: &Value| {
            v.as_u64()
                .filter(|&id| id > 0)
                .ok_or_else(|| format!("{v} is not a command id (a positive integer)"))
        };
        match item {
            Value::Object(fields) => {
                let id = id_of(fields.get("id").ok_or("an ack needs the command's `id`")?)?;
                let ok = match fields.get("ok") {
                    None => true,
                    Some(Value::Bool(ok)) => *ok,
                    Some(other) => return Err(format!("`ok` must be true or false, not {other}")),
                };
                let error = match fields.get("error") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(e)) => Some(e.chars().take(MAX_ACK_ERROR).collect()),
                    Some(other) => return Err(format!("`error` must be text, not {other}")),
                };
                Ok(Ack { id, ok, error })
            }
            other => Ok(Ack {
                id: id_of(other)?,
                ok: true,
                error: None,
            }),
        }
    }
}

/// A command as the device page and partners see it. Times in the device's zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandView {
    pub id: u64,
    pub kind: String,
    pub percent: Option<u8>,
    /// "set the speed to 70 %".
    pub what: String,
    pub state: CommandState,
    pub created: String,
    pub created_by: String,
    pub expires: String,
    pub delivered: Option<String>,
    pub finished: Option<String>,
    /// The device's reason for a failure, or how delivery went ("Particle: not connected").
    pub note: Option<String>,
}

/// The times to live the UI offers, in seconds (the default is an hour).
pub const TTL_CHOICES: [(i64, &str); 4] = [
    (15 * 60, "15 minutes"),
    (3600, "1 hour"),
    (4 * 3600, "4 hours"),
    (24 * 3600, "24 hours"),
];
pub const DEFAULT_TTL_S: i64 = 3600;
/// Shortest and longest accepted time to live.
pub const TTL_RANGE_S: (i64, i64) = (60, 7 * 24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commands_parse_with_their_arguments_checked() {
        assert_eq!(Command::parse("start", None), Ok(Command::Start));
        assert_eq!(
            Command::parse("set_speed", Some(70)),
            Ok(Command::SetSpeed { percent: 70 })
        );
        assert!(Command::parse("set_speed", Some(101))
            .unwrap_err()
            .contains("0–100"));
        assert!(Command::parse("set_speed", None).is_err());
        assert!(Command::parse("start", Some(5)).is_err());
        assert!(Command::parse("launch", None)
            .unwrap_err()
            .contains("unknown command kind"));
    }

    #[test]
    fn a_command_goes_queued_delivered_acked() {
        let s = CommandState::Queued.deliver();
        assert_eq!(s, CommandState::Delivered);
        assert_eq!(s.deliver(), CommandState::Delivered, "re-delivery");
        assert_eq!(s.ack(true, true), Ok(CommandState::Acked));
        assert_eq!(s.ack(false, true), Ok(CommandState::Failed));
    }

    #[test]
    fn an_ack_may_come_before_the_answer_that_delivered_it_is_recorded() {
        // Particle's function call runs the command before any ingest answer.
        assert_eq!(
            CommandState::Queued.ack(true, false),
            Ok(CommandState::Acked)
        );
    }

    #[test]
    fn open_commands_expire_and_finished_ones_do_not() {
        assert_eq!(CommandState::Queued.expire(), CommandState::Expired);
        assert_eq!(CommandState::Delivered.expire(), CommandState::Expired);
        assert_eq!(CommandState::Acked.expire(), CommandState::Acked);
        assert_eq!(CommandState::Failed.expire(), CommandState::Failed);
    }

    #[test]
    fn a_late_ack_counts_only_for_a_delivered_command() {
        assert_eq!(
            CommandState::Expired.ack(true, true),
            Ok(CommandState::Acked)
        );
        assert_eq!(
            CommandState::Expired.ack(true, false).unwrap_err().code,
            "command_expired"
        );
    }

    #[test]
    fn a_repeated_ack_is_taken_and_a_contradicting_one_refused() {
        assert_eq!(CommandState::Acked.ack(true, true), Ok(CommandState::Acked));
        assert_eq!(
            CommandState::Acked.ack(false, true).unwrap_err().code,
            "command_finished"
        );
    }

    #[test]
    fn acks_parse_as_ids_or_objects_and_bad_ones_are_named() {
        let (good, bad) = Ack::parse_list(&json!([
            17,
            {"id": 18, "ok": false, "error": "motor jammed"},
            "x",
            {"ok": true},
            {"id": 19, "ok": "yes"},
            0
        ]));
        assert_eq!(
            good,
            vec![
                (
                    0,
                    Ack {
                        id: 17,
                        ok: true,
                        error: None
                    }
                ),
                (
                    1,
                    Ack {
                        id: 18,
                        ok: false,
                        error: Some("motor jammed".into())
                    }
                ),
            ]
        );
        assert_eq!(
            bad.iter().map(|b| b.index).collect::<Vec<_>>(),
            vec![2, 3, 4, 5]
        );
        assert!(bad.iter().all(|b| b.code == "invalid_ack"));
    }

    #[test]
    fn a_full_answer_of_commands_fits_one_hook_response_chunk() {
        let orders: Vec<CommandOrder> = (0..MAX_PER_ANSWER as u64)
            .map(|i| CommandOrder {
                id: 9_999_999_990 + i,
                command: Command::SetSpeed { percent: 100 },
            })
            .collect();
        let answer = json!({
            "accepted": 1000, "duplicates": 1000, "rejected": [],
            "schedule": {"version": 4_294_967_295u64,
                         "url": "/ingest/v1/devices/0123456789abcdef01234567/schedule"},
            "commands": orders,
        });
        let text = answer.to_string();
        assert!(text.len() <= 512, "{} bytes: {text}", text.len());
        assert!(text.contains(r#"{"id":9999999990,"kind":"set_speed","percent":100}"#));
    }

    #[test]
    fn particle_arguments_are_short() {
        assert_eq!(
            Command::SetSpeed { percent: 70 }.particle_arg(17),
            "17 set_speed 70"
        );
        assert_eq!(Command::SyncSchedule.particle_arg(18), "18 sync_schedule");
    }
}
