//! Kannel as the system under test (`run --target kannel`), for `make bench-peers`: the same
//! load sent to Kannel's smsbox (`GET /cgi-bin/sendsms`) instead of the gateway's
//! `POST /sms/send`, and Kannel's outgoing messages read where they leave it.
//!
//! Kannel hands messages to an SMSC; its `fake` SMSC type listens on a TCP port and writes one
//! line per message to the client that connected there (the protocol of Kannel's own
//! `fakesmsc` test program, from Debian's `kannel-extras`): `<sender> <receiver> text <text>`
//! for printable ASCII, `... data <url-encoded bytes>` otherwise, `... udh <udh> <data>` with
//! a user data header. [`Smsc`] is that client: it connects, reads the lines, and records each
//! tagged text as an arrival exactly as the gateway's operator does ([`crate::operator`]), so
//! both systems are measured by one clock and one matcher. Kannel reads no answer from the
//! client (the fake SMSC counts a message sent once the line is written), so a message counts
//! as delivered when its line arrives.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::clock;
use crate::operator::{Arrival, Recorder};
use crate::text::parse_tag;

/// The longest line the reader accepts (a 160-character text url-encoded three times over).
const MAX_LINE: usize = 4_096;

/// `<base>/cgi-bin/sendsms?username=..&password=..&from=..&to=..&text=..`, the text and the
/// credentials percent-encoded.
pub fn sendsms_url(base: &str, user: &str, password: &str, to: &str, text: &str) -> String {
    let mut url = String::with_capacity(base.len() + text.len() * 3 + 96);
    url.push_str(base.trim_end_matches('/'));
    url.push_str("/cgi-bin/sendsms?username=");
    encode_into(&mut url, user);
    url.push_str("&password=");
    encode_into(&mut url, password);
    url.push_str("&from=loadtest&to=");
    encode_into(&mut url, to);
    url.push_str("&text=");
    encode_into(&mut url, text);
    url
}

/// Appends `s` percent-encoded for a query value (unreserved characters as they are).
fn encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => {
                out.push('%');
                out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
                out.push(char::from(b"0123456789ABCDEF"[(b & 15) as usize]));
            }
        }
    }
}

/// Decodes `%XX` escapes and `+` (url-encoded data from the fake SMSC); `None` if malformed.
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The text of one fake-SMSC line, if it is a message line.
pub fn line_text(line: &str) -> Option<String> {
    let mut parts = line.splitn(4, ' ');
    let (_sender, _receiver, kind, rest) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    match kind {
        "text" => Some(rest.to_string()),
        "data" => decode(rest),
        "udh" => decode(rest.split_once(' ')?.1),
        _ => None,
    }
}

/// The client of Kannel's fake SMSC: records every message Kannel sends.
pub struct Smsc {
    /// What arrived, per run (the same recorder the operator uses).
    pub recorder: Arc<Recorder>,
}

impl Smsc {
    /// Connects to the fake SMSC at `addr` (retrying for up to 30 s while bearerbox starts) and
    /// reads its lines until `stop` fires.
    pub async fn start(addr: SocketAddr, stop: CancellationToken) -> anyhow::Result<Self> {
        let mut tries = 0;
        let stream = loop {
            match TcpStream::connect(addr).await {
                Ok(s) => break s,
                Err(_) if tries < 120 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => {
                    return Err(e).context(format!("cannot reach Kannel's fake SMSC at {addr}"));
                }
            }
        };
        stream.set_nodelay(true)?;
        let recorder = Arc::new(Recorder::default());
        let rec = recorder.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::with_capacity(64 * 1024, stream);
            let mut line = String::new();
            loop {
                line.clear();
                let read = tokio::select! {
                    _ = stop.cancelled() => break,
                    r = lines.read_line(&mut line) => r,
                };
                match read {
                    Ok(0) => {
                        eprintln!("kannel: the fake SMSC closed the connection");
                        break;
                    }
                    Ok(_) if line.len() > MAX_LINE => {
                        rec.untagged.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => record_line(&rec, line.trim_end_matches(['\r', '\n'])),
                    Err(e) => {
                        eprintln!("kannel: reading the fake SMSC: {e}");
                        break;
                    }
                }
            }
        });
        Ok(Self { recorder })
    }
}

/// Records one line as an arrival of its run (or as untagged).
fn record_line(rec: &Recorder, line: &str) {
    let at_us = clock::now_us();
    rec.received.fetch_add(1, Ordering::Relaxed);
    match line_text(line).as_deref().and_then(parse_tag) {
        Some((run, seq)) => rec.record(
            run,
            Arrival {
                seq,
                at_us,
                reference: u64::from(seq),
            },
        ),
        None => {
            rec.untagged.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{TextKind, tagged_text};

    #[test]
    fn a_sendsms_url_encodes_the_text_and_its_tag() {
        let url = sendsms_url("http://127.0.0.1:13013/", "u", "p&w", "+98912", "a b #0a-1");
        assert_eq!(
            url,
            "http://127.0.0.1:13013/cgi-bin/sendsms?username=u&password=p%26w&from=loadtest&to=%2B98912&text=a%20b%20%230a-1"
        );
    }

    #[test]
    fn fake_smsc_lines_give_back_the_tagged_text() {
        let text = tagged_text(TextKind::Gsm, 0x0a0b0c0d, 42);
        let line = format!("loadtest 98912 text {text}");
        assert_eq!(line_text(&line).as_deref(), Some(text.as_str()));
        assert_eq!(
            parse_tag(&line_text(&line).unwrap()),
            Some((0x0a0b0c0d, 42))
        );
        let data = "loadtest 98912 data hi%20there+%230a0b0c0d-7";
        assert_eq!(parse_tag(&line_text(data).unwrap()), Some((0x0a0b0c0d, 7)));
        assert_eq!(
            line_text("loadtest 98912 udh %05%00 x%20%2300000001-3").as_deref(),
            Some("x #00000001-3")
        );
        assert_eq!(line_text("garbage"), None);
        assert_eq!(line_text("a b data %zz"), None);
    }

    #[test]
    fn recorded_lines_count_per_run() {
        let rec = Recorder::default();
        let counter = rec.counter(0x0a0b0c0d);
        record_line(&rec, "loadtest 1 text hello #0a0b0c0d-1");
        record_line(&rec, "loadtest 1 text hello #0a0b0c0d-2");
        record_line(&rec, "loadtest 1 text untagged");
        assert_eq!(counter.load(Ordering::Relaxed), 2);
        assert_eq!(rec.arrivals(0x0a0b0c0d).len(), 2);
        assert_eq!(rec.untagged.load(Ordering::Relaxed), 1);
    }
}
