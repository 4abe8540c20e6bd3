//! `ws_reader`: the WebSocket reader of `rally-proto` on the server side with
//! permessage-deflate agreed, fed arbitrary bytes in arbitrary reads.
//!
//! The input: one byte that picks how the rest is cut into reads (0: one
//! read; n: reads of 1 to n bytes, their lengths drawn from a generator
//! seeded by the rest's length), then the bytes a client sent. What must
//! hold, besides never panicking:
//! - the reads' cut changes nothing: the messages, and the error that ends
//!   the connection if any, are those of the whole input in one read;
//! - no message is longer than the limit (64 KiB), compressed or not;
//! - an error is a close status the reader may send: 1002, 1007 or 1009.

use std::ops::ControlFlow;

use rally_proto::ws::{
    CloseCode, Incoming, Reader, Role,
    deflate::compress,
    frame::{OpCode, apply_mask, write_header},
};

/// The largest message the reader takes.
const MAX_MESSAGE: usize = 1 << 16;

/// What a reader made of some bytes: the messages, then the close status of
/// the error that stopped it, if one did.
type Outcome = (Vec<Incoming>, Option<u16>);

/// Feeds `reads` to a fresh reader, one call each, up to the first error.
fn read_all<'a>(reads: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut reader = Reader::new(Role::Server, MAX_MESSAGE, true);
    let mut got = Vec::new();
    for read in reads {
        let mut read = read.to_vec();
        let result = reader.feed(&mut read, |message| {
            got.push(message);
            ControlFlow::Continue(())
        });
        if let Err(e) = result {
            return (got, Some(e.code().0));
        }
    }
    (got, None)
}

/// The lengths of reads of 1 to `max` bytes covering `len` bytes.
fn cuts(len: usize, max: u8) -> Vec<usize> {
    let mut state = u32::try_from(len % 0xffff).unwrap_or(0) | 0x1_0000;
    let mut out = Vec::new();
    let mut left = len;
    while left > 0 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (usize::try_from(state).unwrap_or(1) % usize::from(max) + 1).min(left);
        out.push(n);
        left -= n;
    }
    out
}

pub fn check_ws_reader(data: &[u8]) {
    let Some((&max, wire)) = data.split_first() else {
        return;
    };
    let whole = read_all([wire]);
    for message in &whole.0 {
        if let Incoming::Text(b) | Incoming::Binary(b) = message {
            assert!(b.len() <= MAX_MESSAGE, "a message of {} bytes", b.len());
        }
    }
    if let Some(code) = whole.1 {
        assert!(
            [
                CloseCode::PROTOCOL.0,
                CloseCode::INVALID_DATA.0,
                CloseCode::TOO_BIG.0
            ]
            .contains(&code),
            "close status {code}"
        );
    }
    if max == 0 {
        return;
    }
    let mut reads = Vec::new();
    let mut rest = wire;
    for n in cuts(wire.len(), max) {
        let (read, next) = rest.split_at(n);
        reads.push(read);
        rest = next;
    }
    assert_eq!(read_all(reads), whole, "reads of at most {max} bytes");
}

/// One masked client frame; `fin` false for a fragment that is not the
/// last, `rsv1` for compressed.
fn frame(out: &mut Vec<u8>, opcode: OpCode, fin: bool, rsv1: bool, payload: &[u8]) {
    let key = [0x12, 0x34, 0x56, 0x78];
    let start = out.len();
    write_header(out, opcode, rsv1, payload.len(), Some(key));
    if !fin {
        out[start] &= 0x7f;
    }
    let at = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[at..], key);
}

/// Hand-made inputs for the corpus (`corpus/ws_reader/`): compressed and
/// plain messages, fragments, control frames between them, and the errors
/// (bad deflate data, RSV1 where it does not belong, a bomb, a frame over
/// the limit), each cut in a few ways.
pub fn seeds() -> Vec<Vec<u8>> {
    let chat = r#"42["chat",{"user":"ada","text":"hello, hello, hello, hello"}]"#.repeat(40);
    let deflated = |data: &[u8]| compress(data, 6, 15).expect("compressible");
    let mut wires: Vec<Vec<u8>> = Vec::new();
    let mut w = Vec::new();
    frame(&mut w, OpCode::Text, true, true, &deflated(chat.as_bytes()));
    frame(&mut w, OpCode::Text, true, false, b"42[\"plain\"]");
    frame(&mut w, OpCode::Binary, true, true, &deflated(&[7; 3000]));
    wires.push(w);
    let mut w = Vec::new();
    let c = deflated(chat.as_bytes());
    frame(&mut w, OpCode::Text, false, true, &c[..c.len() / 2]);
    frame(&mut w, OpCode::Ping, true, false, b"p");
    frame(&mut w, OpCode::Continuation, true, false, &c[c.len() / 2..]);
    frame(&mut w, OpCode::Close, true, false, &1000u16.to_be_bytes());
    wires.push(w);
    let mut w = Vec::new();
    frame(&mut w, OpCode::Text, true, true, &[0xff; 16]);
    wires.push(w);
    let mut w = Vec::new();
    frame(&mut w, OpCode::Text, false, true, &c[..8]);
    frame(&mut w, OpCode::Continuation, true, true, &c[8..]);
    wires.push(w);
    let mut w = Vec::new();
    frame(&mut w, OpCode::Ping, true, true, b"");
    wires.push(w);
    let mut w = Vec::new();
    frame(&mut w, OpCode::Binary, true, true, &deflated(&[0; 200_000]));
    wires.push(w);
    // A header announcing one byte over the limit: refused before the payload.
    let mut w = Vec::new();
    write_header(
        &mut w,
        OpCode::Binary,
        false,
        MAX_MESSAGE + 1,
        Some([1, 2, 3, 4]),
    );
    w.extend_from_slice(&[1; 16]);
    wires.push(w);
    let mut out = Vec::new();
    for wire in wires {
        for max in [0, 1, 7, 200] {
            let mut input = vec![max];
            input.extend_from_slice(&wire);
            out.push(input);
        }
    }
    out
}
