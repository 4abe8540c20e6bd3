//! Hand-written inputs for each check, so that `cargo test` shows the
//! harnesses themselves work (a harness that rejects everything finds nothing).

use rally_fuzz::*;

#[test]
fn websocket_socket_io_session() {
    let msgs = write_messages([
        (0, &b"40"[..]),
        (0, br#"42["message","hi",{"a":[1,2]}]"#),
        (0, br#"421["message-with-ack",1]"#),
        (0, br#"451-["message",{"_placeholder":true,"num":0}]"#),
        (1, &[1, 2, 3][..]),
        (0, b"3"),
    ]);
    for mode in [0u8, 4] {
        let mut input = vec![mode];
        input.extend_from_slice(&msgs);
        check_websocket_messages(&input);
    }
}

#[test]
fn websocket_upgrade_and_engine_echo() {
    let msgs = write_messages([
        (0, &b"2probe"[..]),
        (0, b"5"),
        (0, b"4hello"),
        (1, &[0, 255][..]),
        (2, b"4fragmented"),
        (4, b"4after a ping"),
    ]);
    for mode in [1u8, 3, 5, 7, 2, 6] {
        let mut input = vec![mode];
        input.extend_from_slice(&msgs);
        check_websocket_messages(&input);
    }
}

#[test]
fn decoders_on_samples() {
    for s in ["4hello", "2probe", "1", "6x", "", "9", "0{\"sid\":\"x\"}"] {
        check_engine_packet(s.as_bytes());
    }
    for s in [
        &b"4hi\x1ebAQID\x1e2"[..],
        b"",
        b"\x1e",
        b"b",
        b"bA=Q",
        &[0xff],
    ] {
        check_polling_payload(s);
    }
    for s in [
        r#"2/admin,13["ping",{"a":1}]"#,
        r#"51-["a",{"_placeholder":true,"num":0}]"#,
        "0/custom,{}",
        "1/x,",
        r#"4"oops""#,
        "2 [1]",
    ] {
        check_socket_packet(s.as_bytes());
    }
    check_socket_assembler(&write_messages([
        (0, &br#"52-["a",{"_placeholder":true,"num":1}]"#[..]),
        (1, b"x"),
        (1, b"y"),
        (0, br#"2["b"]"#),
        (0, br#"51-["a",{"_placeholder":true,"num":1}]"#),
        (1, b"x"),
        (1, b"stray"),
    ]));
    for s in [
        r#"["a", 1 ,{"b":[2]}]"#,
        "[]",
        "[1.0]",
        " [ ] ",
        "[1,]",
        "{}",
        r#"["\u0061"]"#,
    ] {
        check_event_args(s.as_bytes());
    }
}

fn texts(replies: &[ws::Reply]) -> Vec<String> {
    replies
        .iter()
        .filter_map(|r| match r {
            ws::Reply::Text(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn websocket_replies_are_real() {
    let mut input = vec![4u8];
    input.extend(write_messages([
        (0, &b"40"[..]),
        (0, br#"421["message-with-ack",1]"#),
        (0, br#"451-["message",{"_placeholder":true,"num":0}]"#),
        (1, &[1, 2, 3][..]),
    ]));
    let replies = ws::conversation(&input);
    let texts = texts(&replies);
    assert!(texts[0].starts_with("0{\"sid\":"), "{texts:?}");
    assert!(texts[1].starts_with("40{\"sid\":"), "{texts:?}");
    assert_eq!(texts[2], r#"42["auth",{}]"#);
    assert_eq!(texts[3], r#"431[1]"#);
    assert_eq!(
        texts[4],
        r#"451-["message-back",{"_placeholder":true,"num":0}]"#
    );
    assert!(
        replies.contains(&ws::Reply::Binary(vec![1, 2, 3])),
        "{replies:?}"
    );
    assert_eq!(replies.last(), Some(&ws::Reply::Close));

    let mut input = vec![7u8];
    input.extend(write_messages([
        (0, &b"2probe"[..]),
        (0, b"5"),
        (2, b"4fragmented"),
        (4, b"4after a ping"),
    ]));
    let texts = self::texts(&ws::conversation(&input));
    assert_eq!(texts, ["3probe", "4fragmented", "4after a ping"]);
}

#[test]
fn msgpack_packet_samples() {
    for bytes in [
        &b"\x83\xa4type\x02\xa4data\x92\xa4file\xc4\x02\x01\x02\xa3nsp\xa1/"[..],
        b"\xf1\x83\xa4type\x02\xa4data\x93\xa1a\xc4\x00\xc4\x00\xa3nsp\xa1/",
        b"\x83\xa4type\x00\xa4data\xd4\x00\x00\xa3nsp\xa6/admin",
        b"\x84\xa2id\x01\xa4type\x03\xa4data\x91\x82\xa1b\x01\xa11\x02\xa3nsp\xa1/",
        b"\x83\xa4type\x04\xa4data\xa4nope\xa3nsp\xa1/",
        b"",
        b"\xdf\xff\xff\xff\xff",
    ] {
        check_msgpack_packet(bytes);
    }
}
