//! The slow operator: a deduplicating mock that answers after the gateway's timeout,
//! in front of another. Every send to it is in doubt; none may reach the second operator.

use super::*;
use crate::config::OperatorConfig;
use crate::domain::SmsType;
use crate::operators::{OperatorRegistry, OutboundSms, SendOutcome};

#[tokio::test]
async fn a_slow_deduplicating_operator_in_front_gets_each_message_once_and_the_next_none() {
    let (slow, slow_stats, stop_slow) = start(MockOperatorConfig {
        name: "slow".into(),
        latency: Duration::from_millis(400),
        ..Default::default()
    })
    .await;
    let (next, next_stats, stop_next) = start(MockOperatorConfig {
        name: "next".into(),
        latency: Duration::ZERO,
        ..Default::default()
    })
    .await;
    let mut a = OperatorConfig::new("slow", format!("{slow}/send"), "k".to_string().into())
        .with_status_url(format!("{slow}/status"));
    a.timeout_ms = 100;
    // 20 timeouts at once would open a default breaker (5) and send the rest elsewhere.
    a.breaker_failures = 100;
    let b = OperatorConfig::new("next", format!("{next}/send"), "k".to_string().into());
    let reg = Arc::new(OperatorRegistry::from_config(&[a, b], &[]).unwrap());
    let sends = (0..20).map(|i| {
        let reg = reg.clone();
        tokio::spawn(async move {
            let sms = OutboundSms {
                to: "+989121234567".into(),
                text: "hi".into(),
                reference: format!("sms-1:{i}"),
                from: None,
            };
            reg.send(SmsType::Normal, &[], &sms).await
        })
    });
    for send in sends {
        match send.await.unwrap() {
            SendOutcome::Sent {
                operator,
                message_id,
            } => {
                assert_eq!(operator, "slow");
                assert!(message_id.starts_with("slow-"), "{message_id}");
            }
            other => panic!("{other:?}"),
        }
    }
    let (s, n) = (slow_stats.snapshot(), next_stats.snapshot());
    assert_eq!((s.received, s.accepted, s.lookups_found), (20, 20, 20));
    assert_eq!(n.received, 0, "no recipient reached two operators");
    stop_slow.cancel();
    stop_next.cancel();
}
