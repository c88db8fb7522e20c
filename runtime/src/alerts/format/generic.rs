//! Generic JSON: the notice exactly as the core serialises it, plus `source` and a
//! wall-clock `timestamp` (the notice's own times count from the daemon's epoch, which
//! means nothing to a receiver).

use serde_json::{Value, json};

use super::FormatContext;
use crate::alerts::alert::{Alert, action_name, severity_name};

/// The webhook body for one alert.
pub fn body(alert: &Alert, ctx: &FormatContext<'_>) -> Value {
    json!({
        "source": ctx.source,
        "action": action_name(alert.action),
        "dedup_key": alert.dedup_key,
        "severity": severity_name(alert.severity),
        "subject": alert.subject,
        "summary": alert.summary,
        "since": alert.since.as_ms(),
        "at": alert.at.as_ms(),
        "timestamp": ctx.timestamp(alert.at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::alerts::{AlertAction, AlertNotice, AlertSubject, Severity};
    use switchyard_core::time::Millis;

    #[test]
    fn is_the_notice_plus_source_and_timestamp() {
        let subject = AlertSubject::CapacityExhausted {
            region: "apac".into(),
        };
        let notice = AlertNotice {
            action: AlertAction::Resolve,
            dedup_key: subject.dedup_key(),
            severity: Severity::Info,
            subject,
            summary: "room again".to_owned(),
            since: Millis(10),
            at: Millis(20),
        };
        let ctx = FormatContext {
            source: "sy",
            epoch_unix_ms: 0,
        };
        let mut body = body(&Alert::from_notice(&notice), &ctx);
        let object = body.as_object_mut().expect("an object");
        assert_eq!(object.remove("source"), Some(json!("sy")));
        assert_eq!(
            object.remove("timestamp"),
            Some(json!("1970-01-01T00:00:00.020Z"))
        );
        let notice_json = serde_json::to_value(&notice).expect("notices serialise");
        assert_eq!(body, notice_json);
    }
}
