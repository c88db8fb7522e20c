//! How the two servers treat scripts beyond the contract: real Redis and the simulation
//! agree on every adapter script's SHA1, and the simulation refuses anything else
//! clearly instead of pretending to run Lua.

mod support;

use redis::aio::MultiplexedConnection;
use switchyard_runtime::adapters::ScriptKind;

use support::{RedisServer, SimRedisServer};

async fn connect(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .expect("a valid loopback URL")
        .get_multiplexed_async_connection()
        .await
        .expect("the server is up")
}

#[tokio::test]
async fn both_servers_load_every_adapter_script_under_the_same_sha1() {
    let real = RedisServer::start();
    let sim = SimRedisServer::start().await;
    for url in [real.url(), sim.url()] {
        let mut connection = connect(&url).await;
        for kind in ScriptKind::ALL {
            let sha: String = redis::cmd("SCRIPT")
                .arg("LOAD")
                .arg(kind.body())
                .query_async(&mut connection)
                .await
                .unwrap_or_else(|e| panic!("{} at {url}: {e}", kind.name()));
            assert_eq!(sha, kind.sha1_hex(), "{} at {url}", kind.name());
        }
        let exists: Vec<bool> = redis::cmd("SCRIPT")
            .arg("EXISTS")
            .arg(ScriptKind::GrantShard.sha1_hex())
            .arg("0000000000000000000000000000000000000000")
            .query_async(&mut connection)
            .await
            .expect("SCRIPT EXISTS");
        assert_eq!(exists, [true, false], "at {url}");
    }
}

#[tokio::test]
async fn the_simulation_refuses_foreign_scripts_and_commands_by_name() {
    let sim = SimRedisServer::start().await;
    let mut connection = connect(&sim.url()).await;
    let error = redis::cmd("EVAL")
        .arg("return redis.call('FLUSHALL')")
        .arg(0)
        .query_async::<redis::Value>(&mut connection)
        .await
        .expect_err("not an adapter script");
    let message = error.to_string();
    assert!(message.contains("runs no Lua"), "{message}");
    assert!(message.contains("FLUSHALL"), "shows the script: {message}");

    let error = redis::cmd("EVALSHA")
        .arg("0000000000000000000000000000000000000000")
        .arg(0)
        .query_async::<redis::Value>(&mut connection)
        .await
        .expect_err("unknown hash");
    assert_eq!(error.code(), Some("NOSCRIPT"), "{error}");

    let error = redis::cmd("FLUSHALL")
        .query_async::<redis::Value>(&mut connection)
        .await
        .expect_err("not emulated");
    let message = error.to_string();
    assert!(message.contains("unknown command 'FLUSHALL'"), "{message}");
    // The connection is still usable after refusals.
    let pong: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .expect("PING");
    assert_eq!(pong, "PONG");
    assert_eq!(sim.sim().key_count(0), 0);
}
