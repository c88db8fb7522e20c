//! The client side in the simulated world: the production `RedisStore` and its
//! reconnecting connection, dialing over turmoil's TCP instead of the OS's.

use std::future::Future;
use std::io;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ProtocolVersion, RedisConnectionInfo, RedisResult};
use switchyard_runtime::adapters::{
    Dial, Dialed, ReconnectingConnection, RedisStore, RedisStoreConfig,
};

/// Dials a Redis (normally a [`super::RedisSim`] host) over turmoil's network.
#[derive(Debug, Clone)]
pub struct TurmoilRedisDialer {
    host: String,
    port: u16,
    info: RedisConnectionInfo,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl TurmoilRedisDialer {
    /// Dials `host:port` (a turmoil host name) with the store's timeouts, RESP2, db 0.
    pub fn new(host: impl Into<String>, port: u16, config: &RedisStoreConfig) -> Self {
        Self {
            host: host.into(),
            port,
            info: RedisConnectionInfo::default(),
            connect_timeout: config.connect_timeout,
            response_timeout: config.op_timeout,
        }
    }

    /// Speaks RESP3 (`HELLO 3`) instead of RESP2.
    pub fn with_resp3(mut self) -> Self {
        self.info = self.info.set_protocol(ProtocolVersion::RESP3);
        self
    }
}

impl Dial for TurmoilRedisDialer {
    fn dial(&self) -> impl Future<Output = RedisResult<Dialed>> + Send {
        let dialer = self.clone();
        async move {
            let connect = async {
                let stream =
                    turmoil::net::TcpStream::connect((dialer.host.as_str(), dialer.port)).await?;
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(dialer.connect_timeout))
                    .set_response_timeout(Some(dialer.response_timeout));
                let (connection, driver) =
                    MultiplexedConnection::new_with_config(&dialer.info, stream, config).await?;
                // The driver moves bytes for the connection. It is aborted when the
                // connection is retired: a request lost on a partitioned link would
                // otherwise keep it waiting forever.
                let driver = tokio::spawn(driver).abort_handle();
                Ok(Dialed {
                    connection,
                    driver: Some(driver),
                })
            };
            // The handshake is bounded too, not only the TCP connect.
            match tokio::time::timeout(dialer.connect_timeout, connect).await {
                Ok(result) => result,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {}:{} timed out", dialer.host, dialer.port),
                )
                .into()),
            }
        }
    }

    fn db(&self) -> i64 {
        self.info.db()
    }
}

/// The production store adapter over turmoil: what the simulated controller and bots
/// use to reach the simulated Redis at `host:port`.
pub fn turmoil_redis_store(
    dialer: TurmoilRedisDialer,
    config: RedisStoreConfig,
) -> RedisStore<ReconnectingConnection<TurmoilRedisDialer>> {
    let connection = ReconnectingConnection::new(dialer, config.reconnect);
    RedisStore::new(connection, config)
}
