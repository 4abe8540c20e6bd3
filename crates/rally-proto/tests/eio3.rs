//! Engine.IO protocol 3 payloads against the reference parser
//! (engine.io-parser 2.x, the one socket.io-client 2.5.0 uses).
//!
//! The tables at the end are the output of `node interop/eio3-golden.mjs
//! --rust` (formatted by rustfmt): what the
//! reference encodes for a list of packets (text form, binary form, WebSocket
//! frames, and which form its server writes to a binary-capable client), and
//! how it decodes a list of payloads, good and bad (the packets it delivers,
//! and whether it then reports a parse error). Where Rally is stricter on
//! purpose, the case is in `stricter_than_the_reference` instead.

use bytes::Bytes;
use rally_proto::engine::v3::{self, PayloadForm};
use rally_proto::engine::{Frame, Message, Packet};
use rally_proto::{DecodeError, Str};

/// A packet of the tables: `T` a text packet, type digit included; `B` a
/// binary message.
enum P {
    T(&'static str),
    B(&'static [u8]),
}

use P::{B, T};

impl P {
    fn frame(&self) -> Frame {
        match self {
            T(s) => Frame::Text(Str::from(*s)),
            B(b) => Frame::Binary(Bytes::from_static(b)),
        }
    }

    fn packet(&self) -> Packet {
        match self {
            T(s) => Packet::decode_text(Str::from(*s)).unwrap(),
            B(b) => Packet::Message(Message::Binary(Bytes::from_static(b))),
        }
    }
}

/// A WebSocket frame as the reference sends it to a binary-capable client:
/// text, or binary (in hex).
enum W {
    T(&'static str),
    B(&'static str),
}

/// Name, packets, text payload, binary payload (hex), WebSocket frames, the
/// form the server writes to a client that takes binary.
type Encoded = (
    &'static str,
    &'static [P],
    &'static str,
    &'static str,
    &'static [W],
    PayloadForm,
);

/// Payload, the packets the reference delivers, whether it then reports a
/// parse error.
type Decoded<I> = (I, &'static [P], bool);

/// No limit beyond the body itself.
const MAX: usize = usize::MAX;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn frames(packets: &[P]) -> Vec<Frame> {
    packets.iter().map(P::frame).collect()
}

/// Decodes `body`: the packets before the first error, and that error.
fn decode(form: PayloadForm, body: Vec<u8>) -> (Vec<Packet>, Option<DecodeError>) {
    let decoder = match v3::decode_payload(form, Bytes::from(body), MAX) {
        Ok(decoder) => decoder,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut packets = Vec::new();
    for item in decoder {
        match item {
            Ok(packet) => packets.push(packet),
            Err(e) => return (packets, Some(e)),
        }
    }
    (packets, None)
}

#[test]
fn encodes_as_the_reference() {
    for (name, packets, text, binary, ws, served) in ENCODE {
        let frames = frames(packets);
        let encoded = PayloadForm::Text.encode(&frames);
        assert_eq!(
            std::str::from_utf8(&encoded),
            Ok(*text),
            "{name}: text form"
        );
        assert_eq!(
            PayloadForm::Binary.encode(&frames),
            hex(binary),
            "{name}: binary form"
        );
        assert_eq!(PayloadForm::choose(&frames, true), *served, "{name}: form");
        assert_eq!(
            PayloadForm::choose(&frames, false),
            PayloadForm::Text,
            "{name}: b64"
        );
        for (frame, ws) in frames.iter().zip(*ws) {
            match (frame, ws) {
                (Frame::Text(s), W::T(expected)) => assert_eq!(s, expected, "{name}"),
                (Frame::Binary(b), W::B(expected)) => {
                    assert_eq!(v3::encode_binary_frame(b), hex(expected), "{name}: ws");
                    assert_eq!(
                        v3::decode_binary_frame(Bytes::from(hex(expected))),
                        Packet::Message(Message::Binary(b.clone()))
                    );
                }
                _ => panic!("{name}: frame kinds differ"),
            }
        }
    }
}

#[test]
fn decodes_what_the_reference_encodes() {
    for (name, packets, text, binary, _, _) in ENCODE {
        let expected: Vec<Packet> = packets.iter().map(P::packet).collect();
        let decoded = decode(PayloadForm::Text, text.as_bytes().to_vec());
        assert_eq!(decoded, (expected.clone(), None), "{name}: text form");
        if !binary.is_empty() {
            let decoded = decode(PayloadForm::Binary, hex(binary));
            assert_eq!(decoded, (expected, None), "{name}: binary form");
        }
    }
}

#[test]
fn decodes_text_payloads_as_the_reference() {
    for (body, packets, error) in DECODE_TEXT {
        let expected: Vec<Packet> = packets.iter().map(P::packet).collect();
        let (decoded, failed) = decode(PayloadForm::Text, body.as_bytes().to_vec());
        assert_eq!(decoded, expected, "{body:?}");
        assert_eq!(failed.is_some(), *error, "{body:?}: {failed:?}");
    }
}

#[test]
fn decodes_binary_payloads_as_the_reference() {
    for (body, packets, error) in DECODE_BINARY {
        let expected: Vec<Packet> = packets.iter().map(P::packet).collect();
        let (decoded, failed) = decode(PayloadForm::Binary, hex(body));
        assert_eq!(decoded, expected, "{body}");
        assert_eq!(failed.is_some(), *error, "{body}: {failed:?}");
    }
}

/// `long_text` of the script: a length of four digits in both forms.
#[test]
fn long_records() {
    let data = "x".repeat(1234);
    let frame = [Frame::message_text(&data)];
    let text = PayloadForm::Text.encode(&frame);
    assert_eq!(text, format!("1235:4{data}").as_bytes());
    let binary = PayloadForm::Binary.encode(&frame);
    assert_eq!(binary[..7], hex("0001020305ff34"));
    assert_eq!(binary[7..], *data.as_bytes());
    let expected = (vec![Packet::Message(Message::Text(data.into()))], None);
    assert_eq!(decode(PayloadForm::Text, text.to_vec()), expected);
    assert_eq!(decode(PayloadForm::Binary, binary.to_vec()), expected);
}

/// Inputs where Rally fails and the reference does not, or fails later.
#[test]
fn stricter_than_the_reference() {
    // The length ends inside a surrogate pair: the reference delivers a
    // message ending in half a character, then fails on the other half.
    assert_eq!(
        decode(PayloadForm::Text, "2:4😀".into()),
        (vec![], Some(DecodeError::InvalidLength))
    );
    // A binary record past the end: the reference cuts it short.
    assert_eq!(
        decode(PayloadForm::Binary, hex("0109ff04010203")),
        (vec![], Some(DecodeError::InvalidLength))
    );
    // A length byte above 9: the reference reads byte 10 as "10" and cuts
    // the record in the wrong place.
    assert_eq!(
        decode(PayloadForm::Binary, hex("000aff34343434343434343434")),
        (vec![], Some(DecodeError::InvalidLength))
    );
    // A text body that is not UTF-8: the reference reads replacement
    // characters.
    assert_eq!(
        decode(PayloadForm::Text, b"2:4\xff".to_vec()),
        (vec![], Some(DecodeError::InvalidUtf8))
    );
}

#[test]
fn bad_input() {
    let text = |body: &str| decode(PayloadForm::Text, body.into());
    let binary = |body: &str| decode(PayloadForm::Binary, hex(body));
    let fails = |e| (vec![], Some(e));
    // Wrong length prefixes.
    assert_eq!(text("5:4abc"), fails(DecodeError::InvalidLength));
    assert_eq!(
        text("4:4abcd"),
        (
            vec![Packet::Message("abc".into())],
            Some(DecodeError::InvalidLength)
        )
    );
    assert_eq!(text("x:4"), fails(DecodeError::InvalidLength));
    assert_eq!(text(":4"), fails(DecodeError::InvalidLength));
    assert_eq!(text("4abc"), fails(DecodeError::InvalidLength));
    assert_eq!(text(""), fails(DecodeError::Empty));
    // Absurd lengths fail before anything is read.
    assert_eq!(
        text("99999999999999999999999999:4"),
        fails(DecodeError::InvalidLength)
    );
    assert_eq!(text("1e308:4"), fails(DecodeError::InvalidLength));
    assert_eq!(
        binary(&format!("00{}ff34", "09".repeat(40))),
        fails(DecodeError::InvalidLength)
    );
    assert_eq!(binary("0009090909ff34"), fails(DecodeError::InvalidLength));
    // A limit below the record.
    assert_eq!(
        v3::decode_payload(PayloadForm::Text, Bytes::from_static(b"6:4hello"), 5)
            .unwrap()
            .next(),
        Some(Err(DecodeError::RecordTooLong { max: 5 }))
    );
    assert_eq!(
        v3::decode_payload(
            PayloadForm::Binary,
            Bytes::from(hex("0006ff3468656c6c6f")),
            5
        )
        .err(),
        Some(DecodeError::RecordTooLong { max: 5 })
    );
    // Bad packet types: a text packet fails, a base64 or binary one is a
    // packet of no type (a noop) in both.
    assert_eq!(text("1:9"), fails(DecodeError::UnknownPacketType));
    assert_eq!(binary("0001ff39"), fails(DecodeError::UnknownPacketType));
    assert_eq!(text("4:b9AQ"), (vec![Packet::Noop], None));
    assert_eq!(binary("0102ff0901"), (vec![Packet::Noop], None));
    // Bad base64 is read as Node.js reads it: what is not base64 is skipped.
    assert_eq!(
        text("7:b4A?Q=x"),
        (
            vec![Packet::Message(Message::Binary(Bytes::from_static(&[1])))],
            None
        )
    );
    // No 0xFF after the length of a binary record.
    assert_eq!(binary("0001"), fails(DecodeError::InvalidLength));
    assert_eq!(binary("000134"), fails(DecodeError::InvalidLength));
    assert_eq!(binary("0001ff3400"), fails(DecodeError::InvalidLength));
}

const ENCODE: &[Encoded] = &[
    (
        "message",
        &[T("4hello")],
        "6:4hello",
        "0006ff3468656c6c6f",
        &[W::T("4hello")],
        PayloadForm::Text,
    ),
    (
        "empty_message",
        &[T("4")],
        "1:4",
        "0001ff34",
        &[W::T("4")],
        PayloadForm::Text,
    ),
    (
        "ping",
        &[T("2")],
        "1:2",
        "0001ff32",
        &[W::T("2")],
        PayloadForm::Text,
    ),
    (
        "ping_probe",
        &[T("2probe")],
        "6:2probe",
        "0006ff3270726f6265",
        &[W::T("2probe")],
        PayloadForm::Text,
    ),
    (
        "pong_probe",
        &[T("3probe")],
        "6:3probe",
        "0006ff3370726f6265",
        &[W::T("3probe")],
        PayloadForm::Text,
    ),
    (
        "control",
        &[T("1"), T("5"), T("6")],
        "1:11:51:6",
        "0001ff310001ff350001ff36",
        &[W::T("1"), W::T("5"), W::T("6")],
        PayloadForm::Text,
    ),
    (
        "unicode",
        &[T("4héllo wörld")],
        "12:4héllo wörld",
        "000104ff3468c3a96c6c6f2077c3b6726c64",
        &[W::T("4héllo wörld")],
        PayloadForm::Text,
    ),
    (
        "cjk",
        &[T("4日本語")],
        "4:4日本語",
        "000100ff34e697a5e69cace8aa9e",
        &[W::T("4日本語")],
        PayloadForm::Text,
    ),
    (
        "emoji",
        &[T("4😀")],
        "3:4😀",
        "0005ff34f09f9880",
        &[W::T("4😀")],
        PayloadForm::Text,
    ),
    (
        "surrogates",
        &[T("4a😀b🎉c")],
        "8:4a😀b🎉c",
        "000102ff3461f09f988062f09f8e8963",
        &[W::T("4a😀b🎉c")],
        PayloadForm::Text,
    ),
    (
        "colon_inside",
        &[T("42:42[\"a\"]")],
        "10:42:42[\"a\"]",
        "000100ff34323a34325b2261225d",
        &[W::T("42:42[\"a\"]")],
        PayloadForm::Text,
    ),
    (
        "open",
        &[T("0{\"sid\":\"abc\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}")],
        "101:0{\"sid\":\"abc\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}",
        "00010001ff307b22736964223a22616263222c227570677261646573223a5b22776562736f636b6574225d2c2270696e67496e74657276616c223a32353030302c2270696e6754696d656f7574223a32303030302c226d61785061796c6f6164223a313030303030307d",
        &[W::T("0{\"sid\":\"abc\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}")],
        PayloadForm::Text,
    ),
    (
        "binary",
        &[B(b"\x01\x02\x03")],
        "6:b4AQID",
        "0104ff04010203",
        &[W::B("04010203")],
        PayloadForm::Binary,
    ),
    (
        "empty_binary",
        &[B(b"")],
        "2:b4",
        "0101ff04",
        &[W::B("04")],
        PayloadForm::Binary,
    ),
    (
        "binary_padding",
        &[B(b"\x00\xff\x07\x08")],
        "10:b4AP8HCA==",
        "0105ff0400ff0708",
        &[W::B("0400ff0708")],
        PayloadForm::Binary,
    ),
    (
        "mixed",
        &[T("4hi"), B(b"\x00\xff"), T("2probe"), T("4😀")],
        "3:4hi6:b4AP8=6:2probe3:4😀",
        "0003ff3468690103ff0400ff0006ff3270726f62650005ff34f09f9880",
        &[W::T("4hi"), W::B("0400ff"), W::T("2probe"), W::T("4😀")],
        PayloadForm::Binary,
    ),
    (
        "socket_io_binary_event",
        &[T("451-[\"up\",{\"_placeholder\":true,\"num\":0}]"), B(b"\xde\xad\xbe\xef")],
        "40:451-[\"up\",{\"_placeholder\":true,\"num\":0}]10:b43q2+7w==",
        "000400ff3435312d5b227570222c7b225f706c616365686f6c646572223a747275652c226e756d223a307d5d0105ff04deadbeef",
        &[W::T("451-[\"up\",{\"_placeholder\":true,\"num\":0}]"), W::B("04deadbeef")],
        PayloadForm::Binary,
    ),
    (
        "long_binary",
        &[B(b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\x3e\x3f\x40\x41\x42\x43\x44\x45\x46\x47\x48\x49\x4a\x4b\x4c\x4d\x4e\x4f\x50\x51\x52\x53\x54\x55\x56\x57\x58\x59\x5a\x5b\x5c\x5d\x5e\x5f\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x7b\x7c\x7d\x7e\x7f\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b")],
        "402:b4AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJicoKSor",
        "01030001ff04000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b",
        &[W::B("04000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b")],
        PayloadForm::Binary,
    ),
    (
        "none",
        &[],
        "0:",
        "",
        &[],
        PayloadForm::Text,
    ),
];

const DECODE_TEXT: &[Decoded<&str>] = &[
    ("5:4abcd", &[T("4abcd")], false),
    ("0:", &[], false),
    ("0:0:", &[], false),
    ("1:2", &[T("2")], false),
    ("6:2probe", &[T("2probe")], false),
    ("1:42:4a", &[T("4"), T("4a")], false),
    ("3:4😀", &[T("4😀")], false),
    ("4:4😀x", &[T("4😀x")], false),
    ("6:b4AQID", &[B(b"\x01\x02\x03")], false),
    ("2:b4", &[B(b"")], false),
    ("4:b4!!", &[B(b"")], false),
    ("5:b4AQ=", &[B(b"\x01")], false),
    ("4:b9AQ", &[T("6")], false),
    ("2:b4x", &[B(b"")], true),
    ("1:b", &[T("6")], false),
    ("", &[], true),
    ("5", &[], true),
    ("5:4abc", &[], true),
    ("5:4abcde", &[T("4abcd")], true),
    (":4", &[], true),
    ("x:4", &[], true),
    ("a1:4", &[], true),
    ("1:7", &[], true),
    ("1:x", &[], true),
    ("1: ", &[], true),
    ("1:4:", &[T("4")], true),
    ("-1:4", &[], true),
    ("+1:4", &[T("4")], false),
    (" 1:4", &[T("4")], false),
    ("1 :4", &[T("4")], false),
    ("\t1\n:4", &[T("4")], false),
    ("\u{a0}1:4", &[T("4")], false),
    ("\u{feff}1:4", &[T("4")], false),
    ("\u{85}1:4", &[], true),
    ("01:4", &[T("4")], false),
    ("0x1:4", &[T("4")], false),
    ("0X2:4a", &[T("4a")], false),
    ("0b1:4", &[T("4")], false),
    ("0o1:4", &[T("4")], false),
    ("-0x1:4", &[], true),
    ("1.0:4", &[T("4")], false),
    ("1.5:4a", &[], true),
    ("1.:4", &[T("4")], false),
    (".1e1:4", &[T("4")], false),
    ("1e0:4", &[T("4")], false),
    ("10e-1:4", &[T("4")], false),
    ("1.00000000000000000001:4", &[T("4")], false),
    (" :", &[], false),
    ("-0:", &[], false),
    ("Infinity:4", &[], true),
    ("1e400:4", &[], true),
    ("1_0:4", &[], true),
    ("99999999999999999999:4", &[], true),
    ("1:4x", &[T("4")], true),
    ("1:41:5", &[T("4"), T("5")], false),
    ("1:41:5junk", &[T("4"), T("5")], true),
    ("2:4a1:x", &[T("4a")], true),
    ("1:41", &[T("4")], true),
    ("7:b4A?Q=x", &[B(b"\x01")], false),
    ("6:b2cHJv", &[T("2")], false),
];

const DECODE_BINARY: &[Decoded<&str>] = &[
    ("0006ff3468656c6c6f", &[T("4hello")], false),
    ("0104ff04010203", &[B(b"\x01\x02\x03")], false),
    ("0001ff34", &[T("4")], false),
    ("0001ff340101ff04", &[T("4"), B(b"")], false),
    ("0005ff34f09f9880", &[T("4😀")], false),
    ("0004ff62344151", &[B(b"\x01")], false),
    ("0102ff0201", &[T("2")], false),
    ("0101ff05", &[T("5")], false),
    ("0102ff0901", &[T("6")], false),
    ("0100ff", &[T("6")], false),
    ("0001ff340002ff3461", &[T("4"), T("4a")], false),
    ("", &[], false),
    ("0005ff34c3a96cc3", &[], true),
    ("0002ff34c3", &[], true),
    ("0000ff", &[], true),
    ("0001ff39", &[], true),
    ("0001ff20", &[], true),
    ("01ff", &[], true),
    ("0005", &[], true),
    ("00050505", &[], true),
    ("0001ff340001", &[], true),
];
