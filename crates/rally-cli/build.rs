//! Embeds the official browser client (`socket.io-client` 4.8.4, installed
//! by the project's setup under `interop/node_modules`) into the binary, so
//! that `rally serve` can serve it as the reference's `serveClient` does.
//! Without it the binary still builds; it then answers 404 for the bundle.
//!
//! The Admin UI (`@socket.io/admin-ui` 0.5.1, its built web app in
//! `ui/dist`) is embedded the same way, every file of it, for
//! `rally serve --admin-ui`; without it `/admin/` answers 404.

use std::{
    env, fs,
    path::{Path, PathBuf},
};

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
    let ui = manifest.join("../../interop/node_modules/@socket.io/admin-ui/ui/dist");
    println!("cargo:rerun-if-changed={}", ui.display());
    code.push_str(
        "/// The Admin UI's files, by path under `/admin/` (empty: not built in).\npub(crate) const ADMIN_FILES: &[(&str, &[u8])] = &[\n",
    );
    let mut files = Vec::new();
    if ui.is_dir() {
        walk(&ui, &ui, &mut files);
    }
    files.sort();
    for (name, path) in files {
        code.push_str(&format!("    ({name:?}, include_bytes!({path:?})),\n"));
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("client_files.rs");
    fs::write(out, code).expect("write the generated file");
}

/// Every file under `dir`, as (its path relative to `root` with `/`
/// separators, its absolute path).
fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, files);
        } else if let (Ok(relative), Ok(absolute)) = (path.strip_prefix(root), path.canonicalize())
        {
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((name, absolute.display().to_string()));
        }
    }
}
