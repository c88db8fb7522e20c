//! The operator: a host of the world that acts on the controller as a person with the
//! operator token would. Drains and re-enables go through the controller's HTTP API
//! (`POST /api/nodes/{name}/drain` and `/enable`), so the real routes, token check and
//! standby refusal are exercised. The API has no route that adds a node, so a join hands
//! the core's `add_node` input to the running controller's driver, as a program
//! embedding the daemon would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use switchyard_core::InputError;
use switchyard_core::ids::NodeId;
use switchyard_core::topology::NodeSpec;
use switchyard_runtime::driver::OperatorAction;
use switchyard_runtime::ports::http::{HttpClient, HttpRequest, Method};
use tokio::sync::mpsc;

use super::super::Shared;
use super::super::hosts::{HTTP_PORT, OPERATOR_TOKEN};
use super::timeline::OperatorRequest;
use crate::net::TurmoilHttpClient;

/// The operator host's name.
pub const OPERATOR_HOST: &str = "operator";

/// How often an operator tries before giving up.
const ATTEMPTS_MAX: u32 = 30;
/// The pause between tries: a person re-running a command.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How long one API call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How an operator request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorOutcome {
    /// The fault it belongs to.
    pub fault: usize,
    /// `drain eu-1`, `enable eu-1`, `join eu-4`.
    pub request: String,
    /// When the world issued it, in run milliseconds.
    pub issued_ms: u64,
    /// When it was done or abandoned.
    pub finished_ms: u64,
    /// Tries made.
    pub attempts: u32,
    /// Whether the controller accepted it.
    pub accepted: bool,
    /// The last answer: an HTTP status and body, or why there was none.
    pub answer: String,
}

struct Order {
    fault: usize,
    issued_ms: u64,
    request: OperatorRequest,
}

/// The world's side of the operator host: where orders go and outcomes come back.
pub struct OperatorDesk {
    orders: mpsc::UnboundedSender<Order>,
    outcomes: Arc<Mutex<Vec<OperatorOutcome>>>,
}

impl OperatorDesk {
    /// Adds the operator host to the world.
    pub fn add(sim: &mut turmoil::Sim<'static>, shared: Arc<Mutex<Shared>>) -> Self {
        let (orders, inbox) = mpsc::unbounded_channel();
        // The host is never crashed, but a host must be restartable: the inbox is shared.
        let inbox = Arc::new(tokio::sync::Mutex::new(inbox));
        let outcomes: Arc<Mutex<Vec<OperatorOutcome>>> = Arc::default();
        let reported = outcomes.clone();
        sim.host(OPERATOR_HOST, move || {
            let (inbox, shared, outcomes) = (inbox.clone(), shared.clone(), reported.clone());
            async move {
                let mut inbox = inbox.lock().await;
                // Ends when the world drops the desk; orders come from a finite timeline.
                while let Some(order) = inbox.recv().await {
                    // Each order on its own task: one slow request must not delay the next.
                    tokio::spawn(carry_out(order, shared.clone(), outcomes.clone()));
                }
                Ok(())
            }
        });
        Self { orders, outcomes }
    }

    /// Hands the operator a request issued at `issued_ms`.
    pub fn issue(&self, fault: usize, issued_ms: u64, request: OperatorRequest) {
        let order = Order {
            fault,
            issued_ms,
            request,
        };
        // The host's loop holds the receiver for the whole run.
        if self.orders.send(order).is_err() {
            tracing::warn!("the operator host is gone; request dropped");
        }
    }

    /// Outcomes so far, in the order requests finished.
    pub fn outcomes(&self) -> Vec<OperatorOutcome> {
        self.outcomes
            .lock()
            .expect("no panics while locked")
            .clone()
    }
}

/// One try's result.
enum Try {
    Accepted(String),
    /// Worth retrying: no answer, or a controller that cannot act now.
    Retry(String),
    Refused(String),
}

async fn carry_out(
    order: Order,
    shared: Arc<Mutex<Shared>>,
    outcomes: Arc<Mutex<Vec<OperatorOutcome>>>,
) {
    let mut attempts = 0;
    let (accepted, answer) = loop {
        attempts += 1;
        let result = match &order.request {
            OperatorRequest::Drain(node) => call_api(&format!("nodes/{node}/drain")).await,
            OperatorRequest::Enable(node) => call_api(&format!("nodes/{node}/enable")).await,
            OperatorRequest::Join(spec) => join(spec, &shared).await,
            OperatorRequest::Leave(node) => leave(node, &shared).await,
        };
        match result {
            Try::Accepted(answer) => break (true, answer),
            Try::Refused(answer) => break (false, answer),
            Try::Retry(answer) if attempts >= ATTEMPTS_MAX => break (false, answer),
            Try::Retry(_) => tokio::time::sleep(RETRY_INTERVAL).await,
        }
    };
    let outcome = OperatorOutcome {
        fault: order.fault,
        request: order.request.to_string(),
        issued_ms: order.issued_ms,
        finished_ms: super::super::hosts::sim_unix_ms() - super::super::SIM_EPOCH_UNIX_MS,
        attempts,
        accepted,
        answer,
    };
    if !outcome.accepted {
        tracing::warn!(?outcome, "the operator's request failed");
    }
    outcomes
        .lock()
        .expect("no panics while locked")
        .push(outcome);
}

/// `POST /api/{path}` on the controller with the operator token.
async fn call_api(path: &str) -> Try {
    let request = HttpRequest::new(
        Method::Post,
        format!("http://controller:{HTTP_PORT}/api/{path}"),
        REQUEST_TIMEOUT,
    )
    .header("Authorization", format!("Bearer {OPERATOR_TOKEN}"));
    match TurmoilHttpClient::new().send(request).await {
        Ok(response) => {
            let answer = format!(
                "{} {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            );
            match response.status {
                200..=299 => Try::Accepted(answer),
                // A standby, or a leader stepping down: ask again, as an operator would.
                503 => Try::Retry(answer),
                _ => Try::Refused(answer),
            }
        }
        Err(error) => Try::Retry(error.to_string()),
    }
}

/// The controller's handle, while one runs.
fn running_controller(
    shared: &Arc<Mutex<Shared>>,
) -> Option<switchyard_runtime::driver::DriverHandle> {
    let controller = shared
        .lock()
        .expect("no panics while locked")
        .controller
        .clone();
    controller.filter(|c| c.is_running())
}

/// Hands a node's removal to the running controller.
async fn leave(node: &NodeId, shared: &Arc<Mutex<Shared>>) -> Try {
    let Some(controller) = running_controller(shared) else {
        return Try::Retry("no controller is running".into());
    };
    match controller
        .operate(OperatorAction::Remove(node.clone()))
        .await
    {
        Ok(Ok(())) => Try::Accepted("leaving".into()),
        // A controller restarted after the leave read a configuration without it.
        Ok(Err(InputError::UnknownNode(_))) => Try::Accepted("already gone".into()),
        Ok(Err(error)) => Try::Refused(error.to_string()),
        Err(_) => Try::Retry("the controller cannot act now".into()),
    }
}

/// Hands `add_node` to the running controller.
async fn join(spec: &NodeSpec, shared: &Arc<Mutex<Shared>>) -> Try {
    let Some(controller) = running_controller(shared) else {
        return Try::Retry("no controller is running".into());
    };
    match controller.operate(OperatorAction::Add(spec.clone())).await {
        Ok(Ok(())) => Try::Accepted("added".into()),
        // A controller restarted after the join read the node from its configuration.
        Ok(Err(InputError::DuplicateNode(_))) => Try::Accepted("already known".into()),
        Ok(Err(error)) => Try::Refused(error.to_string()),
        Err(_) => Try::Retry("the controller cannot act now".into()),
    }
}
