//! A QEMU process running one guest, with its QMP session and serial console.

use crate::error::DriverError;
use crate::qemu::client::QmpClient;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};

/// How to start a guest.
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// Name for logs and errors.
    pub name: String,
    /// Guest RAM.
    pub memory_mib: u32,
    /// Boot image (a raw disk image; each VM gets its own copy).
    pub image: Vec<u8>,
    /// Network namespace to run in (`ip netns exec`), if any.
    pub netns: Option<String>,
    /// Start as a migration destination (`-incoming defer`).
    pub incoming: bool,
    /// Folder for the socket, serial log and image copy.
    pub dir: PathBuf,
}

/// A running QEMU guest. Killed when dropped, so a failing test never leaks VMs.
pub struct QemuVm {
    /// Its options.
    pub options: VmOptions,
    /// The QMP session, shared: a migration's supervising task holds it while the caller keeps
    /// using it (status checks, events).
    pub qmp: Arc<QmpClient>,
    child: Child,
    serial: PathBuf,
}

/// The QEMU binary (override with `PROMIG_QEMU`).
pub fn qemu_binary() -> String {
    std::env::var("PROMIG_QEMU").unwrap_or_else(|_| "qemu-system-x86_64".into())
}

impl QemuVm {
    /// Starts QEMU (software emulation: these machines have no usable KVM) and connects QMP.
    pub async fn start(options: VmOptions) -> Result<Self, DriverError> {
        std::fs::create_dir_all(&options.dir)
            .map_err(|e| DriverError::io(format!("creating {}", options.dir.display()), e))?;
        let image = options.dir.join(format!("{}.img", options.name));
        let serial = options.dir.join(format!("{}.serial", options.name));
        let socket = options.dir.join(format!("{}.qmp", options.name));
        let _ = std::fs::remove_file(&socket);
        std::fs::write(&image, &options.image)
            .map_err(|e| DriverError::io(format!("writing {}", image.display()), e))?;
        let mut args: Vec<String> = Vec::new();
        let program = match &options.netns {
            Some(ns) => {
                args.extend(["netns", "exec", ns].map(String::from));
                args.push(qemu_binary());
                "ip".to_string()
            }
            None => qemu_binary(),
        };
        args.extend(
            [
                "-nodefaults",
                "-no-user-config",
                "-machine",
                "pc,accel=tcg",
                "-cpu",
                "qemu64",
                "-smp",
                "1",
                "-display",
                "none",
                "-m",
            ]
            .map(String::from),
        );
        args.push(format!("{}M", options.memory_mib));
        args.push("-serial".into());
        args.push(format!("file:{}", serial.display()));
        args.push("-drive".into());
        args.push(format!("file={},format=raw,if=ide", image.display()));
        args.push("-qmp".into());
        args.push(format!("unix:{},server=on,wait=off", socket.display()));
        if options.incoming {
            args.extend(["-incoming", "defer"].map(String::from));
        }
        let child = Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                DriverError::io(
                    format!("{}: starting {program} (install QEMU: apt-get install -y --no-install-recommends qemu-system-x86)", options.name),
                    e,
                )
            })?;
        let qmp = QmpClient::connect(&socket, &options.name, Duration::from_secs(10)).await?;
        Ok(QemuVm {
            options,
            qmp: Arc::new(qmp),
            child,
            serial,
        })
    }

    /// Serial console output so far.
    pub fn serial_output(&self) -> Vec<u8> {
        std::fs::read(&self.serial).unwrap_or_default()
    }

    /// Path of the serial log.
    pub fn serial_path(&self) -> &Path {
        &self.serial
    }

    /// Kills the QEMU process now (simulates a host failure).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}
