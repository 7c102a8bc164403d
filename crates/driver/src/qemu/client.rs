//! A small asynchronous QMP client.
//!
//! Hand-written (about 150 lines) rather than the `qapi` crate: we need only a dozen commands,
//! untyped JSON keeps us independent of the QEMU version's schema, and owning the reader task lets
//! us route replies by id and fan events out to listeners, with timeouts, without extra layers.

use crate::error::DriverError;
use crate::qemu::run_state::RunState;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{broadcast, oneshot};

/// An asynchronous QMP event (`MIGRATION`, `MIGRATION_PASS`, `STOP`, `RESUME`...).
#[derive(Debug, Clone, PartialEq)]
pub struct QmpEvent {
    /// Event name.
    pub name: String,
    /// Its data.
    pub data: Value,
    /// QEMU's timestamp in microseconds since the epoch.
    pub timestamp_us: u64,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// A connected, capabilities-negotiated QMP session.
pub struct QmpClient {
    vm: String,
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Pending,
    next_id: AtomicU64,
    events: broadcast::Sender<QmpEvent>,
    peer_pid: Option<u32>,
    /// Default time to wait for a reply.
    pub timeout: Duration,
}

impl QmpClient {
    /// Connects to a QMP unix socket (retrying until `wait` while QEMU starts), reads the greeting
    /// and enters command mode.
    pub async fn connect(path: &Path, vm: &str, wait: Duration) -> Result<Self, DriverError> {
        let deadline = tokio::time::Instant::now() + wait;
        let stream = loop {
            match UnixStream::connect(path).await {
                Ok(s) => break s,
                // QEMU creates the socket a few milliseconds after it starts: retry until `wait`.
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => {
                    return Err(DriverError::io(
                        format!("{vm}: connecting to QMP at {}", path.display()),
                        e,
                    ));
                }
            }
        };
        let peer_pid = stream
            .peer_cred()
            .ok()
            .and_then(|c| c.pid())
            .and_then(|p| u32::try_from(p).ok());
        let (read, write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let greeting = tokio::time::timeout(wait, lines.next_line())
            .await
            .map_err(|_| DriverError::Timeout {
                vm: vm.into(),
                command: "greeting".into(),
                timeout: wait,
            })?
            .map_err(|e| DriverError::io(format!("{vm}: reading QMP greeting"), e))?
            .ok_or_else(|| DriverError::Closed { vm: vm.into() })?;
        let g: Value = serde_json::from_str(&greeting).map_err(|source| DriverError::Json {
            vm: vm.into(),
            what: "the QMP greeting",
            source,
        })?;
        if g.get("QMP").is_none() {
            return Err(DriverError::Protocol {
                vm: vm.into(),
                message: format!("expected a QMP greeting, got {greeting}"),
            });
        }
        let pending: Pending = Arc::default();
        let (events, _) = broadcast::channel(1024);
        let reader_pending = Arc::clone(&pending);
        let reader_events = events.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let Some(name) = msg.get("event").and_then(Value::as_str) {
                    let ts = &msg["timestamp"];
                    let us = ts["seconds"].as_u64().unwrap_or(0) * 1_000_000
                        + ts["microseconds"].as_u64().unwrap_or(0);
                    let _ = reader_events.send(QmpEvent {
                        name: name.to_string(),
                        data: msg.get("data").cloned().unwrap_or(Value::Null),
                        timestamp_us: us,
                    });
                } else if let Some(id) = msg.get("id").and_then(Value::as_u64) {
                    let tx = reader_pending.lock().expect("pending map lock").remove(&id);
                    if let Some(tx) = tx {
                        let _ = tx.send(msg);
                    }
                }
            }
            // Connection gone: dropping the senders wakes every waiter with "closed".
            reader_pending.lock().expect("pending map lock").clear();
        });
        let client = QmpClient {
            vm: vm.to_string(),
            writer: tokio::sync::Mutex::new(write),
            pending,
            next_id: AtomicU64::new(1),
            events,
            peer_pid,
            timeout: Duration::from_secs(10),
        };
        client.execute("qmp_capabilities", Value::Null).await?;
        Ok(client)
    }

    /// Process id at the other end of the socket, as the kernel reports it (`SO_PEERCRED`):
    /// QEMU itself when the socket is local, so a controller can meter the VM's process (CPU,
    /// resident memory) in `/proc` without a pid file; a forwarder (ssh, socat) when the socket
    /// is relayed, which callers must check for.
    pub fn peer_pid(&self) -> Option<u32> {
        self.peer_pid
    }

    /// Name of the VM this session talks to.
    pub fn vm(&self) -> &str {
        &self.vm
    }

    /// Subscribes to events from now on.
    pub fn events(&self) -> broadcast::Receiver<QmpEvent> {
        self.events.subscribe()
    }

    /// Runs a command and returns its `return` value.
    pub async fn execute(&self, command: &str, arguments: Value) -> Result<Value, DriverError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({ "execute": command, "id": id });
        if !arguments.is_null() {
            msg["arguments"] = arguments;
        }
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .expect("pending map lock")
            .insert(id, tx);
        let mut line = msg.to_string();
        line.push('\n');
        {
            let mut w = self.writer.lock().await;
            if let Err(e) = w.write_all(line.as_bytes()).await {
                self.pending.lock().expect("pending map lock").remove(&id);
                return Err(if e.kind() == std::io::ErrorKind::BrokenPipe {
                    DriverError::Closed {
                        vm: self.vm.clone(),
                    }
                } else {
                    DriverError::io(format!("{}: sending `{command}`", self.vm), e)
                });
            }
        }
        let reply = match tokio::time::timeout(self.timeout, rx).await {
            Err(_) => {
                self.pending.lock().expect("pending map lock").remove(&id);
                return Err(DriverError::Timeout {
                    vm: self.vm.clone(),
                    command: command.into(),
                    timeout: self.timeout,
                });
            }
            Ok(Err(_)) => {
                return Err(DriverError::Closed {
                    vm: self.vm.clone(),
                });
            }
            Ok(Ok(v)) => v,
        };
        if let Some(err) = reply.get("error") {
            return Err(DriverError::Command {
                vm: self.vm.clone(),
                command: command.into(),
                class: err["class"].as_str().unwrap_or("?").into(),
                desc: err["desc"].as_str().unwrap_or("?").into(),
            });
        }
        Ok(reply.get("return").cloned().unwrap_or(Value::Null))
    }

    /// The VM's run state (`running`, `paused`, `postmigrate`, `inmigrate`...).
    pub async fn status(&self) -> Result<RunState, DriverError> {
        let r = self.execute("query-status", Value::Null).await?;
        Ok(RunState::parse(r["status"].as_str().unwrap_or("unknown")))
    }
}
