//! What the tests against real exporters share.

/// A loopback port nothing listens on now (the OS picks it), for a server the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
