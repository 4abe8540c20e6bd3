//! Writes what rally-proto's Socket.IO decoder makes of every input of a
//! folder, one JSON line each, for differential/socket_parser.mjs to hold
//! against the reference parser. Not a test on its own: it runs only when
//! RALLY_DIFF_IN (a folder of socket_packet inputs) and RALLY_DIFF_OUT are set.

use std::{fmt::Write as _, fs, path::Path};

use rally_proto::socket::{DEFAULT_MAX_ATTACHMENTS, Decoder};

#[test]
fn dump_socket_packets() {
    let (Ok(input), Ok(output)) = (
        std::env::var("RALLY_DIFF_IN"),
        std::env::var("RALLY_DIFF_OUT"),
    ) else {
        return;
    };
    let mut out = String::new();
    let mut paths: Vec<_> = fs::read_dir(Path::new(&input))
        .expect("RALLY_DIFF_IN is a folder")
        .map(|e| e.expect("an entry").path())
        .collect();
    paths.sort();
    for path in paths {
        let data = fs::read(&path).expect("a file");
        // As the socket_packet target reads its input.
        let (max, text) = match data.split_first() {
            Some((&b, rest)) if b >= 0xf0 => (usize::from(b - 0xf0), rest),
            _ => (DEFAULT_MAX_ATTACHMENTS, &data[..]),
        };
        // Not UTF-8: the replacement characters Node's toString("utf8") puts.
        let text = String::from_utf8_lossy(text);
        let line = match Decoder::new()
            .max_attachments(max)
            .decode(text.as_ref().into())
        {
            Ok(p) => serde_json::json!({
                "file": path.file_name().unwrap().to_string_lossy(),
                "max": max,
                "ok": true,
                "type": p.kind as u8,
                "nsp": p.nsp.as_str(),
                "id": p.id.map(|id| id.to_string()),
                "attachments": p.attachments,
                "data": p.data.as_deref(),
            }),
            Err(e) => serde_json::json!({
                "file": path.file_name().unwrap().to_string_lossy(),
                "max": max,
                "ok": false,
                "error": format!("{e:?}"),
            }),
        };
        writeln!(out, "{line}").unwrap();
    }
    fs::write(output, out).expect("RALLY_DIFF_OUT is writable");
}
