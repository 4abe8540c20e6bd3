//! The MessagePack parser against `socket.io-msgpack-parser` 3.0.2
//! (notepack.io 2.2.0): golden bytes recorded from it, the same cases live
//! from Node.js, and bad input.
//!
//! `GOLDEN` is the output of `node interop/msgpack-golden.mjs --small`: one
//! case a line (see the script for the fields). `live_node_agrees` runs the
//! script again, checks that its `--small` output is still `GOLDEN`, and
//! checks the cases too big to record (16 and 32-bit lengths).

use std::process::Command;

use bytes::Bytes;
use rally_proto::{
    DecodeError, Str,
    socket::{
        Packet, PacketType,
        msgpack::{self, EncodeError, Layout, MAX_DEPTH},
    },
};
use serde_json::Value;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// A packet in the script's shape: `{type, nsp, id, data, attachments}`.
fn packet_of(v: &Value) -> (Packet, Vec<Bytes>) {
    let digit = u8::try_from(v["type"].as_u64().expect("type")).expect("digit");
    let mut packet = Packet::new(
        PacketType::from_digit(b'0' + digit).expect("a type"),
        Str::from(v["nsp"].as_str().expect("nsp")),
    );
    packet.id = v["id"].as_u64();
    packet.data = v["data"].as_str().map(Str::from);
    let attachments: Vec<Bytes> = v["attachments"]
        .as_array()
        .expect("attachments")
        .iter()
        .map(|a| Bytes::from(unhex(a.as_str().expect("hex"))))
        .collect();
    packet.attachments = attachments.len();
    (packet, attachments)
}

fn layout_of(name: &str) -> Layout {
    match name {
        "server" => Layout::Server,
        "broadcast" => Layout::Broadcast,
        "invalid_namespace" => Layout::InvalidNamespace,
        "client" => Layout::Client,
        other => panic!("unknown layout {other}"),
    }
}

/// What Rally answers where the reference accepts: the checks of the
/// default parser, which `socket.io-msgpack-parser` does not make.
const STRICTER: &[(&str, DecodeError)] = &[
    ("negative id", DecodeError::InvalidAckId),
    ("id of 2^64", DecodeError::InvalidAckId),
    ("binary in connect auth", DecodeError::InvalidPayload),
    ("placeholder map beside binary", DecodeError::InvalidPayload),
    ("reserved event name", DecodeError::ReservedEventName),
    ("empty event", DecodeError::InvalidPayload),
    ("event name null", DecodeError::InvalidPayload),
    ("namespace without slash", DecodeError::InvalidNamespace),
];

/// Rally's error where the reference refuses too.
const REFUSED: &[(&str, DecodeError)] = &[
    ("float id", DecodeError::InvalidAckId),
    ("type as string", DecodeError::UnknownPacketType),
    ("type 5", DecodeError::UnknownPacketType),
    ("nsp not a string", DecodeError::InvalidNamespace),
    ("no nsp", DecodeError::InvalidNamespace),
    ("disconnect with data", DecodeError::InvalidPayload),
    ("connect with array", DecodeError::InvalidPayload),
    ("event with object", DecodeError::InvalidPayload),
    ("not a map", DecodeError::UnknownPacketType),
    ("trailing bytes", DecodeError::InvalidMsgpack),
    ("truncated", DecodeError::InvalidMsgpack),
];

/// Checks one case of the script: our encoding is its bytes, and our
/// decoding of its bytes is what its decoder made of them.
fn check_case(line: &str) {
    let case: Value = serde_json::from_str(line).expect("a JSON line");
    let name = case["name"].as_str().expect("name");
    let bytes = Bytes::from(unhex(case["msgpack"].as_str().expect("msgpack")));
    if case["encode"] == Value::Bool(true) {
        let (packet, attachments) = packet_of(&case["packet"]);
        let layout = layout_of(case["layout"].as_str().expect("layout"));
        let ours = msgpack::encode(&packet, &attachments, layout)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hex(&ours), hex(&bytes), "{name}: encode");
    }
    let ours = msgpack::decode(&bytes, 10);
    let expected_error = STRICTER
        .iter()
        .chain(REFUSED)
        .find(|(n, _)| *n == name)
        .map(|(_, e)| e.clone());
    if let Some(error) = expected_error {
        assert_eq!(ours, Err(error), "{name}: decode");
        assert_eq!(
            case["decoded"].get("error").is_some(),
            REFUSED.iter().any(|(n, _)| *n == name),
            "{name}: the reference's answer changed"
        );
        return;
    }
    assert!(
        case["decoded"].get("error").is_none(),
        "{name}: the reference refuses it, add it to REFUSED"
    );
    let (packet, attachments) = ours.unwrap_or_else(|e| panic!("{name}: decode: {e}"));
    let (expected, expected_attachments) = packet_of(&case["decoded"]);
    assert_eq!(packet, expected, "{name}: decode");
    assert_eq!(attachments, expected_attachments, "{name}: attachments");
}

#[test]
fn golden_bytes() {
    let mut n = 0;
    for line in GOLDEN.lines().filter(|l| !l.is_empty()) {
        check_case(line);
        n += 1;
    }
    assert_eq!(n, 70);
}

fn node_golden(small: bool) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../interop/msgpack-golden.mjs"
    );
    let mut command = Command::new("node");
    command.arg(script);
    if small {
        command.arg("--small");
    }
    let output = command.output().expect("node runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// The script still prints `GOLDEN`, and its big cases pass too.
#[test]
fn live_node_agrees() {
    assert_eq!(node_golden(true).trim_end(), GOLDEN.trim());
    let all = node_golden(false);
    let mut big = 0;
    for line in all.lines() {
        if !GOLDEN.contains(line) {
            check_case(line);
            big += 1;
        }
    }
    assert_eq!(big, 4);
}

fn packet(kind: PacketType, data: &str) -> Packet {
    Packet::new(kind, "/".into()).with_data(data.into())
}

fn encode(data: &str) -> Vec<u8> {
    msgpack::encode(&packet(PacketType::Event, data), &[], Layout::Server)
        .unwrap()
        .to_vec()
}

/// `{type: 2, data: <data bytes>, nsp: "/"}`.
fn event_bytes(data: &[u8]) -> Bytes {
    let mut b = b"\x83\xa4type\x02\xa4data".to_vec();
    b.extend_from_slice(data);
    b.extend_from_slice(b"\xa3nsp\xa1/");
    Bytes::from(b)
}

/// The data part of an encoded event (between `data` and `nsp`).
fn data_bytes(data: &str) -> Vec<u8> {
    let all = encode(data);
    all[12..all.len() - 6].to_vec()
}

/// Where Rally keeps a value notepack.io would lose.
#[test]
fn numbers_notepack_would_lose() {
    // Exact 64-bit integers (notepack writes JavaScript's rounded double).
    assert_eq!(
        data_bytes("[\"n\",9007199254740993]"),
        b"\x92\xa1n\xcf\x00\x20\x00\x00\x00\x00\x00\x01"
    );
    assert_eq!(
        data_bytes("[\"n\",18446744073709551615,-9223372036854775808]"),
        b"\x93\xa1n\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xd3\x80\x00\x00\x00\x00\x00\x00\x00"
    );
    // Integer values beyond 64 bits as float 64 (notepack: modulo 2^64).
    let mut expected = b"\x94\xa1n".to_vec();
    for f in [1e21_f64, 1.844_674_407_370_955_2e19, -1e300] {
        expected.push(0xcb);
        expected.extend_from_slice(&f.to_be_bytes());
    }
    assert_eq!(
        data_bytes("[\"n\",1e21,18446744073709551616,-1e300]"),
        expected
    );
    // And back: exact integers decode exactly.
    let (p, _) = msgpack::decode(
        &event_bytes(&data_bytes(
            "[\"n\",9007199254740993,18446744073709551615,-9223372036854775808]",
        )),
        10,
    )
    .unwrap();
    assert_eq!(
        p.data.as_deref(),
        Some("[\"n\",9007199254740993,18446744073709551615,-9223372036854775808]")
    );
}

#[test]
fn placeholders_only_with_attachments() {
    // Without attachments a placeholder-shaped object is an object, as in a
    // plain EVENT of the default parser.
    let data = r#"["a",{"_placeholder":true,"num":0}]"#;
    assert_eq!(
        data_bytes(data),
        b"\x92\xa1a\x82\xac_placeholder\xc3\xa3num\x00"
    );
    // With attachments, one pointing nowhere stays an object too.
    let mut p = packet(
        PacketType::BinaryEvent,
        r#"["a",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0.5},{"_placeholder":true,"num":0}]"#,
    );
    p.attachments = 1;
    let bytes = msgpack::encode(&p, &[Bytes::from_static(b"z")], Layout::Server).unwrap();
    let mut data =
        b"\x94\xa1a\x82\xac_placeholder\xc3\xa3num\x01\x82\xac_placeholder\xc3\xa3num\xcb".to_vec();
    data.extend_from_slice(&0.5_f64.to_be_bytes());
    data.extend_from_slice(b"\xc4\x01z");
    assert_eq!(hex(&bytes), hex(&event_bytes(&data)));
    // Such bytes do not decode: beside binary, a map like a placeholder
    // could not be told apart from one.
    assert_eq!(
        msgpack::decode(&bytes, 10),
        Err(DecodeError::InvalidPayload)
    );
}

#[test]
fn layouts() {
    let ack = Packet::new(PacketType::Ack, "/".into())
        .with_id(1)
        .with_data("[]".into());
    let enc = |p: &Packet, l| hex(&msgpack::encode(p, &[], l).unwrap());
    assert_eq!(
        enc(&ack, Layout::Server),
        hex(b"\x84\xa2id\x01\xa4type\x03\xa4data\x90\xa3nsp\xa1/")
    );
    assert_eq!(
        enc(&ack, Layout::Client),
        hex(b"\x84\xa4type\x03\xa2id\x01\xa4data\x90\xa3nsp\xa1/")
    );
    assert_eq!(
        enc(&ack, Layout::Broadcast),
        hex(b"\x84\xa4type\x03\xa4data\x90\xa3nsp\xa1/\xa2id\x01")
    );
    // A CONNECT without data.
    let reply = Packet::new(PacketType::Connect, "/".into()).with_data(r#"{"sid":"s"}"#.into());
    assert_eq!(
        enc(&reply, Layout::Server),
        hex(b"\x83\xa4type\x00\xa4data\x82\xa3sid\xa1s\xa3pid\xd4\x00\x00\xa3nsp\xa1/")
    );
    let recovered =
        Packet::new(PacketType::Connect, "/".into()).with_data(r#"{"sid":"s","pid":"p"}"#.into());
    assert_eq!(
        enc(&recovered, Layout::Server),
        hex(b"\x83\xa4type\x00\xa4data\x82\xa3sid\xa1s\xa3pid\xa1p\xa3nsp\xa1/")
    );
    let connect = Packet::new(PacketType::Connect, "/".into());
    assert_eq!(
        enc(&connect, Layout::Server),
        hex(b"\x82\xa4type\x00\xa3nsp\xa1/")
    );
    assert_eq!(
        enc(&connect, Layout::Client),
        hex(b"\x83\xa4type\x00\xa4data\xd4\x00\x00\xa3nsp\xa1/")
    );
    // `data: undefined` only for the server's CONNECT_ERROR without one.
    let refusal =
        Packet::new(PacketType::ConnectError, "/".into()).with_data(r#"{"message":"x"}"#.into());
    assert_eq!(
        enc(&refusal, Layout::Server),
        hex(b"\x83\xa4type\x04\xa4data\x82\xa7message\xa1x\xa4data\xd4\x00\x00\xa3nsp\xa1/")
    );
    assert_eq!(
        enc(&refusal, Layout::InvalidNamespace),
        hex(b"\x83\xa4type\x04\xa3nsp\xa1/\xa4data\x81\xa7message\xa1x")
    );
    let text = Packet::new(PacketType::ConnectError, "/".into()).with_data(r#""nope""#.into());
    assert_eq!(
        enc(&text, Layout::Server),
        hex(b"\x83\xa4type\x04\xa4data\xa4nope\xa3nsp\xa1/")
    );
}

#[test]
fn bad_json_is_an_error() {
    for bad in [
        "",
        "[",
        "[1,]",
        "[1 2]",
        "{\"a\"}",
        "{\"a\":1,}",
        "[01]",
        "[1.]",
        "[.5]",
        "[-]",
        "[1e]",
        "[\"\\x\"]",
        "[\"\\u12\"]",
        "[\"a\nb\"]",
        "[tru]",
        "[1]x",
        "[]]",
        "{1:2}",
        "[\"a\"",
    ] {
        let p = packet(PacketType::Event, bad);
        assert_eq!(
            msgpack::encode(&p, &[], Layout::Server),
            Err(EncodeError::InvalidJson),
            "{bad:?}"
        );
    }
    let deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(msgpack::encode(&packet(PacketType::Event, &deep), &[], Layout::Server).is_ok());
    let deeper = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    assert_eq!(
        msgpack::encode(&packet(PacketType::Event, &deeper), &[], Layout::Server),
        Err(EncodeError::TooDeep)
    );
    // `encode_into` leaves the buffer as it was.
    let mut out = b"keep".to_vec();
    assert!(
        msgpack::encode_into(
            &mut out,
            &packet(PacketType::Event, "[\"a\",\"\\q\"]"),
            &[],
            Layout::Server
        )
        .is_err()
    );
    assert_eq!(out, b"keep");
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    use DecodeError::*;
    let cases: &[(&[u8], DecodeError)] = &[
        (b"", InvalidMsgpack),
        (b"\xc1", InvalidMsgpack),
        (b"\x80", UnknownPacketType),
        (b"\x81", InvalidMsgpack),
        // Huge declared lengths, far beyond the input.
        (b"\xdf\xff\xff\xff\xff", InvalidMsgpack),
        (b"\xde\xff\xff\xa4type\x02", InvalidMsgpack),
        (b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\xdd\xff\xff\xff\xff\xc0", InvalidMsgpack),
        (b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1a\xc6\xff\xff\xff\xff\x00", InvalidMsgpack),
        (b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1a\xdb\xff\xff\xff\xff\x00", InvalidMsgpack),
        (b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1a\xc9\xff\xff\xff\xff\x00\x00", InvalidMsgpack),
        (b"\x83\xa4type\x02\xa3nsp\xa1/\xdb\xff\xff\xff\xff", InvalidMsgpack),
        // Wrong field types.
        (b"\x83\xa4type\xa12\xa3nsp\xa1/\xa4data\x91\xa1a", UnknownPacketType),
        (b"\x83\xa4type\xc0\xa3nsp\xa1/\xa4data\x91\xa1a", UnknownPacketType),
        (b"\x83\xa4type\xcb\x40\x00\x00\x00\x00\x00\x00\x01\xa3nsp\xa1/\xa4data\x91\xa1a", UnknownPacketType),
        (b"\x83\xa4type\x02\xa3nsp\x91\xa1/\xa4data\x91\xa1a", InvalidNamespace),
        (b"\x83\xa4type\x02\xa3nsp\xc4\x01/\xa4data\x91\xa1a", InvalidNamespace),
        (b"\x84\xa4type\x02\xa3nsp\xa1/\xa2id\xa11\xa4data\x91\xa1a", InvalidAckId),
        (b"\x84\xa4type\x02\xa3nsp\xa1/\xa2id\xc0\xa4data\x91\xa1a", InvalidAckId),
        (b"\x84\xa4type\x02\xa3nsp\xa1/\xa2id\xd0\xff\xa4data\x91\xa1a", InvalidAckId),
        (b"\x84\xa4type\x02\xa3nsp\xa1/\xa2id\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00\xa4data\x91\xa1a", InvalidAckId),
        (b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\xa1a", InvalidPayload),
        (b"\x82\xa4type\x02\xa3nsp\xa1/", InvalidPayload),
        (b"\x83\xa4type\x03\xa3nsp\xa1/\xa4data\x80", InvalidPayload),
        (b"\x83\xa4type\x04\xa3nsp\xa1/\xa4data\x90", InvalidPayload),
        (b"\x83\xa4type\x04\xa3nsp\xa1/\xa4data\x81\xa1b\xc4\x00", InvalidPayload),
        (b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x91\xc4\x00", InvalidPayload),
        // A repeated key, binary in the value that would be dropped.
        (b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1a\x82\xa1k\xc4\x00\xa1k\x01", InvalidMsgpack),
        // Keys only JavaScript would take.
        (b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1a\x81\x90\x01", InvalidMsgpack),
        (b"\x83\xa4type\x02\xa3nsp\xa1/\x90\x01", InvalidMsgpack),
        // Reserved: 0xc1; truncated extension; trailing bytes.
        (b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1a\xc1", InvalidMsgpack),
        (b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1a\xd8\x01\x00", InvalidMsgpack),
        (b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x91\xa1a\x00", InvalidMsgpack),
        // Unknown fields are read and checked too.
        (b"\x84\xa4type\x02\xa3nsp\xa1/\xa1x\xdd\x00\x00\x00\x09\xa4data\x91\xa1a", InvalidMsgpack),
    ];
    for (bytes, error) in cases {
        assert_eq!(
            msgpack::decode(&Bytes::copy_from_slice(bytes), 10).map(|_| ()),
            Err(error.clone()),
            "{}",
            hex(bytes)
        );
    }
}

#[test]
fn depth_and_attachment_limits() {
    // Data nested MAX_DEPTH deep is fine, one more is not.
    let nested = |depth: usize| {
        let mut data = vec![0x92, 0xa1, b'a'];
        data.extend(std::iter::repeat_n(0x91, depth - 1));
        data.push(0xc0);
        event_bytes(&data)
    };
    assert!(msgpack::decode(&nested(MAX_DEPTH), 10).is_ok());
    assert_eq!(
        msgpack::decode(&nested(MAX_DEPTH + 1), 10),
        Err(DecodeError::InvalidMsgpack)
    );
    // As deep as you like in an unknown field: refused without recursing far.
    let mut deep = b"\x83\xa4type\x01\xa3nsp\xa1/\xa1x".to_vec();
    deep.extend(std::iter::repeat_n(0x91, 100_000));
    deep.push(0xc0);
    assert_eq!(
        msgpack::decode(&Bytes::from(deep), 10),
        Err(DecodeError::InvalidMsgpack)
    );
    // So does a binary value's placeholder object: the deepest JSON
    // serde_json reads (the default parser's placeholder check).
    let bin_at = |depth: usize| {
        let mut data = vec![0x92, 0xa1, b'a'];
        data.extend(std::iter::repeat_n(0x91, depth - 2));
        data.extend_from_slice(b"\xc4\x00");
        event_bytes(&data)
    };
    let (packet, _) = msgpack::decode(&bin_at(MAX_DEPTH), 10).unwrap();
    let json: serde_json::Value = serde_json::from_str(&packet.data.unwrap()).unwrap();
    assert!(json.is_array());
    assert_eq!(
        msgpack::decode(&bin_at(MAX_DEPTH + 1), 10),
        Err(DecodeError::InvalidMsgpack)
    );
    // An extension's `[type, bytes]` counts as a level.
    let mut ext = vec![0x92, 0xa1, b'a'];
    ext.extend(std::iter::repeat_n(0x91, MAX_DEPTH - 1));
    ext.extend_from_slice(b"\xd4\x05\x01");
    assert_eq!(
        msgpack::decode(&event_bytes(&ext), 10),
        Err(DecodeError::InvalidMsgpack)
    );
    // Attachments: at most `max_attachments`.
    let three = event_bytes(b"\x94\xa1a\xc4\x00\xc4\x00\xc4\x00");
    assert_eq!(msgpack::decode(&three, 3).unwrap().1.len(), 3);
    assert_eq!(
        msgpack::decode(&three, 2),
        Err(DecodeError::TooManyAttachments { max: 2 })
    );
}

#[test]
fn attachments_are_slices_of_the_input() {
    let bytes = event_bytes(b"\x92\xa1a\xc4\x03xyz");
    let (_, attachments) = msgpack::decode(&bytes, 10).unwrap();
    assert_eq!(attachments[0].as_ptr(), bytes[bytes.len() - 9..].as_ptr());
}

/// What decodes re-encodes, and the re-encoding is a fixed point.
#[test]
fn round_trips() {
    for line in GOLDEN.lines().filter(|l| !l.is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        let bytes = Bytes::from(unhex(case["msgpack"].as_str().unwrap()));
        let Ok((packet, attachments)) = msgpack::decode(&bytes, 10) else {
            continue;
        };
        for layout in [
            Layout::Server,
            Layout::Broadcast,
            Layout::InvalidNamespace,
            Layout::Client,
        ] {
            let again = msgpack::encode(&packet, &attachments, layout).unwrap();
            let (p2, a2) = msgpack::decode(&again, 10).unwrap();
            assert_eq!((&p2, &a2), (&packet, &attachments), "{}", case["name"]);
            // Bytes of the server that decode to the text they came from
            // come back the same (not `1e400`, which decodes to `null`).
            if case["layout"] == "server"
                && layout == Layout::Server
                && packet.data.as_deref() == case["packet"]["data"].as_str()
            {
                assert_eq!(again, bytes, "{}", case["name"]);
            }
        }
    }
}

/// `node interop/msgpack-golden.mjs --small`, recorded.
const GOLDEN: &str = r##"
{"name":"connect reply","layout":"server","encode":true,"packet":{"type":0,"nsp":"/","id":null,"data":"{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}","attachments":[]},"msgpack":"83a47479706500a46461746182a3736964b46f534f304f70616b4d565f336a6e696c41414141a3706964d40000a36e7370a12f","decoded":{"type":0,"nsp":"/","id":null,"data":"{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}","attachments":[]}}
{"name":"connect reply with pid","layout":"server","encode":true,"packet":{"type":0,"nsp":"/admin","id":null,"data":"{\"sid\":\"oSO0OpakMV_3jnilAAAA\",\"pid\":\"y4hn3BZRqKkSg8ZQAAAB\"}","attachments":[]},"msgpack":"83a47479706500a46461746182a3736964b46f534f304f70616b4d565f336a6e696c41414141a3706964b47934686e33425a52714b6b5367385a5141414142a36e7370a62f61646d696e","decoded":{"type":0,"nsp":"/admin","id":null,"data":"{\"sid\":\"oSO0OpakMV_3jnilAAAA\",\"pid\":\"y4hn3BZRqKkSg8ZQAAAB\"}","attachments":[]}}
{"name":"connect_error from a middleware","layout":"server","encode":true,"packet":{"type":4,"nsp":"/","id":null,"data":"{\"message\":\"not authorized\"}","attachments":[]},"msgpack":"83a47479706504a46461746182a76d657373616765ae6e6f7420617574686f72697a6564a464617461d40000a36e7370a12f","decoded":{"type":4,"nsp":"/","id":null,"data":"{\"message\":\"not authorized\"}","attachments":[]}}
{"name":"connect_error with data","layout":"server","encode":true,"packet":{"type":4,"nsp":"/mw","id":null,"data":"{\"message\":\"not authorized\",\"data\":{\"retry\":false,\"in\":30}}","attachments":[]},"msgpack":"83a47479706504a46461746182a76d657373616765ae6e6f7420617574686f72697a6564a46461746182a57265747279c2a2696e1ea36e7370a32f6d77","decoded":{"type":4,"nsp":"/mw","id":null,"data":"{\"message\":\"not authorized\",\"data\":{\"retry\":false,\"in\":30}}","attachments":[]}}
{"name":"invalid namespace","layout":"invalid_namespace","encode":true,"packet":{"type":4,"nsp":"/unknown","id":null,"data":"{\"message\":\"Invalid namespace\"}","attachments":[]},"msgpack":"83a47479706504a36e7370a82f756e6b6e6f776ea46461746181a76d657373616765b1496e76616c6964206e616d657370616365","decoded":{"type":4,"nsp":"/unknown","id":null,"data":"{\"message\":\"Invalid namespace\"}","attachments":[]}}
{"name":"server disconnect","layout":"server","encode":true,"packet":{"type":1,"nsp":"/","id":null,"data":null,"attachments":[]},"msgpack":"82a47479706501a36e7370a12f","decoded":{"type":1,"nsp":"/","id":null,"data":null,"attachments":[]}}
{"name":"server disconnect, namespace","layout":"server","encode":true,"packet":{"type":1,"nsp":"/custom","id":null,"data":null,"attachments":[]},"msgpack":"82a47479706501a36e7370a72f637573746f6d","decoded":{"type":1,"nsp":"/custom","id":null,"data":null,"attachments":[]}}
{"name":"event","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"chat\",\"hi\"]","attachments":[]},"msgpack":"83a47479706502a46461746192a463686174a26869a36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"chat\",\"hi\"]","attachments":[]}}
{"name":"event with ack id","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":0,"data":"[\"q\",0]","attachments":[]},"msgpack":"84a47479706502a46461746192a17100a2696400a36e7370a12f","decoded":{"type":2,"nsp":"/","id":0,"data":"[\"q\",0]","attachments":[]}}
{"name":"event, namespace, big ack id","layout":"server","encode":true,"packet":{"type":2,"nsp":"/custom","id":70000,"data":"[\"q\",\"c\"]","attachments":[]},"msgpack":"84a47479706502a46461746192a171a163a26964ce00011170a36e7370a72f637573746f6d","decoded":{"type":2,"nsp":"/custom","id":70000,"data":"[\"q\",\"c\"]","attachments":[]}}
{"name":"ack","layout":"server","encode":true,"packet":{"type":3,"nsp":"/","id":99,"data":"[{\"a\":[1,2]},\"s\",null]","attachments":[]},"msgpack":"84a2696463a47479706503a4646174619381a161920102a173c0a36e7370a12f","decoded":{"type":3,"nsp":"/","id":99,"data":"[{\"a\":[1,2]},\"s\",null]","attachments":[]}}
{"name":"ack, empty","layout":"server","encode":true,"packet":{"type":3,"nsp":"/custom","id":7,"data":"[]","attachments":[]},"msgpack":"84a2696407a47479706503a46461746190a36e7370a72f637573746f6d","decoded":{"type":3,"nsp":"/custom","id":7,"data":"[]","attachments":[]}}
{"name":"binary event","layout":"server","encode":true,"packet":{"type":5,"nsp":"/","id":null,"data":"[\"file\",{\"_placeholder\":true,\"num\":0}]","attachments":["010203"]},"msgpack":"83a47479706502a46461746192a466696c65c403010203a36e7370a12f","decoded":{"type":5,"nsp":"/","id":null,"data":"[\"file\",{\"_placeholder\":true,\"num\":0}]","attachments":["010203"]}}
{"name":"binary nested","layout":"server","encode":true,"packet":{"type":5,"nsp":"/bin","id":5,"data":"[\"x\",{\"a\":{\"_placeholder\":true,\"num\":0},\"b\":[{\"_placeholder\":true,\"num\":1},\"z\",{\"c\":{\"_placeholder\":true,\"num\":2}}]},{\"_placeholder\":true,\"num\":3}]","attachments":["0102","03","","ff"]},"msgpack":"84a47479706502a46461746193a17882a161c4020102a16293c40103a17a81a163c400c401ffa2696405a36e7370a42f62696e","decoded":{"type":5,"nsp":"/bin","id":5,"data":"[\"x\",{\"a\":{\"_placeholder\":true,\"num\":0},\"b\":[{\"_placeholder\":true,\"num\":1},\"z\",{\"c\":{\"_placeholder\":true,\"num\":2}}]},{\"_placeholder\":true,\"num\":3}]","attachments":["0102","03","","ff"]}}
{"name":"binary ack","layout":"server","encode":true,"packet":{"type":6,"nsp":"/","id":3,"data":"[{\"_placeholder\":true,\"num\":0}]","attachments":["0908"]},"msgpack":"84a2696403a47479706503a46461746191c4020908a36e7370a12f","decoded":{"type":6,"nsp":"/","id":3,"data":"[{\"_placeholder\":true,\"num\":0}]","attachments":["0908"]}}
{"name":"broadcast","layout":"broadcast","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"news\",{\"n\":1},\"Q80NPmg.4\"]","attachments":[]},"msgpack":"83a47479706502a46461746193a46e65777381a16e01a95138304e506d672e34a36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"news\",{\"n\":1},\"Q80NPmg.4\"]","attachments":[]}}
{"name":"broadcast with ack","layout":"broadcast","encode":true,"packet":{"type":2,"nsp":"/custom","id":12,"data":"[\"poll\"]","attachments":[]},"msgpack":"84a47479706502a46461746191a4706f6c6ca36e7370a72f637573746f6da269640c","decoded":{"type":2,"nsp":"/custom","id":12,"data":"[\"poll\"]","attachments":[]}}
{"name":"unicode","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"é\",\"日本語\",\"😀\",\"  \",\"a\\\"b\\\\c\\n\\t\\u0001\",{\"clé\":\"ü\"}]","attachments":[]},"msgpack":"83a47479706502a46461746196a2c3a9a9e697a5e69cace8aa9ea4f09f9880a6e280a8e280a9a96122625c630a09017f81a4636cc3a9a2c3bca36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"é\",\"日本語\",\"😀\",\"  \",\"a\\\"b\\\\c\\n\\t\\u0001\",{\"clé\":\"ü\"}]","attachments":[]}}
{"name":"empties","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"e\",[],{},\"\",null,true,false,[[]],{\"a\":{}}]","attachments":[]},"msgpack":"83a47479706502a46461746199a1659080a0c0c3c2919081a16180a36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"e\",[],{},\"\",null,true,false,[[]],{\"a\":{}}]","attachments":[]}}
{"name":"integers","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"i\",0,1,127,128,255,256,65535,65536,4294967295,4294967296,9007199254740992,-1,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649,-9007199254740992]","attachments":[]},"msgpack":"83a47479706502a464617461dc0016a16900017fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000cf0020000000000000ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffd3ffe0000000000000a36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"i\",0,1,127,128,255,256,65535,65536,4294967295,4294967296,9007199254740992,-1,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649,-9007199254740992]","attachments":[]}}
{"name":"floats","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"f\",1.5,-0.25,0.1,1e-7,123.456,5e-324,2.2250738585072014e-308,0,0.000025,0.3333333333333333,4.35e-310,-1.0000000000000002,123456789,0.000001]","attachments":[]},"msgpack":"83a47479706502a4646174619fa166cb3ff8000000000000cbbfd0000000000000cb3fb999999999999acb3e7ad7f29abcaf48cb405edd2f1a9fbe77cb0000000000000001cb001000000000000000cb3efa36e2eb1c432dcb3fd5555555555555cb0000501391c4b608cbbff0000000000001ce075bcd15cb3eb0c6f7a0b5ed8da36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"f\",1.5,-0.25,0.1,1e-7,123.456,5e-324,2.2250738585072014e-308,0,0.000025,0.3333333333333333,4.35e-310,-1.0000000000000002,123456789,0.000001]","attachments":[]}}
{"name":"numbers as JSON text","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"n\",1.0,1e3,-0,-0.0,1E2,2.5e+2,1e400,-1e400,0.5e1,100e-2,9007199254740992e0]","attachments":[]},"msgpack":"83a47479706502a4646174619ca16e01cd03e8000064ccfacb7ff0000000000000cbfff00000000000000501cf0020000000000000a36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"n\",1,1000,0,0,100,250,null,null,5,1,9007199254740992]","attachments":[]}}
{"name":"keys as JavaScript orders them","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"k\",{\"b\":1,\"2\":2,\"1\":3,\"b\":4,\"01\":5,\"4294967294\":6,\"4294967295\":7,\"-1\":8,\"a\":{\"z\":1,\"0\":2}}]","attachments":[]},"msgpack":"83a47479706502a46461746192a16b88a13103a13202aa3432393439363732393406a16204a2303105aa3432393439363732393507a22d3108a16182a13002a17a01a36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"k\",{\"1\":3,\"2\":2,\"4294967294\":6,\"b\":4,\"01\":5,\"4294967295\":7,\"-1\":8,\"a\":{\"0\":2,\"z\":1}}]","attachments":[]}}
{"name":"escapes in JSON text","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"\\u0065sc\",{\"\\u0061\":\"\\ud83d\\ude00\\n\\/\\\"\",\"k\\tey\":\"\\u00e9\"}]","attachments":[]},"msgpack":"83a47479706502a46461746192a365736382a161a7f09f98800a2f22a46b096579a2c3a9a36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"esc\",{\"a\":\"😀\\n/\\\"\",\"k\\tey\":\"é\"}]","attachments":[]}}
{"name":"white space in JSON text","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":" [ \"w\" , { \"a\" : [ 1 , 2 ] } ] ","attachments":[]},"msgpack":"83a47479706502a46461746192a17781a161920102a36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"w\",{\"a\":[1,2]}]","attachments":[]}}
{"name":"placeholder in JSON text","layout":"server","encode":true,"packet":{"type":5,"nsp":"/","id":null,"data":"[\"p\",{\"num\":1,\"_placeholder\":true},{\"_placeholder\":true,\"num\":0,\"extra\":[1]}]","attachments":["01","0202"]},"msgpack":"83a47479706502a46461746193a170c4020202c40101a36e7370a12f","decoded":{"type":5,"nsp":"/","id":null,"data":"[\"p\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]","attachments":["0202","01"]}}
{"name":"strings across size classes","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"s\",\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"éééééééééééééééé\"]","attachments":[]},"msgpack":"83a47479706502a46461746196a173bf78787878787878787878787878787878787878787878787878787878787878d9207878787878787878787878787878787878787878787878787878787878787878d9ff787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878da010078787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878d920c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9a36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"s\",\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"éééééééééééééééé\"]","attachments":[]}}
{"name":"arrays across size classes","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"a\",[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]]","attachments":[]},"msgpack":"83a47479706502a46461746193a1619f000000000000000000000000000000dc001001010101010101010101010101010101a36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"a\",[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]]","attachments":[]}}
{"name":"maps across size classes","layout":"server","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"m\",{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14},{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15}]","attachments":[]},"msgpack":"83a47479706502a46461746193a16d8fa26b3000a26b3101a26b3202a26b3303a26b3404a26b3505a26b3606a26b3707a26b3808a26b3909a36b31300aa36b31310ba36b31320ca36b31330da36b31340ede0010a26b3000a26b3101a26b3202a26b3303a26b3404a26b3505a26b3606a26b3707a26b3808a26b3909a36b31300aa36b31310ba36b31320ca36b31330da36b31340ea36b31350fa36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"m\",{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14},{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15}]","attachments":[]}}
{"name":"binary across size classes","layout":"server","encode":true,"packet":{"type":5,"nsp":"/","id":null,"data":"[\"b\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]","attachments":["070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707","08080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808"]},"msgpack":"83a47479706502a46461746193a162c4ff070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707c5010008080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808a36e7370a12f","decoded":{"type":5,"nsp":"/","id":null,"data":"[\"b\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]","attachments":["070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707","08080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808080808"]}}
{"name":"client connect, no auth","layout":"client","encode":true,"packet":{"type":0,"nsp":"/","id":null,"data":null,"attachments":[]},"msgpack":"83a47479706500a464617461d40000a36e7370a12f","decoded":{"type":0,"nsp":"/","id":null,"data":null,"attachments":[]}}
{"name":"client connect with auth","layout":"client","encode":true,"packet":{"type":0,"nsp":"/admin","id":null,"data":"{\"token\":\"abc\"}","attachments":[]},"msgpack":"83a47479706500a46461746181a5746f6b656ea3616263a36e7370a62f61646d696e","decoded":{"type":0,"nsp":"/admin","id":null,"data":"{\"token\":\"abc\"}","attachments":[]}}
{"name":"client connect, recovery","layout":"client","encode":true,"packet":{"type":0,"nsp":"/","id":null,"data":"{\"pid\":\"p\",\"offset\":\"Q80NPmf\"}","attachments":[]},"msgpack":"83a47479706500a46461746182a3706964a170a66f6666736574a75138304e506d66a36e7370a12f","decoded":{"type":0,"nsp":"/","id":null,"data":"{\"pid\":\"p\",\"offset\":\"Q80NPmf\"}","attachments":[]}}
{"name":"client event","layout":"client","encode":true,"packet":{"type":2,"nsp":"/","id":null,"data":"[\"hello\",1]","attachments":[]},"msgpack":"84a47479706502a46461746192a568656c6c6f01a76f7074696f6e7381a8636f6d7072657373c3a36e7370a12f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"hello\",1]","attachments":[]}}
{"name":"client event with ack","layout":"client","encode":true,"packet":{"type":2,"nsp":"/custom","id":4,"data":"[\"hello\",{\"x\":[1]}]","attachments":[]},"msgpack":"85a47479706502a46461746192a568656c6c6f81a1789101a76f7074696f6e7381a8636f6d7072657373c3a2696404a36e7370a72f637573746f6d","decoded":{"type":2,"nsp":"/custom","id":4,"data":"[\"hello\",{\"x\":[1]}]","attachments":[]}}
{"name":"client binary event","layout":"client","encode":true,"packet":{"type":5,"nsp":"/","id":0,"data":"[\"up\",{\"_placeholder\":true,\"num\":0},[{\"_placeholder\":true,\"num\":1}]]","attachments":["0102","03"]},"msgpack":"85a47479706502a46461746193a27570c402010291c40103a76f7074696f6e7381a8636f6d7072657373c3a2696400a36e7370a12f","decoded":{"type":5,"nsp":"/","id":0,"data":"[\"up\",{\"_placeholder\":true,\"num\":0},[{\"_placeholder\":true,\"num\":1}]]","attachments":["0102","03"]}}
{"name":"client ack","layout":"client","encode":true,"packet":{"type":3,"nsp":"/","id":2,"data":"[\"ok\"]","attachments":[]},"msgpack":"84a47479706503a2696402a46461746191a26f6ba36e7370a12f","decoded":{"type":3,"nsp":"/","id":2,"data":"[\"ok\"]","attachments":[]}}
{"name":"client binary ack","layout":"client","encode":true,"packet":{"type":6,"nsp":"/","id":2,"data":"[{\"f\":{\"_placeholder\":true,\"num\":0}}]","attachments":["04"]},"msgpack":"84a47479706503a2696402a4646174619181a166c40104a36e7370a12f","decoded":{"type":6,"nsp":"/","id":2,"data":"[{\"f\":{\"_placeholder\":true,\"num\":0}}]","attachments":["04"]}}
{"name":"client disconnect","layout":"client","encode":true,"packet":{"type":1,"nsp":"/custom","id":null,"data":null,"attachments":[]},"msgpack":"82a47479706501a36e7370a72f637573746f6d","decoded":{"type":1,"nsp":"/custom","id":null,"data":null,"attachments":[]}}
{"name":"undefined inside data","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746193a175d4000082a161d40000a16201","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"u\",null,{\"b\":1}]","attachments":[]}}
{"name":"date","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746195a164d7000000019af98e7f15d700ffffc76e394a7400d7000000e677d21fdc00d700ffffffffffffffff","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"d\",\"2025-12-07T16:04:16.789Z\",\"-000001-01-01T00:00:00.000Z\",\"+010000-01-01T00:00:00.000Z\",\"1969-12-31T23:59:59.999Z\"]","attachments":[]}}
{"name":"typed array as ext 0","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746192a174c702000506","decoded":{"type":5,"nsp":"/","id":null,"data":"[\"t\",{\"_placeholder\":true,\"num\":0}]","attachments":["0506"]}}
{"name":"other ext types","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746196a165d40501d5ff0102d60301020304d80409090909090909090909090909090909c702070809","decoded":{"type":5,"nsp":"/","id":null,"data":"[\"e\",[5,{\"_placeholder\":true,\"num\":0}],[-1,{\"_placeholder\":true,\"num\":1}],[3,{\"_placeholder\":true,\"num\":2}],[4,{\"_placeholder\":true,\"num\":3}],[7,{\"_placeholder\":true,\"num\":4}]]","attachments":["01","0102","01020304","09090909090909090909090909090909","0809"]}}
{"name":"float32, NaN, infinities","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746195a166ca3fc00000cb7ff8000000000000cb7ff0000000000000cbfff0000000000000","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"f\",1.5,null,null,null]","attachments":[]}}
{"name":"id and type as floats","layout":null,"encode":false,"packet":null,"msgpack":"84a474797065cb4008000000000000a36e7370a12fa26964cb4014000000000000a46461746190","decoded":{"type":3,"nsp":"/","id":5,"data":"[]","attachments":[]}}
{"name":"keys that are not strings","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746192a16b860101d08002c003c304cb3ff800000000000005d4000006","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"k\",{\"1\":1,\"-128\":2,\"null\":3,\"true\":4,\"1.5\":5,\"undefined\":6}]","attachments":[]}}
{"name":"invalid utf-8","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746192a175a861ffeda080c3f09f","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"u\",\"a������\"]","attachments":[]}}
{"name":"unknown fields and a second data","layout":null,"encode":false,"packet":null,"msgpack":"85a47479706502a46461746191c40101a17892c40080a36e7370a12fa46461746192a161c40102","decoded":{"type":5,"nsp":"/","id":null,"data":"[\"a\",{\"_placeholder\":true,\"num\":0}]","attachments":["02"]}}
{"name":"binary in connect auth","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706500a36e7370a12fa46461746181a5746f6b656ec40101","decoded":{"type":0,"nsp":"/","id":null,"data":"{\"token\":{\"_placeholder\":true,\"num\":0}}","attachments":["01"]}}
{"name":"placeholder map beside binary","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746193a16182ac5f706c616365686f6c646572c3a36e756d00c40101","decoded":{"type":5,"nsp":"/","id":null,"data":"[\"a\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":0}]","attachments":["01"]}}
{"name":"placeholder map alone","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746192a16182ac5f706c616365686f6c646572c3a36e756d00","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"a\",{\"_placeholder\":true,\"num\":0}]","attachments":[]}}
{"name":"reserved event name","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746191a7636f6e6e656374","decoded":{"type":2,"nsp":"/","id":null,"data":"[\"connect\"]","attachments":[]}}
{"name":"empty event","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746190","decoded":{"type":2,"nsp":"/","id":null,"data":"[]","attachments":[]}}
{"name":"event name null","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746191c0","decoded":{"type":2,"nsp":"/","id":null,"data":"[null]","attachments":[]}}
{"name":"event name number","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746192cb3ff8000000000000a178","decoded":{"type":2,"nsp":"/","id":null,"data":"[1.5,\"x\"]","attachments":[]}}
{"name":"namespace without slash","layout":null,"encode":false,"packet":null,"msgpack":"82a47479706500a36e7370a561646d696e","decoded":{"type":0,"nsp":"admin","id":null,"data":null,"attachments":[]}}
{"name":"id of 2^64","layout":null,"encode":false,"packet":null,"msgpack":"84a47479706502a36e7370a12fa46461746191a161a26964cb43f0000000000000","decoded":{"type":2,"nsp":"/","id":18446744073709552000,"data":"[\"a\"]","attachments":[]}}
{"name":"float id","layout":null,"encode":false,"packet":null,"msgpack":"84a47479706503a36e7370a12fa46461746190a26964cb3ff8000000000000","decoded":{"error":"invalid packet id"}}
{"name":"negative id","layout":null,"encode":false,"packet":null,"msgpack":"84a47479706502a36e7370a12fa26964ffa46461746191a161","decoded":{"type":2,"nsp":"/","id":-1,"data":"[\"a\"]","attachments":[]}}
{"name":"type as string","layout":null,"encode":false,"packet":null,"msgpack":"83a474797065a132a36e7370a12fa46461746191a161","decoded":{"error":"invalid packet type"}}
{"name":"type 5","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706505a36e7370a12fa46461746191a161","decoded":{"error":"invalid packet type"}}
{"name":"nsp not a string","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e737001a46461746191a161","decoded":{"error":"invalid namespace"}}
{"name":"no nsp","layout":null,"encode":false,"packet":null,"msgpack":"82a47479706502a46461746191a161","decoded":{"error":"invalid namespace"}}
{"name":"disconnect with data","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706501a36e7370a12fa46461746180","decoded":{"error":"invalid payload"}}
{"name":"connect with array","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706500a36e7370a12fa4646174619101","decoded":{"error":"invalid payload"}}
{"name":"event with object","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746181a16101","decoded":{"error":"invalid payload"}}
{"name":"connect_error as string","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706504a36e7370a12fa464617461a46e6f7065","decoded":{"type":4,"nsp":"/","id":null,"data":"\"nope\"","attachments":[]}}
{"name":"not a map","layout":null,"encode":false,"packet":null,"msgpack":"9302a12f91a161","decoded":{"error":"invalid packet type"}}
{"name":"trailing bytes","layout":null,"encode":false,"packet":null,"msgpack":"82a47479706501a36e7370a12fc0","decoded":{"error":"1 trailing bytes"}}
{"name":"truncated","layout":null,"encode":false,"packet":null,"msgpack":"83a47479706502a36e7370a12fa46461746191a3","decoded":{"error":"-3 trailing bytes"}}
"##;
