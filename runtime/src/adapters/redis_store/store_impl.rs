//! The [`Store`] operations of [`RedisStore`], one Redis command or script each.

use super::*;

impl<C> Store for RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    fn with_leader_fence(&self, fence: Option<LeaderFence>) -> Self {
        Self {
            fence: fence.map(Arc::new),
            ..self.clone()
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run("ping", async {
            let _: String = redis::cmd("PING").query_async(&mut self.conn()).await?;
            Ok(())
        })
        .await
    }

    // --- Node health ---

    async fn put_node_health(
        &self,
        record: &NodeHealthRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.run("put_node_health", async {
            let ttl_ms = ttl_ms("node health ttl", ttl)?;
            let json = to_json("node health", record)?;
            let key = keys::node_health(&record.report.node);
            let args = vec![json, "PX".to_owned(), ttl_ms.to_string()];
            self.controller_write("put_node_health", "SET", &key, args)
                .await?;
            Ok(())
        })
        .await
    }

    async fn node_health(&self, node: &NodeId) -> Result<Option<NodeHealthRecord>, StoreError> {
        self.run("node_health", async {
            let key = keys::node_health(node);
            let value: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut self.conn())
                .await?;
            Ok(value.map(|v| from_json(&key, &v)).transpose()?)
        })
        .await
    }

    async fn all_node_health(&self) -> Result<BTreeMap<NodeId, NodeHealthRecord>, StoreError> {
        self.run("all_node_health", async {
            let mut conn = self.conn();
            let pattern = format!("{}*", keys::NODE_HEALTH_PREFIX);
            let found = self.scan_keys(&mut conn, &pattern).await?;
            let values = self.mget(&mut conn, &found).await?;
            let mut health = BTreeMap::new();
            for (key, value) in found.iter().zip(values) {
                // A key may expire between SCAN and MGET: then it is simply absent.
                let Some(value) = value else { continue };
                let node = NodeId::new(&key[keys::NODE_HEALTH_PREFIX.len()..]);
                if let Some(record) = decode_or_skip::<NodeHealthRecord>(key, &value) {
                    health.insert(node, record);
                }
            }
            Ok(health)
        })
        .await
    }

    async fn delete_node_health(&self, node: &NodeId) -> Result<(), StoreError> {
        self.run("delete_node_health", async {
            let key = keys::node_health(node);
            self.controller_write("delete_node_health", "DEL", &key, Vec::new())
                .await?;
            Ok(())
        })
        .await
    }

    // --- Routing table ---

    async fn set_routes(&self, routes: &[(GuildId, NodeId)]) -> Result<(), StoreError> {
        self.run("set_routes", async {
            for batch in routes.chunks(BATCH_LEN_MAX) {
                let args = batch
                    .iter()
                    .flat_map(|(guild, node)| [guild.0.to_string(), node.to_string()])
                    .collect();
                self.controller_write("set_routes", "HSET", keys::ROUTES, args)
                    .await?;
            }
            Ok(())
        })
        .await
    }

    async fn delete_routes(&self, guilds: &[GuildId]) -> Result<(), StoreError> {
        self.run("delete_routes", async {
            for batch in guilds.chunks(BATCH_LEN_MAX) {
                let fields = batch.iter().map(|g| g.0.to_string()).collect();
                self.controller_write("delete_routes", "HDEL", keys::ROUTES, fields)
                    .await?;
            }
            Ok(())
        })
        .await
    }

    async fn route(&self, guild: GuildId) -> Result<Option<NodeId>, StoreError> {
        self.run("route", async {
            let node: Option<String> = redis::cmd("HGET")
                .arg(keys::ROUTES)
                .arg(guild.0)
                .query_async(&mut self.conn())
                .await?;
            Ok(node.map(NodeId::new))
        })
        .await
    }

    async fn all_routes(&self) -> Result<BTreeMap<GuildId, NodeId>, StoreError> {
        self.run("all_routes", async {
            let raw: BTreeMap<String, String> = redis::cmd("HGETALL")
                .arg(keys::ROUTES)
                .query_async(&mut self.conn())
                .await?;
            let mut routes = BTreeMap::new();
            for (guild, node) in raw {
                match guild.parse::<u64>() {
                    Ok(guild) => {
                        routes.insert(GuildId(guild), NodeId::new(node));
                    }
                    Err(_) => tracing::warn!(guild, "skipping a route that is not a guild id"),
                }
            }
            Ok(routes)
        })
        .await
    }

    // --- Guild records ---

    async fn set_guild_records(&self, records: &[GuildRecord]) -> Result<(), StoreError> {
        self.run("set_guild_records", async {
            for batch in records.chunks(BATCH_LEN_MAX) {
                let mut args = Vec::with_capacity(batch.len() * 2);
                for record in batch {
                    args.push(record.guild.0.to_string());
                    args.push(to_json("guild record", record)?);
                }
                self.controller_write("set_guild_records", "HSET", keys::GUILDS, args)
                    .await?;
            }
            Ok(())
        })
        .await
    }

    async fn delete_guild_records(&self, guilds: &[GuildId]) -> Result<(), StoreError> {
        self.run("delete_guild_records", async {
            for batch in guilds.chunks(BATCH_LEN_MAX) {
                let fields = batch.iter().map(|g| g.0.to_string()).collect();
                self.controller_write("delete_guild_records", "HDEL", keys::GUILDS, fields)
                    .await?;
            }
            Ok(())
        })
        .await
    }

    async fn all_guild_records(&self) -> Result<BTreeMap<GuildId, GuildRecord>, StoreError> {
        self.run("all_guild_records", async {
            let raw: BTreeMap<String, Vec<u8>> = redis::cmd("HGETALL")
                .arg(keys::GUILDS)
                .query_async(&mut self.conn())
                .await?;
            let mut records = BTreeMap::new();
            for (field, json) in raw {
                let key = format!("{} {field}", keys::GUILDS);
                let Some(record) = decode_or_skip::<GuildRecord>(&key, &json) else {
                    continue;
                };
                records.insert(record.guild, record);
            }
            Ok(records)
        })
        .await
    }

    // --- Operator holds ---

    async fn put_operator_holds(&self, holds: &[OperatorHold]) -> Result<(), StoreError> {
        self.run("put_operator_holds", async {
            let json = to_json("operator holds", &holds)?;
            self.controller_write("put_operator_holds", "SET", keys::OPERATOR, vec![json])
                .await?;
            Ok(())
        })
        .await
    }

    async fn operator_holds(&self) -> Result<Option<Vec<OperatorHold>>, StoreError> {
        self.run("operator_holds", async {
            let value: Option<Vec<u8>> = redis::cmd("GET")
                .arg(keys::OPERATOR)
                .query_async(&mut self.conn())
                .await?;
            Ok(value.and_then(|json| decode_or_skip(keys::OPERATOR, &json)))
        })
        .await
    }

    // --- Player snapshots ---

    async fn put_player_snapshot(
        &self,
        snapshot: &PlayerSnapshot,
        ttl: Duration,
    ) -> Result<FencedWrite, StoreError> {
        self.run("put_player_snapshot", async {
            let ttl_ms = ttl_ms("player snapshot ttl", ttl)?.to_string();
            let json = to_json("player snapshot", snapshot)?;
            self.fenced_write(
                &keys::player(snapshot.guild),
                snapshot.shard,
                &snapshot.owner,
                snapshot.epoch,
                ["set", &ttl_ms, &json],
                Some(snapshot.guild),
            )
            .await
        })
        .await
    }

    async fn delete_player_snapshot(
        &self,
        guild: GuildId,
        shard: ShardId,
        owner: &ProcessId,
        epoch: u64,
    ) -> Result<FencedWrite, StoreError> {
        self.run("delete_player_snapshot", async {
            self.fenced_write(
                &keys::player(guild),
                shard,
                owner,
                epoch,
                ["del", "", ""],
                Some(guild),
            )
            .await
        })
        .await
    }

    async fn player_snapshot(&self, guild: GuildId) -> Result<Option<PlayerSnapshot>, StoreError> {
        self.run("player_snapshot", async {
            let key = keys::player(guild);
            let value: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut self.conn())
                .await?;
            Ok(value.map(|v| from_json(&key, &v)).transpose()?)
        })
        .await
    }

    async fn player_snapshots(
        &self,
        guilds: &[GuildId],
    ) -> Result<BTreeMap<GuildId, PlayerSnapshot>, StoreError> {
        self.run("player_snapshots", async {
            let keys: Vec<String> = guilds.iter().map(|g| keys::player(*g)).collect();
            let values = self.mget(&mut self.conn(), &keys).await?;
            let mut snapshots = BTreeMap::new();
            for ((guild, key), value) in guilds.iter().zip(&keys).zip(values) {
                let Some(value) = value else { continue };
                if let Some(snapshot) = decode_or_skip::<PlayerSnapshot>(key, &value) {
                    snapshots.insert(*guild, snapshot);
                }
            }
            Ok(snapshots)
        })
        .await
    }

    async fn player_changes_after(
        &self,
        after: Option<&StreamId>,
        count: usize,
    ) -> Result<Vec<StreamEntry<GuildId>>, StoreError> {
        self.run("player_changes_after", async {
            let raw = self
                .entries_after(keys::PLAYER_CHANGES, after, count)
                .await?;
            Ok(decode_changes(raw))
        })
        .await
    }

    async fn player_changes_newest(&self) -> Result<Option<StreamId>, StoreError> {
        self.run("player_changes_newest", async {
            let newest = self.newest(keys::PLAYER_CHANGES, 1).await?;
            Ok(newest.into_iter().next().map(|(id, _)| StreamId(id)))
        })
        .await
    }

    // --- Bot session registrations ---

    async fn register_session(
        &self,
        process: &ProcessId,
        node: &NodeId,
        registration: &SessionRegistration,
    ) -> Result<(), StoreError> {
        self.run("register_session", async {
            let json = to_json("session registration", registration)?;
            let _: i64 = redis::cmd("HSET")
                .arg(keys::sessions(process))
                .arg(node.as_str())
                .arg(json)
                .query_async(&mut self.conn())
                .await?;
            Ok(())
        })
        .await
    }

    async fn unregister_session(
        &self,
        process: &ProcessId,
        node: &NodeId,
    ) -> Result<(), StoreError> {
        self.run("unregister_session", async {
            let _: i64 = redis::cmd("HDEL")
                .arg(keys::sessions(process))
                .arg(node.as_str())
                .query_async(&mut self.conn())
                .await?;
            Ok(())
        })
        .await
    }

    async fn sessions(
        &self,
        process: &ProcessId,
    ) -> Result<BTreeMap<NodeId, SessionRegistration>, StoreError> {
        self.run("sessions", async {
            let key = keys::sessions(process);
            let raw: BTreeMap<String, Vec<u8>> = redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut self.conn())
                .await?;
            Ok(decode_sessions(&key, raw))
        })
        .await
    }

    async fn all_sessions(
        &self,
    ) -> Result<BTreeMap<ProcessId, BTreeMap<NodeId, SessionRegistration>>, StoreError> {
        self.run("all_sessions", async {
            let mut conn = self.conn();
            let pattern = format!("{}*", keys::SESSIONS_PREFIX);
            let found = self.scan_keys(&mut conn, &pattern).await?;
            let mut all = BTreeMap::new();
            for key in found {
                let raw: BTreeMap<String, Vec<u8>> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await?;
                let sessions = decode_sessions(&key, raw);
                if !sessions.is_empty() {
                    let process = ProcessId::new(&key[keys::SESSIONS_PREFIX.len()..]);
                    all.insert(process, sessions);
                }
            }
            Ok(all)
        })
        .await
    }

    // --- Shard leases and heartbeats ---

    async fn grant_shard(
        &self,
        shard: ShardId,
        owner: &ProcessId,
        epoch: u64,
        now_ms: u64,
    ) -> Result<ShardGrant, StoreError> {
        self.run("grant_shard", async {
            let epoch = exact_number("epoch", epoch)?;
            let lease = ShardLease {
                shard,
                owner: owner.clone(),
                epoch,
                granted_at_ms: now_ms,
            };
            let json = to_json("shard lease", &lease)?;
            let (code, stored): (i64, Vec<u8>) = match &self.fence {
                None => {
                    self.scripts
                        .grant_shard
                        .key(keys::SHARD_LEASES)
                        .arg(shard.0)
                        .arg(owner.as_str())
                        .arg(epoch)
                        .arg(json)
                        .invoke_async(&mut self.conn())
                        .await?
                }
                Some(fence) => {
                    let args = vec![
                        shard.0.to_string(),
                        owner.to_string(),
                        epoch.to_string(),
                        json,
                    ];
                    let reply = self
                        .fenced("grant_shard", fence, "GRANT", keys::SHARD_LEASES, args)
                        .await?;
                    redis::from_redis_value(reply)?
                }
            };
            match code {
                2 => Ok(ShardGrant::Granted),
                1 => Ok(ShardGrant::AlreadyHeld),
                0 => Ok(ShardGrant::Rejected {
                    current: from_json(keys::SHARD_LEASES, &stored)?,
                }),
                other => Err(OpError::Reply(format!("grant_shard replied code {other}"))),
            }
        })
        .await
    }

    async fn shard_lease(&self, shard: ShardId) -> Result<Option<ShardLease>, StoreError> {
        self.run("shard_lease", async {
            let value: Option<Vec<u8>> = redis::cmd("HGET")
                .arg(keys::SHARD_LEASES)
                .arg(shard.0)
                .query_async(&mut self.conn())
                .await?;
            Ok(value
                .map(|v| from_json(keys::SHARD_LEASES, &v))
                .transpose()?)
        })
        .await
    }

    async fn all_shard_leases(&self) -> Result<BTreeMap<ShardId, ShardLease>, StoreError> {
        self.run("all_shard_leases", async {
            let raw: BTreeMap<String, Vec<u8>> = redis::cmd("HGETALL")
                .arg(keys::SHARD_LEASES)
                .query_async(&mut self.conn())
                .await?;
            Ok(decode_by_shard(keys::SHARD_LEASES, raw))
        })
        .await
    }

    async fn heartbeat(
        &self,
        shard: ShardId,
        owner: &ProcessId,
        epoch: u64,
        now_ms: u64,
    ) -> Result<FencedWrite, StoreError> {
        self.run("heartbeat", async {
            let beat = ShardHeartbeat {
                shard,
                owner: owner.clone(),
                epoch,
                at_ms: now_ms,
            };
            let json = to_json("heartbeat", &beat)?;
            let field = shard.0.to_string();
            self.fenced_write(
                keys::HEARTBEATS,
                shard,
                owner,
                epoch,
                ["hset", &field, &json],
                None,
            )
            .await
        })
        .await
    }

    async fn heartbeats(&self) -> Result<BTreeMap<ShardId, ShardHeartbeat>, StoreError> {
        self.run("heartbeats", async {
            let raw: BTreeMap<String, Vec<u8>> = redis::cmd("HGETALL")
                .arg(keys::HEARTBEATS)
                .query_async(&mut self.conn())
                .await?;
            Ok(decode_by_shard(keys::HEARTBEATS, raw))
        })
        .await
    }

    // --- Streams ---

    async fn announce_move(&self, announcement: &MoveAnnouncement) -> Result<StreamId, StoreError> {
        self.run("announce_move", async {
            let json = to_json("move announcement", announcement)?;
            let fields = [
                (stream_fields::GUILD, announcement.guild.to_string()),
                (stream_fields::JSON, json),
            ];
            self.xadd(
                "announce_move",
                keys::MOVES,
                self.config.moves_len_max,
                &fields,
            )
            .await
        })
        .await
    }

    async fn moves_after(
        &self,
        after: Option<&StreamId>,
        count: usize,
    ) -> Result<Vec<StreamEntry<MoveAnnouncement>>, StoreError> {
        self.run("moves_after", async {
            let raw = self.entries_after(keys::MOVES, after, count).await?;
            Ok(decode_entries(keys::MOVES, raw))
        })
        .await
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<StreamId, StoreError> {
        self.run("append_audit", async {
            let json = to_json("audit event", event)?;
            let fields = [
                (stream_fields::KIND, event.kind.clone()),
                (stream_fields::JSON, json),
            ];
            self.xadd(
                "append_audit",
                keys::AUDIT,
                self.config.audit_len_max,
                &fields,
            )
            .await
        })
        .await
    }

    async fn recent_audit(&self, count: usize) -> Result<Vec<StreamEntry<AuditEvent>>, StoreError> {
        self.run("recent_audit", async {
            let raw = self.newest(keys::AUDIT, count).await?;
            Ok(decode_entries(keys::AUDIT, raw))
        })
        .await
    }

    async fn record_failover(&self, record: &FailoverRecord) -> Result<StreamId, StoreError> {
        self.run("record_failover", async {
            let json = to_json("failover record", record)?;
            let fields = [
                (stream_fields::INCIDENT, record.id.0.to_string()),
                (stream_fields::JSON, json),
            ];
            self.xadd(
                "record_failover",
                keys::FAILOVERS,
                self.config.failovers_len_max,
                &fields,
            )
            .await
        })
        .await
    }

    async fn recent_failovers(&self, count: usize) -> Result<Vec<FailoverRecord>, StoreError> {
        self.run("recent_failovers", async {
            let raw = self.newest(keys::FAILOVERS, count).await?;
            let versions = decode_entries::<FailoverRecord>(keys::FAILOVERS, raw);
            // Newest first, so the first version of an incident is its latest. Ids restart
            // with each controller, so an incident is its id and its start together.
            let mut seen = std::collections::BTreeSet::new();
            Ok(versions
                .into_iter()
                .map(|entry| entry.value)
                .filter(|record| seen.insert((record.id, record.started_at)))
                .collect())
        })
        .await
    }

    // --- Leader lease ---

    async fn acquire_leader(
        &self,
        holder: &str,
        ttl: Duration,
        token_floor: u64,
    ) -> Result<LeaderAcquisition, StoreError> {
        self.run("acquire_leader", async {
            let ttl_ms = ttl_ms("leader ttl", ttl)?;
            let token_floor = exact_number("token floor", token_floor)?;
            let (code, current, token, pttl_ms): (i64, Vec<u8>, i64, i64) = self
                .scripts
                .leader_acquire
                .key(keys::LEADER)
                .key(keys::LEADER_TOKEN)
                .arg(holder)
                .arg(ttl_ms)
                .arg(token_floor)
                .invoke_async(&mut self.conn())
                .await?;
            let lease = parse_leader(current, token, pttl_ms)?;
            match code {
                1 => Ok(LeaderAcquisition::Acquired { token: lease.token }),
                0 => Ok(LeaderAcquisition::Held(lease)),
                other => Err(OpError::Reply(format!(
                    "acquire_leader replied code {other}"
                ))),
            }
        })
        .await
    }

    async fn renew_leader(
        &self,
        holder: &str,
        token: u64,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.run("renew_leader", async {
            let ttl_ms = ttl_ms("leader ttl", ttl)?;
            let renewed: i64 = self
                .scripts
                .leader_renew
                .key(keys::LEADER)
                .key(keys::LEADER_TOKEN)
                .arg(holder)
                .arg(token)
                .arg(ttl_ms)
                .invoke_async(&mut self.conn())
                .await?;
            Ok(renewed == 1)
        })
        .await
    }

    async fn release_leader(&self, holder: &str, token: u64) -> Result<bool, StoreError> {
        self.run("release_leader", async {
            let released: i64 = self
                .scripts
                .leader_release
                .key(keys::LEADER)
                .key(keys::LEADER_TOKEN)
                .arg(holder)
                .arg(token)
                .invoke_async(&mut self.conn())
                .await?;
            Ok(released == 1)
        })
        .await
    }

    async fn leader(&self) -> Result<Option<LeaderLease>, StoreError> {
        self.run("leader", async {
            let reply: Option<(Vec<u8>, i64, i64)> = self
                .scripts
                .leader_read
                .key(keys::LEADER)
                .key(keys::LEADER_TOKEN)
                .invoke_async(&mut self.conn())
                .await?;
            reply
                .map(|(holder, token, pttl_ms)| parse_leader(holder, token, pttl_ms))
                .transpose()
        })
        .await
    }

    async fn newest_leader_token(&self) -> Result<u64, StoreError> {
        self.run("newest_leader_token", async {
            let token: Option<String> = redis::cmd("GET")
                .arg(keys::LEADER_TOKEN)
                .query_async(&mut self.conn())
                .await?;
            match token {
                None => Ok(0),
                Some(text) => text
                    .parse::<u64>()
                    .map_err(|_| OpError::Reply(format!("leader token {text:?} is not a number"))),
            }
        })
        .await
    }
}

fn decode_sessions(
    key: &str,
    raw: BTreeMap<String, Vec<u8>>,
) -> BTreeMap<NodeId, SessionRegistration> {
    raw.into_iter()
        .filter_map(|(node, json)| {
            let registration = decode_or_skip(&format!("{key} {node}"), &json)?;
            Some((NodeId::new(node), registration))
        })
        .collect()
}

fn decode_by_shard<T: serde::de::DeserializeOwned>(
    key: &str,
    raw: BTreeMap<String, Vec<u8>>,
) -> BTreeMap<ShardId, T> {
    raw.into_iter()
        .filter_map(|(field, json)| {
            let shard = parse_shard(key, &field)?;
            let value = decode_or_skip(&format!("{key} {field}"), &json)?;
            Some((shard, value))
        })
        .collect()
}
