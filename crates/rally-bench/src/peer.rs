//! Peer servers as child processes, pinned with `taskset`, and what /proc
//! says about them (CPU seconds, resident memory).

use std::{
    fmt,
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::serve::Runtime;

/// The servers compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    Rally,
    Socketioxide,
    Node,
    BareWs,
}

impl Peer {
    pub(crate) const ALL: [Peer; 4] = [Peer::Rally, Peer::Socketioxide, Peer::Node, Peer::BareWs];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::Rally => "rally",
            Peer::Socketioxide => "socketioxide",
            Peer::Node => "node",
            Peer::BareWs => "bare-ws",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Peer::Rally => "Rally",
            Peer::Socketioxide => "socketioxide 0.18",
            Peer::Node => "Node socket.io 4.8.4",
            Peer::BareWs => "bare WebSocket (ceiling)",
        }
    }

    /// A Rust server, run on each tokio runtime asked for.
    pub(crate) fn is_rust(self) -> bool {
        self != Peer::Node
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Speaks Socket.IO (the bare WebSocket server does not).
    pub(crate) fn is_socketio(self) -> bool {
        self != Peer::BareWs
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the peers' programs are.
#[derive(Debug)]
pub(crate) struct Programs {
    repo: PathBuf,
    exe: PathBuf,
    socketioxide: PathBuf,
}

impl Programs {
    /// Finds the programs and builds the socketioxide peer (release) when it
    /// is one of `peers`.
    pub(crate) fn prepare(peers: &[Peer]) -> Result<Self, String> {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let repo = repo.canonicalize().map_err(|e| format!("repo root: {e}"))?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        // target/release/rally-bench: the target directory is two levels up.
        let target = exe
            .parent()
            .and_then(Path::parent)
            .ok_or("cannot find the target directory")?
            .to_path_buf();
        let manifest = repo.join("bench/socketioxide-peer/Cargo.toml");
        if peers.contains(&Peer::Socketioxide) {
            eprintln!("building the socketioxide peer (release)...");
            let status = Command::new("cargo")
                .args(["build", "--release", "--quiet", "--manifest-path"])
                .arg(&manifest)
                .arg("--target-dir")
                .arg(&target)
                .status()
                .map_err(|e| format!("cargo: {e}"))?;
            if !status.success() {
                return Err("building bench/socketioxide-peer failed".into());
            }
        }
        if peers.contains(&Peer::Node) && !repo.join("interop/node_modules/socket.io").exists() {
            return Err("interop/node_modules is missing: run `npm ci` in interop/".into());
        }
        Ok(Self {
            socketioxide: target.join("release/socketioxide-peer"),
            repo,
            exe,
        })
    }

    fn command(&self, peer: Peer, port: u16, runtime: Option<Runtime>) -> Command {
        let port = port.to_string();
        let mut cmd = Command::new("taskset");
        cmd.arg("-c");
        cmd.arg(crate::SERVER_CPU.to_string());
        match peer {
            Peer::Rally => cmd.arg(&self.exe).args(["serve-rally", &port]),
            Peer::BareWs => cmd.arg(&self.exe).args(["serve-ws", &port]),
            Peer::Socketioxide => cmd.arg(&self.socketioxide).arg(&port),
            Peer::Node => cmd
                .arg("node")
                .arg(self.repo.join("interop/bench-peer.mjs"))
                .arg(&port),
        };
        if let Some(rt) = runtime.filter(|_| peer.is_rust()) {
            cmd.arg(rt.name());
        }
        cmd
    }

    /// Starts `peer` on a free port, a Rust one on `runtime` (by default
    /// tokio's multi-threaded one), and waits until it accepts connections.
    pub(crate) fn start(&self, peer: Peer, runtime: Option<Runtime>) -> Result<Running, String> {
        self.start_deflate(peer, runtime, false)
    }

    /// [`Programs::start`], with WebSocket permessage-deflate on when
    /// `deflate` is set (Rally and Node; socketioxide has none).
    pub(crate) fn start_deflate(
        &self,
        peer: Peer,
        runtime: Option<Runtime>,
        deflate: bool,
    ) -> Result<Running, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut cmd = self.command(peer, port, runtime);
        if deflate {
            cmd.env(crate::serve::PER_MESSAGE_DEFLATE_VAR, "1");
        }
        let child = cmd
            .stdout(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("start {peer}: {e}"))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let running = Running {
            pid: child.id(),
            child,
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("{peer} did not listen within 30 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(running)
    }
}

/// A started peer; stopped when dropped.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    pub(crate) pid: u32,
    pub(crate) addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        // SIGTERM (with the pid of the child we started), then SIGKILL.
        let pid = self.pid as i32;
        #[allow(unsafe_code)]
        // SAFETY: kill(2) takes plain integers and touches no memory of ours;
        // the pid is the one of the child this value owns.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clock_ticks() -> f64 {
    #[allow(unsafe_code)]
    // SAFETY: sysconf(3) reads a configuration value; it takes no pointer.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// CPU seconds of a process (all its threads), or of this process when
/// `pid` is `None`, in user mode and in the kernel.
pub(crate) fn cpu_times(pid: Option<u32>) -> CpuTimes {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    stat_cpu_times(&path)
}

/// CPU seconds of one thread of this process, by its id (see
/// [`thread_id`]), in user mode and in the kernel.
pub(crate) fn thread_cpu_times(tid: i32) -> CpuTimes {
    stat_cpu_times(&format!("/proc/self/task/{tid}/stat"))
}

/// The id of the calling thread.
pub(crate) fn thread_id() -> i32 {
    #[allow(unsafe_code)]
    // SAFETY: gettid(2) takes nothing and cannot fail.
    unsafe {
        libc::gettid()
    }
}

/// The user and system times of a `stat` file of `/proc`.
fn stat_cpu_times(path: &str) -> CpuTimes {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return CpuTimes::default();
    };
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return CpuTimes::default();
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Field 3 (state) is index 0: utime is field 14, stime field 15.
    let seconds = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0.0, |t| t as f64 / clock_ticks())
    };
    CpuTimes {
        user: seconds(11),
        system: seconds(12),
    }
}

/// A process's CPU seconds, split by mode.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CpuTimes {
    pub(crate) user: f64,
    pub(crate) system: f64,
}

impl CpuTimes {
    pub(crate) fn total(self) -> f64 {
        self.user + self.system
    }
}

impl std::ops::Sub for CpuTimes {
    type Output = Self;
    fn sub(self, earlier: Self) -> Self {
        Self {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
        }
    }
}

/// CPU seconds spent by every process on the machine in user and system
/// mode (interrupt and softirq time, which our own loopback traffic causes,
/// left out).
pub(crate) fn machine_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else {
        return 0.0;
    };
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy = f.first().unwrap_or(&0) + f.get(1).unwrap_or(&0) + f.get(2).unwrap_or(&0);
    busy as f64 / clock_ticks()
}

/// CPU seconds the hypervisor gave to others while this machine's CPUs had
/// work (steal time, from `/proc/stat`): a virtual machine's share of a
/// busy host, invisible in any process's own CPU time.
pub(crate) fn machine_steal_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let steal = stat
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(8))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    steal as f64 / clock_ticks()
}

/// Resident set size in bytes.
pub(crate) fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// Pins this process (its threads to come) to one CPU.
pub(crate) fn pin_self(cpu: usize) -> Result<(), String> {
    #[allow(unsafe_code)]
    // SAFETY: `cpu_set_t` is plain data (all zeros is the empty set), and
    // sched_setaffinity(2) reads exactly `size_of::<cpu_set_t>()` bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!(
                "sched_setaffinity: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Raises the open-files soft limit to the hard limit (children inherit it);
/// returns the limit in force.
pub(crate) fn raise_nofile() -> u64 {
    #[allow(unsafe_code)]
    // SAFETY: `rlimit` is plain data, and getrlimit(2) / setrlimit(2) read or
    // write exactly one `rlimit` through the pointer we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        lim.rlim_cur
    }
}
