// Golden bytes of socket.io-msgpack-parser 3.0.2 (notepack.io 2.2.0), for
// rally-proto's MessagePack packet codec (crates/rally-proto/tests/msgpack_parser.rs).
//
// Prints one JSON object per line:
//   name, layout      the case, and whose field order it follows: "server" (a
//                     socket's own packets in socket.io 4.8.4), "broadcast" (the
//                     adapter's), "invalid_namespace" (the refusal of an unknown
//                     namespace), "client" (socket.io-client 4.8.4)
//   encode            whether Rally should produce these bytes from `packet`
//   packet            {type, nsp, id, data, attachments}: the packet as the default
//                     parser's path holds it (data as JSON text with placeholders,
//                     type 5/6 with attachments); null for decode-only cases
//   msgpack           the bytes, in hex
//   decoded           what the parser's Decoder makes of `msgpack`, in the same
//                     shape as `packet` (binary values deconstructed into
//                     placeholders, data through JSON.stringify), or
//                     {"error": message} when it refuses them
//
// Usage: node msgpack-golden.mjs [--small]   (--small: leave out the cases
// whose hex runs to many kilobytes; the recorded table is the --small output)
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const parser = require("socket.io-msgpack-parser");
// The notepack.io the parser itself uses (2.2.0, not the top-level 3.x).
const notepack = createRequire(require.resolve("socket.io-msgpack-parser"))("notepack.io");
const { deconstructPacket, reconstructPacket } = require(join(dirname(require.resolve("socket.io-parser")), "binary.js"));

const small = process.argv.includes("--small");
const hex = (b) => Buffer.from(b).toString("hex");
const buf = (...bytes) => Buffer.from(bytes);

// The packet as the JSON path holds it: placeholders, attachments, type 5/6.
function deconstructed(p) {
  if (!p || typeof p !== "object" || typeof p.type !== "number") return null;
  const copy = { type: p.type, nsp: p.nsp, id: p.id, data: p.data };
  const { packet, buffers } = deconstructPacket(copy);
  let type = packet.type;
  if (buffers.length > 0 && type === 2) type = 5;
  if (buffers.length > 0 && type === 3) type = 6;
  return {
    type,
    nsp: packet.nsp,
    id: packet.id === undefined ? null : packet.id,
    data: packet.data === undefined ? null : JSON.stringify(packet.data),
    attachments: buffers.map((b) => hex(b instanceof ArrayBuffer ? new Uint8Array(b) : b)),
  };
}

function decode(bytes) {
  const decoder = new parser.Decoder();
  let out = null;
  decoder.on("decoded", (p) => (out = p));
  try {
    decoder.add(bytes);
  } catch (e) {
    return { error: e.message };
  }
  return deconstructed(out);
}

const cases = [];
// A packet object in the reference's field order; `json`, when given, is the
// data as JSON text (placeholders and all) that Rally holds, read the way the
// JSON path would (JSON.parse, then the attachments put back).
function add(name, layout, make, opts = {}) {
  if (opts.big && small) return;
  let packet = make();
  let input = deconstructed(packet);
  if (opts.json !== undefined) {
    const attachments = opts.attachments || [];
    const parsed = reconstructPacket(
      { type: packet.type, nsp: packet.nsp, data: JSON.parse(opts.json), attachments: attachments.length },
      attachments,
    );
    packet.data = parsed.data;
    input = {
      type: attachments.length && packet.type === 2 ? 5 : attachments.length && packet.type === 3 ? 6 : packet.type,
      nsp: packet.nsp,
      id: packet.id === undefined ? null : packet.id,
      data: opts.json,
      attachments: attachments.map(hex),
    };
  }
  const bytes = parser.Encoder.prototype.encode(packet)[0];
  cases.push({ name, layout, encode: true, packet: input, msgpack: hex(bytes), decoded: decode(bytes) });
}
// Bytes a client could send that no Rally packet encodes to.
function decodeOnly(name, bytes) {
  cases.push({ name, layout: null, encode: false, packet: null, msgpack: hex(bytes), decoded: decode(bytes) });
}

// The server's packets (socket.io 4.8.4 builds them in this order).
const server = (type, data, nsp = "/", id) => {
  const p = { type, data };
  if (id !== undefined) p.id = id;
  p.nsp = nsp;
  return p;
};
const ack = (data, id, nsp = "/") => ({ id, type: 3, data, nsp });

// `pid` is undefined without connection state recovery.
add("connect reply", "server", () => server(0, { sid: "oSO0OpakMV_3jnilAAAA", pid: undefined }));
add("connect reply with pid", "server", () => server(0, { sid: "oSO0OpakMV_3jnilAAAA", pid: "y4hn3BZRqKkSg8ZQAAAB" }, "/admin"));
add("connect_error from a middleware", "server", () => server(4, { message: "not authorized", data: undefined }));
add("connect_error with data", "server", () => server(4, { message: "not authorized", data: { retry: false, in: 30 } }, "/mw"));
add("invalid namespace", "invalid_namespace", () => ({ type: 4, nsp: "/unknown", data: { message: "Invalid namespace" } }));
add("server disconnect", "server", () => ({ type: 1, nsp: "/" }));
add("server disconnect, namespace", "server", () => ({ type: 1, nsp: "/custom" }));
add("event", "server", () => server(2, ["chat", "hi"]));
add("event with ack id", "server", () => server(2, ["q", 0], "/", 0));
add("event, namespace, big ack id", "server", () => server(2, ["q", "c"], "/custom", 70000));
add("ack", "server", () => ack([{ a: [1, 2] }, "s", null], 99));
add("ack, empty", "server", () => ack([], 7, "/custom"));
add("binary event", "server", () => server(2, ["file", buf(1, 2, 3)]));
add("binary nested", "server", () =>
  server(2, ["x", { a: buf(1, 2), b: [buf(3), "z", { c: buf() }] }, buf(255)], "/bin", 5));
add("binary ack", "server", () => ack([buf(9, 8)], 3));
add("broadcast", "broadcast", () => ({ type: 2, data: ["news", { n: 1 }, "Q80NPmg.4"], nsp: "/" }));
add("broadcast with ack", "broadcast", () => ({ type: 2, data: ["poll"], nsp: "/custom", id: 12 }));
add("unicode", "server", () => server(2, ["é", "日本語", "😀", "\u2028\u2029", "a\"b\\c\n\t\u0001\u007f", { "clé": "ü" }]));
add("empties", "server", () => server(2, ["e", [], {}, "", null, true, false, [[]], { a: {} }]));
// Integers up to 2^53 in magnitude: beyond, JSON.stringify rounds their digits
// (2 ** 60 is "1152921504606847000"), and Rally writes such a literal exactly
// (see the module's documentation).
add("integers", "server", () =>
  server(2, ["i", 0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2 ** 53, -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -(2 ** 53)]));
// No integer-valued float of 2^64 or more: notepack writes it as a uint 64
// modulo 2^64 (1e21 arrives as 3875820019684212700), Rally as a float 64.
add("floats", "server", () =>
  server(2, ["f", 1.5, -0.25, 0.1, 1e-7, 123.456, 5e-324, 2.2250738585072014e-308, -0, 2.5e-5, 1 / 3, 4.35e-310, -1.0000000000000002, 123456.789e3, 0.000001]));
add("numbers as JSON text", "server", () => server(2, []), {
  json: '["n",1.0,1e3,-0,-0.0,1E2,2.5e+2,1e400,-1e400,0.5e1,100e-2,9007199254740992e0]',
});
add("keys as JavaScript orders them", "server", () => server(2, []), {
  json: '["k",{"b":1,"2":2,"1":3,"b":4,"01":5,"4294967294":6,"4294967295":7,"-1":8,"a":{"z":1,"0":2}}]',
});
add("escapes in JSON text", "server", () => server(2, []), {
  json: '["\\u0065sc",{"\\u0061":"\\ud83d\\ude00\\n\\/\\"","k\\tey":"\\u00e9"}]',
});
add("white space in JSON text", "server", () => server(2, []), { json: ' [ "w" , { "a" : [ 1 , 2 ] } ] ' });
add("placeholder in JSON text", "server", () => server(2, []), {
  json: '["p",{"num":1,"_placeholder":true},{"_placeholder":true,"num":0,"extra":[1]}]',
  attachments: [buf(1), buf(2, 2)],
});
add("strings across size classes", "server", () =>
  server(2, ["s", "x".repeat(31), "x".repeat(32), "x".repeat(255), "x".repeat(256), "é".repeat(16)]));
add("arrays across size classes", "server", () =>
  server(2, ["a", Array(15).fill(0), Array(16).fill(1)]));
add("maps across size classes", "server", () => {
  const m = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
  return server(2, ["m", m(15), m(16)]);
});
add("binary across size classes", "server", () =>
  server(2, ["b", Buffer.alloc(255, 7), Buffer.alloc(256, 8)]));
add("strings, 16 and 32 bit", "server", () => server(2, ["s", "y".repeat(65535), "y".repeat(65536)]), { big: true });
add("arrays, 16 and 32 bit", "server", () => server(2, ["a", Array(65535).fill(0), Array(65536).fill(1)]), { big: true });
add("maps, 16 and 32 bit", "server", () => {
  const m = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 0]));
  return server(2, ["m", m(65535), m(65536)]);
}, { big: true });
add("binary, 16 and 32 bit", "server", () => server(2, ["b", Buffer.alloc(65535, 1), Buffer.alloc(65536, 2)]), { big: true });

// The client's packets (socket.io-client 4.8.4 builds them in this order).
const clientEvent = (data, id, nsp = "/") => {
  const p = { type: 2, data };
  p.options = { compress: true };
  if (id !== undefined) p.id = id;
  p.nsp = nsp;
  return p;
};
add("client connect, no auth", "client", () => ({ type: 0, data: undefined, nsp: "/" }));
add("client connect with auth", "client", () => ({ type: 0, data: { token: "abc" }, nsp: "/admin" }));
add("client connect, recovery", "client", () => ({ type: 0, data: { pid: "p", offset: "Q80NPmf" }, nsp: "/" }));
add("client event", "client", () => clientEvent(["hello", 1]));
add("client event with ack", "client", () => clientEvent(["hello", { x: [1] }], 4, "/custom"));
add("client binary event", "client", () => clientEvent(["up", buf(1, 2), [buf(3)]], 0));
add("client ack", "client", () => ({ type: 3, id: 2, data: ["ok"], nsp: "/" }));
add("client binary ack", "client", () => ({ type: 3, id: 2, data: [{ f: buf(4) }], nsp: "/" }));
add("client disconnect", "client", () => ({ type: 1, nsp: "/custom" }));

// What clients may send that Rally never writes.
const enc = (v) => notepack.encode(v);
decodeOnly("undefined inside data", enc({ type: 2, nsp: "/", data: ["u", undefined, { a: undefined, b: 1 }] }));
decodeOnly("date", enc({ type: 2, nsp: "/", data: ["d", new Date(1765123456789), new Date(-62198755200000), new Date(253402300800000), new Date(-1)] }));
decodeOnly("typed array as ext 0", enc({ type: 2, nsp: "/", data: ["t", new Uint8Array([5, 6]).buffer] }));
decodeOnly("other ext types", buf(0x83, 0xa4, ...Buffer.from("type"), 2, 0xa3, ...Buffer.from("nsp"), 0xa1, 0x2f, 0xa4, ...Buffer.from("data"),
  0x96, 0xa1, 0x65, 0xd4, 0x05, 0x01, 0xd5, 0xff, 1, 2, 0xd6, 3, 1, 2, 3, 4, 0xd8, 4, ...Array(16).fill(9), 0xc7, 2, 7, 8, 9));
decodeOnly("float32, NaN, infinities", buf(0x83, 0xa4, ...Buffer.from("type"), 2, 0xa3, ...Buffer.from("nsp"), 0xa1, 0x2f, 0xa4, ...Buffer.from("data"),
  0x95, 0xa1, 0x66, 0xca, 0x3f, 0xc0, 0, 0, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0, 0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0, 0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0));
const [type3f, id5f] = [buf(0xcb, 0x40, 0x08, 0, 0, 0, 0, 0, 0), buf(0xcb, 0x40, 0x14, 0, 0, 0, 0, 0, 0)];
decodeOnly("id and type as floats", buf(0x84, 0xa4, ...Buffer.from("type"), ...type3f, 0xa3, ...Buffer.from("nsp"), 0xa1, 0x2f, 0xa2, 0x69, 0x64, ...id5f, 0xa4, ...Buffer.from("data"), 0x90));
decodeOnly("keys that are not strings", buf(0x83, 0xa4, ...Buffer.from("type"), 2, 0xa3, ...Buffer.from("nsp"), 0xa1, 0x2f, 0xa4, ...Buffer.from("data"),
  0x92, 0xa1, 0x6b, 0x86, 1, 1, 0xd0, 0x80, 2, 0xc0, 3, 0xc3, 4, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 5, 0xd4, 0, 0, 6));
decodeOnly("invalid utf-8", buf(0x83, 0xa4, ...Buffer.from("type"), 2, 0xa3, ...Buffer.from("nsp"), 0xa1, 0x2f, 0xa4, ...Buffer.from("data"),
  0x92, 0xa1, 0x75, 0xa8, 0x61, 0xff, 0xed, 0xa0, 0x80, 0xc3, 0xf0, 0x9f));
decodeOnly("unknown fields and a second data", buf(0x85, 0xa4, ...Buffer.from("type"), 2, 0xa4, ...Buffer.from("data"), 0x91, 0xc4, 1, 1,
  0xa1, 0x78, 0x92, 0xc4, 0, 0x80, 0xa3, ...Buffer.from("nsp"), 0xa1, 0x2f, 0xa4, ...Buffer.from("data"), 0x92, 0xa1, 0x61, 0xc4, 1, 2));
decodeOnly("binary in connect auth", enc({ type: 0, nsp: "/", data: { token: buf(1) } }));
decodeOnly("placeholder map beside binary", enc({ type: 2, nsp: "/", data: ["a", { _placeholder: true, num: 0 }, buf(1)] }));
decodeOnly("placeholder map alone", enc({ type: 2, nsp: "/", data: ["a", { _placeholder: true, num: 0 }] }));
decodeOnly("reserved event name", enc({ type: 2, nsp: "/", data: ["connect"] }));
decodeOnly("empty event", enc({ type: 2, nsp: "/", data: [] }));
decodeOnly("event name null", enc({ type: 2, nsp: "/", data: [null] }));
decodeOnly("event name number", enc({ type: 2, nsp: "/", data: [1.5, "x"] }));
decodeOnly("namespace without slash", enc({ type: 0, nsp: "admin" }));
decodeOnly("id of 2^64", buf(...enc({ type: 2, nsp: "/", data: ["a"] }).subarray(0, 1).map((b) => b + 1), ...enc({ type: 2, nsp: "/", data: ["a"] }).subarray(1), 0xa2, 0x69, 0x64, 0xcb, 0x43, 0xf0, 0, 0, 0, 0, 0, 0));
decodeOnly("float id", buf(...enc({ type: 3, nsp: "/", data: [] }).subarray(0, 1).map((b) => b + 1), ...enc({ type: 3, nsp: "/", data: [] }).subarray(1), 0xa2, 0x69, 0x64, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0));
decodeOnly("negative id", enc({ type: 2, nsp: "/", id: -1, data: ["a"] }));
decodeOnly("type as string", enc({ type: "2", nsp: "/", data: ["a"] }));
decodeOnly("type 5", enc({ type: 5, nsp: "/", data: ["a"] }));
decodeOnly("nsp not a string", enc({ type: 2, nsp: 1, data: ["a"] }));
decodeOnly("no nsp", enc({ type: 2, data: ["a"] }));
decodeOnly("disconnect with data", enc({ type: 1, nsp: "/", data: {} }));
decodeOnly("connect with array", enc({ type: 0, nsp: "/", data: [1] }));
decodeOnly("event with object", enc({ type: 2, nsp: "/", data: { a: 1 } }));
decodeOnly("connect_error as string", enc({ type: 4, nsp: "/", data: "nope" }));
decodeOnly("not a map", enc([2, "/", ["a"]]));
decodeOnly("trailing bytes", buf(...enc({ type: 1, nsp: "/" }), 0xc0));
decodeOnly("truncated", enc({ type: 2, nsp: "/", data: ["abc"] }).subarray(0, 20));

for (const c of cases) console.log(JSON.stringify(c));
