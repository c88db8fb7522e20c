//! Controller writes, plain or behind the leader fence ([`ScriptKind::LeaderFenced`]):
//! the same command either way, but fenced it runs inside a script that first checks the
//! writer still leads, so the check and the write are one atomic step.

use super::*;

impl<C> RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// Runs `op target args...` (`SET`, `HSET`, `HDEL`, `DEL` or `XADD`) as a controller
    /// write and answers the command's reply.
    pub(super) async fn controller_write(
        &self,
        operation: &'static str,
        op: &'static str,
        target: &str,
        args: Vec<String>,
    ) -> Result<Value, OpError> {
        match &self.fence {
            None => Ok(redis::cmd(op)
                .arg(target)
                .arg(args)
                .query_async(&mut self.conn())
                .await?),
            Some(fence) => self.fenced(operation, fence, op, target, args).await,
        }
    }

    /// Runs the fenced script. Answers the write's reply; for `GRANT`, the
    /// `[code, lease]` pair the plain grant script answers.
    pub(super) async fn fenced(
        &self,
        operation: &'static str,
        fence: &LeaderFence,
        op: &'static str,
        target: &str,
        args: Vec<String>,
    ) -> Result<Value, OpError> {
        let token = exact_number("leader token", fence.token)?;
        let reply: Vec<Value> = self
            .scripts
            .leader_fenced
            .key(keys::LEADER)
            .key(keys::LEADER_TOKEN)
            .key(target)
            .arg(fence.holder.as_str())
            .arg(token)
            .arg(op)
            .arg(args)
            .invoke_async(&mut self.conn())
            .await?;
        let mut reply = reply.into_iter();
        let code: i64 = match reply.next() {
            Some(code) => redis::from_redis_value(code)?,
            None => return Err(OpError::Reply("leader_fenced replied nothing".to_owned())),
        };
        let rest: Vec<Value> = reply.collect();
        match (code, rest.len()) {
            (0, 2) => Err(OpError::Store(superseded(operation, &rest)?)),
            (1, 1) => Ok(rest.into_iter().next().unwrap_or(Value::Nil)),
            (1, 2) => Ok(Value::Array(rest)),
            (code, len) => Err(OpError::Reply(format!(
                "leader_fenced replied code {code} with {len} values"
            ))),
        }
    }
}

/// The refusal: who holds the lease (an empty string when nobody) and the newest token.
fn superseded(operation: &'static str, rest: &[Value]) -> Result<StoreError, OpError> {
    let holder: String = redis::from_redis_value_ref(&rest[0])?;
    let token: i64 = redis::from_redis_value_ref(&rest[1])?;
    Ok(StoreError::Superseded {
        operation,
        holder: (!holder.is_empty()).then_some(holder),
        token: u64::try_from(token).unwrap_or(0),
    })
}
