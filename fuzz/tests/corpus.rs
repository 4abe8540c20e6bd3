//! Replays the committed corpora (`corpus/<target>/`) and the saved crash
//! inputs (`regressions/<target>/`, see README.md) through the checks, on a
//! stable compiler without libFuzzer: `cargo test --manifest-path fuzz/Cargo.toml`.

use std::{fs, path::Path};

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries
            .map(|e| e.expect("a directory entry").path())
            .collect();
        paths.sort();
        for path in paths {
            let data = fs::read(&path).expect("a corpus file");
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{target}: {} fails", path.display());
            count += 1;
        }
    }
    println!("{target}: {count} inputs replayed");
}

#[test]
fn engine_packet() {
    replay("engine_packet", rally_fuzz::check_engine_packet);
}

#[test]
fn polling_payload() {
    replay("polling_payload", rally_fuzz::check_polling_payload);
}

#[test]
fn polling_payload_v3() {
    replay("polling_payload_v3", rally_fuzz::check_polling_payload_v3);
}

#[test]
fn socket_packet() {
    replay("socket_packet", rally_fuzz::check_socket_packet);
}

#[test]
fn socket_assembler() {
    replay("socket_assembler", rally_fuzz::check_socket_assembler);
}

#[test]
fn event_args() {
    replay("event_args", rally_fuzz::check_event_args);
}

#[test]
fn websocket_messages() {
    replay("websocket_messages", rally_fuzz::check_websocket_messages);
}

#[test]
fn ws_reader() {
    replay("ws_reader", rally_fuzz::check_ws_reader);
    for seed in rally_fuzz::ws_reader::seeds() {
        rally_fuzz::check_ws_reader(&seed);
    }
}

/// Writes the hand-made seeds of `ws_reader` to `corpus/ws_reader/`:
/// `cargo test --manifest-path fuzz/Cargo.toml --test corpus -- --ignored write_ws_reader_seeds`.
#[test]
#[ignore = "writes the corpus"]
fn write_ws_reader_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/ws_reader");
    fs::create_dir_all(&dir).expect("the corpus folder");
    for (i, seed) in rally_fuzz::ws_reader::seeds().iter().enumerate() {
        fs::write(dir.join(format!("seed-{i:02}")), seed).expect("a seed file");
    }
}

#[test]
fn msgpack() {
    replay("msgpack", rally_fuzz::check_msgpack);
}

#[test]
fn msgpack_packet() {
    replay("msgpack_packet", rally_fuzz::check_msgpack_packet);
}
