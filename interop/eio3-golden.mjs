// Golden outputs of the Engine.IO protocol 3 parser (engine.io-parser 2.x, the
// one socket.io-client 2.5.0 ships), for the tables of
// crates/rally-proto/tests/eio3.rs.
//
//   node interop/eio3-golden.mjs
//   node interop/eio3-golden.mjs --rust   # the tables of eio3.rs
//
// Prints one JSON object per line:
//   {"encode": name, "packets": [[type, data]...],
//    "text": <text payload, supportsBinary false>,
//    "binary": <hex of the binary payload>, "ws": [<each packet as the
//    WebSocket transport sends it to a binary-capable client, hex or text>],
//    "served": <"text" or "binary": the form the server's polling transport
//    writes to a client that takes binary>}
//   {"decode": <text payload>, "packets": [[type, data]...], "error": bool}
//   {"decodeBinary": <hex>, "packets": [...], "error": bool}
// where a packet's binary data is printed as {"hex": ...}.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const parser = require("socket.io-client-v2/node_modules/engine.io-parser");

const bin = (...bytes) => Buffer.from(bytes);
const long = (n) => "x".repeat(n);
const seq = (n) => Buffer.from(Array.from({ length: n }, (_, i) => i % 256));

const encodeCases = {
  message: [{ type: "message", data: "hello" }],
  empty_message: [{ type: "message", data: "" }],
  ping: [{ type: "ping" }],
  ping_probe: [{ type: "ping", data: "probe" }],
  pong_probe: [{ type: "pong", data: "probe" }],
  control: [{ type: "close" }, { type: "upgrade" }, { type: "noop" }],
  unicode: [{ type: "message", data: "héllo wörld" }],
  cjk: [{ type: "message", data: "日本語" }],
  emoji: [{ type: "message", data: "😀" }],
  surrogates: [{ type: "message", data: "a😀b🎉c" }],
  colon_inside: [{ type: "message", data: "2:42[\"a\"]" }],
  open: [
    {
      type: "open",
      data: '{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}',
    },
  ],
  binary: [{ type: "message", data: bin(1, 2, 3) }],
  empty_binary: [{ type: "message", data: bin() }],
  binary_padding: [{ type: "message", data: bin(0, 255, 7, 8) }],
  mixed: [
    { type: "message", data: "hi" },
    { type: "message", data: bin(0, 255) },
    { type: "ping", data: "probe" },
    { type: "message", data: "😀" },
  ],
  socket_io_binary_event: [
    { type: "message", data: '51-["up",{"_placeholder":true,"num":0}]' },
    { type: "message", data: bin(0xde, 0xad, 0xbe, 0xef) },
  ],
  long_text: [{ type: "message", data: long(1234) }],
  long_binary: [{ type: "message", data: seq(300) }],
  none: [],
};

const hex = (b) => Buffer.from(b).toString("hex");
const show = (p) => [p.type, Buffer.isBuffer(p.data) ? { hex: hex(p.data) } : p.data ?? null];
const rows = [];
const print = (o) => rows.push(o);

for (const [name, packets] of Object.entries(encodeCases)) {
  let text, binary;
  parser.encodePayload(packets, false, (out) => (text = out));
  parser.encodePayloadAsBinary(packets, (out) => (binary = out));
  const ws = packets.map((p) => {
    let frame;
    parser.encodePacket(p, true, (out) => (frame = out));
    return typeof frame === "string" ? frame : { hex: hex(frame) };
  });
  // What the server's polling transport sends a binary-capable client.
  let served;
  parser.encodePayload(packets, true, (out) => (served = out));
  print({
    encode: name,
    packets: packets.map(show),
    text,
    binary: hex(binary),
    ws,
    served: typeof served === "string" ? "text" : "binary",
  });
}

const decodeText = [
  "5:4abcd",
  "0:",
  "0:0:",
  "1:2",
  "6:2probe",
  "1:42:4a",
  "2:4😀",
  "3:4😀",
  "4:4😀x",
  "6:b4AQID",
  "2:b4",
  "4:b4!!",
  "5:b4AQ=",
  "4:b9AQ",
  "2:b4x",
  "1:b",
  "",
  "5",
  "5:4abc",
  "5:4abcde",
  ":4",
  "x:4",
  "a1:4",
  "1:7",
  "1:x",
  "1: ",
  "1:4:",
  "-1:4",
  "+1:4",
  " 1:4",
  "1 :4",
  "\t1\n:4",
  "\u00a01:4",
  "\ufeff1:4",
  "\u00851:4",
  "01:4",
  "0x1:4",
  "0X2:4a",
  "0b1:4",
  "0o1:4",
  "-0x1:4",
  "1.0:4",
  "1.5:4a",
  "1.:4",
  ".1e1:4",
  "1e0:4",
  "10e-1:4",
  "1.00000000000000000001:4",
  " :",
  "-0:",
  "Infinity:4",
  "1e400:4",
  "1_0:4",
  "99999999999999999999:4",
  "1:4x",
  "1:41:5",
  "1:41:5junk",
  "2:4a1:x",
  "1:41",
  "7:b4A?Q=x",
  "6:b2cHJv",
];

function decodeTextCase(input) {
  const packets = [];
  let error = false;
  parser.decodePayload(input, (p) => {
    if (p.type === "error" && p.data === "parser error") {
      error = true;
      return;
    }
    packets.push(show(p));
  });
  print({ decode: input, packets, error });
}

for (const input of decodeText) decodeTextCase(input);

const decodeBinary = [
  "0006ff3468656c6c6f",
  "0104ff04010203",
  "0001ff34",
  "0001ff340101ff04",
  "0005ff34f09f9880",
  "0004ff62344151",
  "0102ff0201",
  "0101ff05",
  "0102ff0901",
  "0100ff",
  "0001ff340002ff3461",
  "",
  // Refused by both.
  "0005ff34c3a96cc3",
  "0002ff34c3",
  "0000ff",
  "0001ff39",
  "0001ff20",
  "01ff",
  "0005",
  "00050505",
  "0001ff340001",
  // Lenient in the reference (a record cut short, a byte above 9 read as
  // its decimal value), refused by Rally.
  "0109ff04010203",
  "000aff34343434343434343434",
];

function decodeBinaryCase(input) {
  const packets = [];
  let error = false;
  parser.decodePayload(Buffer.from(input, "hex"), (p) => {
    if (p.type === "error" && p.data === "parser error") {
      error = true;
      return;
    }
    packets.push(show(p));
  });
  print({ decodeBinary: input, packets, error });
}

for (const input of decodeBinary) decodeBinaryCase(input);

// The Rust tables: a packet is T("<type digit><data>") or B(b"<bytes>") (a
// binary message); a binary packet of another type, or of no type, is the
// packet Rally decodes it to (its data dropped, no type being a noop).
const DIGITS = { open: 0, close: 1, ping: 2, pong: 3, message: 4, upgrade: 5, noop: 6 };
const rustStr = (s) =>
  '"' +
  [...s]
    .map((c) => {
      const o = c.codePointAt(0);
      if (c === "\\" || c === '"') return "\\" + c;
      if (c === "\n") return "\\n";
      if (c === "\t") return "\\t";
      if (o < 0x20 || (o >= 0x7f && o <= 0xa0) || /[\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u3000\ufeff]/.test(c))
        return `\\u{${o.toString(16)}}`;
      return c;
    })
    .join("") +
  '"';
const rustBytes = (h) => 'b"' + (h.match(/../g) || []).map((b) => "\\x" + b).join("") + '"';
const rustPacket = ([type, data]) => {
  if (data && typeof data === "object") {
    return type === "message" ? `B(${rustBytes(data.hex)})` : `T("${DIGITS[type] ?? 6}")`;
  }
  return type === null ? 'T("6")' : `T(${rustStr(DIGITS[type] + (data ?? ""))})`;
};
const rustPackets = (ps) => `&[${ps.map(rustPacket).join(", ")}]`;
// Half a surrogate pair has no Rust string; those cases are written by hand.
const loneSurrogate = (ps) => ps.some(([, d]) => typeof d === "string" && /\p{Cs}/u.test(d));
// Cases where Rally is stricter than the reference, also written by hand.
const stricter = ["0109ff04010203", "000aff34343434343434343434"];

if (process.argv.includes("--rust")) {
  const out = ["const ENCODE: &[Encoded] = &["];
  for (const r of rows.filter((r) => "encode" in r && r.encode !== "long_text")) {
    const ws = r.ws.map((w) => (typeof w === "string" ? `W::T(${rustStr(w)})` : `W::B("${w.hex}")`));
    const form = r.served === "text" ? "Text" : "Binary";
    out.push(
      `    (\n        ${rustStr(r.encode)},\n        ${rustPackets(r.packets)},\n        ${rustStr(r.text)},\n` +
        `        "${r.binary}",\n        &[${ws.join(", ")}],\n        PayloadForm::${form},\n    ),`,
    );
  }
  out.push("];", "", "const DECODE_TEXT: &[Decoded<&str>] = &[");
  for (const r of rows.filter((r) => "decode" in r && !loneSurrogate(r.packets))) {
    out.push(`    (${rustStr(r.decode)}, ${rustPackets(r.packets)}, ${r.error}),`);
  }
  out.push("];", "", "const DECODE_BINARY: &[Decoded<&str>] = &[");
  for (const r of rows.filter((r) => "decodeBinary" in r && !stricter.includes(r.decodeBinary))) {
    out.push(`    ("${r.decodeBinary}", ${rustPackets(r.packets)}, ${r.error}),`);
  }
  out.push("];");
  console.log(out.join("\n"));
} else {
  for (const r of rows) console.log(JSON.stringify(r));
}
