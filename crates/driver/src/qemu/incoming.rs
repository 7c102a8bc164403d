//! Step 2: the destination starts listening. It listens on port 0 and we read back the port QEMU
//! chose, so parallel migrations (and parallel tests) never fight over fixed ports.

use crate::error::DriverError;
use crate::qemu::client::QmpClient;
use serde_json::{Value, json};
use std::net::IpAddr;

/// A `tcp:` URI for `ip` and `port`, with IPv6 addresses bracketed as QEMU requires.
pub fn tcp_uri(ip: IpAddr, port: &str) -> String {
    match ip {
        IpAddr::V4(ip) => format!("tcp:{ip}:{port}"),
        IpAddr::V6(ip) => format!("tcp:[{ip}]:{port}"),
    }
}

/// The listening port in a destination's `query-migrate` reply (`socket-address`), which QEMU
/// versions give as a string or a number.
pub fn listening_port(query_migrate: &Value) -> Option<String> {
    let first = query_migrate["socket-address"].as_array()?.first()?;
    first["port"]
        .as_str()
        .map(str::to_string)
        .or_else(|| first["port"].as_u64().map(|p| p.to_string()))
}

/// Makes the destination (started with `-incoming defer`) listen on `ip`, and returns the URI the
/// source must migrate to.
pub async fn listen(destination: &QmpClient, ip: IpAddr) -> Result<String, DriverError> {
    destination
        .execute("migrate-incoming", json!({ "uri": tcp_uri(ip, "0") }))
        .await?;
    let info = destination.execute("query-migrate", Value::Null).await?;
    let port = listening_port(&info).ok_or_else(|| DriverError::Protocol {
        vm: destination.vm().to_string(),
        message: format!("no listening port in query-migrate: {info}"),
    })?;
    Ok(tcp_uri(ip, &port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_bracket_ipv6_only() {
        assert_eq!(tcp_uri(IpAddr::from([10, 0, 0, 2]), "0"), "tcp:10.0.0.2:0");
        assert_eq!(tcp_uri("::1".parse().unwrap(), "4444"), "tcp:[::1]:4444");
    }

    #[test]
    fn port_is_read_as_string_or_number() {
        let as_text =
            json!({"socket-address": [{"type": "inet", "host": "127.0.0.1", "port": "41234"}]});
        let as_number = json!({"socket-address": [{"port": 41234}]});
        assert_eq!(listening_port(&as_text).as_deref(), Some("41234"));
        assert_eq!(listening_port(&as_number).as_deref(), Some("41234"));
        assert_eq!(listening_port(&json!({"status": "setup"})), None);
    }
}
