//! `fake-wa`: the fake WhatsApp server over real sockets, for running
//! blacksky offline and for the end-to-end tests.
//!
//! ```text
//! fake-wa [--port P] [--control-port C] [--media-port M] [--seed N] [--phone DIGITS] [--routing-info HEX]
//! ```
//! Prints, one per line: `root-pubkey: <64 hex>`, `listening: ws://…`,
//! `control: http://…`, `media: http://…` (the actual ports, so 0 works).
//! Logs go to stderr.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use blacksky_sim::net::{FakeWa, wall_now};
use blacksky_sim::server::{DEFAULT_PHONE, FakeServer, ServerConfig};

const USAGE: &str = "\
usage: fake-wa [--port P] [--control-port C] [--media-port M] [--seed N] [--phone DIGITS] [--routing-info HEX]

  --port P            WebSocket port on 127.0.0.1 (default 0: any free port)
  --control-port C    control API port on 127.0.0.1 (default 0: any free port)
  --media-port M      media host port on 127.0.0.1 (default 0: any free port);
                      point the bot's WA_MEDIA_URL at the printed `media:` URL
  --seed N            seed for every key and id the server makes (default 1)
  --phone DIGITS      the account's phone number (default 491556123456)
  --routing-info HEX  edge routing info sent after each login (default none)

control API (JSON):
  POST /scan                         body: the QR text
  POST /code                         body: the pairing code (dash optional)
  POST /kick?code=N[&conn=I]         <stream:error code=N> (440: conflict) and close
  POST /failure?code=N[&conn=I]      <failure reason=N> and close
  POST /drop[?conn=I]                close without a word
  POST /refuse-logins?code=N&count=K refuse the next K logins with N
  POST /min-version?v=2.3000.N       logins whose app version is below get
                                     <failure reason=405> (v=none: any version)
  GET  /sw.js                        WhatsApp Web's service worker stand-in: its
                                     client_revision is the demanded build (point the
                                     bot's WA_VERSION_URL here)
  POST /send?from=PHONE[&as=pn|lid][&group=G][&len=N]
                                     a contact's text (body: UTF-8; len=N: N letters),
                                     Signal-encrypted for each linked device, in group
                                     G@g.us if given; returns {\"id\"}
  POST /silent?conn=I[&on=false]     cut a connection off (or restore it)
  POST /ignore-iqs[?xmlns=X]         stop answering iqs of X (none: answer all)
  POST /devices?phone=P&ids=3,5      the contact's devices besides its phone (device 0)
  POST /retry?from=PHONE&id=ID       the contact's devices that read message ID ask the
                                     bot for it again (retry receipts); returns {\"receipts\"}
  GET  /received?from=PHONE          what the contact's devices read from the bot, in order:
                                     [{id, text, device, ...}] (our own number: the phone's DSM copies)
  GET  /violations                   what a real server or contact would refuse in the bot's
                                     messages: [{id, owner, device, kind, ...}]
  POST /poison?kind=K[&conn=I]       a stanza the client cannot use, sent again at each
                                     login until answered; K: message-without-id,
                                     undecodable, message-unreadable, count-notification,
                                     count-answer; GET /poison: what became of them
  POST /groups                       body: JSON {subject, creator, admins?, members?, bot?:
                                     member|admin|superadmin, addressing?: pn|lid,
                                     id?}: a group; returns {\"id\"}
  POST /groups/change?group=G&actor=P
                                     body: JSON {kind: add|remove|promote|demote (phones),
                                     leave, subject (subject), description (body|null),
                                     announce|locked (on), revoke_invite}; the bot's devices
                                     get the w:gp2 notification; returns {\"changed\"}
  GET  /groups[?id=G]                every group (or one): members, ranks, settings
  GET  /state                        everything the server knows
  POST /media/rotate-auth            a new media_conn auth (uploads with the old get 401)
  POST /media/fail?count=N           the next N media requests get 503
  GET  /media/stats                  blobs stored, uploads, downloads
  GET  /media/conn                   what media_conn answers now: {auth, hosts, ttl}
  GET  /media/check?id=ID            what the check of the bot's media message ID found
                                     (a failed check is also a bad_media violation)

media host (its own port):
  POST /mms/<type>/<token>?auth=A&token=T   store the encrypted blob (type: image, video,
                                     audio, document; token: base64url SHA-256 of the body);
                                     returns {\"url\", \"direct_path\"}
  GET  <direct_path>                 the blob (a url's path works too)
";

#[derive(Debug)]
struct Args {
    port: u16,
    control_port: u16,
    media_port: u16,
    seed: u64,
    phone: String,
    routing_info: Option<Vec<u8>>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        port: 0,
        control_port: 0,
        media_port: 0,
        seed: 1,
        phone: DEFAULT_PHONE.to_owned(),
        routing_info: None,
    };
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let known = [
            "--port",
            "--control-port",
            "--media-port",
            "--seed",
            "--phone",
            "--routing-info",
        ];
        if !known.contains(&flag.as_str()) {
            return Err(format!("unknown flag {flag:?}"));
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("{flag} {value:?}: {what}");
        match flag.as_str() {
            "--port" => parsed.port = value.parse().map_err(|_| bad("not a port"))?,
            "--control-port" => {
                parsed.control_port = value.parse().map_err(|_| bad("not a port"))?;
            }
            "--media-port" => {
                parsed.media_port = value.parse().map_err(|_| bad("not a port"))?;
            }
            "--seed" => parsed.seed = value.parse().map_err(|_| bad("not a number"))?,
            "--phone" => {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("digits only"));
                }
                parsed.phone = value;
            }
            _ => parsed.routing_info = Some(hex::decode(&value).map_err(|_| bad("not hex"))?),
        }
    }
    Ok(Some(parsed))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("fake-wa: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let mut config = ServerConfig::new(wall_now());
    config.phone = args.phone;
    config.routing_info = args.routing_info;
    let server = FakeServer::new(config, args.seed);
    let localhost = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let bound = FakeWa::bind(
        server,
        localhost(args.port),
        localhost(args.control_port),
        localhost(args.media_port),
    )
    .await;
    let (fake, listeners) = match bound {
        Ok(bound) => bound,
        Err(err) => {
            eprintln!("fake-wa: cannot listen: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "root-pubkey: {}", hex::encode(fake.root_public_key));
    let _ = writeln!(stdout, "listening: {}", fake.ws_url());
    let _ = writeln!(stdout, "control: {}", fake.control_url());
    let _ = writeln!(stdout, "media: {}", fake.media_url());
    let _ = stdout.flush();
    drop(stdout);

    tokio::select! {
        result = fake.serve(listeners) => {
            if let Err(err) = result {
                eprintln!("fake-wa: {err}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn flags_parse_and_unknown_ones_are_named() {
        let args = parse(&["--port", "0", "--control-port", "8788", "--seed", "7"])
            .expect("valid")
            .expect("not help");
        assert_eq!((args.port, args.control_port, args.seed), (0, 8788, 7));
        assert_eq!(args.media_port, 0);
        let args = parse(&["--media-port", "8789"])
            .expect("valid")
            .expect("not help");
        assert_eq!(args.media_port, 8789);
        assert_eq!(args.phone, DEFAULT_PHONE);
        let err = parse(&["--prot", "1"]).expect_err("unknown");
        assert!(err.contains("--prot"), "{err}");
        assert!(parse(&["--port"]).expect_err("no value").contains("--port"));
        assert!(parse(&["--phone", "+49"]).is_err());
        assert!(parse(&["--help"]).expect("help").is_none());
    }
}
