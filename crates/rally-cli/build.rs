//! Embeds the official browser client (`socket.io-client` 4.8.4, installed
//! by the project's setup under `interop/node_modules`) into the binary, so
//! that `rally serve` can serve it as the reference's `serveClient` does.
//! Without it the binary still builds; it then answers 404 for the bundle.

use std::{env, fs, path::PathBuf};

/// The bundles the reference's `serveClient` answers (the MessagePack one
/// is the client built with socket.io-msgpack-parser).
const FILES: [&str; 8] = [
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
];

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = manifest.join("../../interop/node_modules/socket.io-client/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!("cargo:rerun-if-changed=build.rs");
    let mut code = String::from(
        "/// The browser client's files, by name (`None`: not built in).\npub(crate) const CLIENT_FILES: &[(&str, Option<&[u8]>)] = &[\n",
    );
    for name in FILES {
        let path = dist.join(name);
        if path.is_file() {
            let path = path.canonicalize().expect("an existing file");
            code.push_str(&format!(
                "    ({name:?}, Some(include_bytes!({:?}))),\n",
                path.display().to_string()
            ));
        } else {
            code.push_str(&format!("    ({name:?}, None),\n"));
        }
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("client_files.rs");
    fs::write(out, code).expect("write the generated file");
}
