//! Output of `hub listen --queue`, `hub emit --queue` and the work-queue part of `hub queue`.

use std::io::{self, Write};

use crate::hub::work::{QueueSummary, WorkLog};
use crate::hub::workclient::WorkEvent;

pub fn client<W: Write>(out: &mut W, e: &WorkEvent, json: bool) -> io::Result<()> {
    if json {
        return super::json_line(out, e);
    }
    match e {
        WorkEvent::Ready {
            queue,
            consumer,
            prefetch,
        } => writeln!(
            out,
            "ready: consuming work queue {queue} as {consumer} (at most {prefetch} job(s) at a time)"
        ),
        WorkEvent::Job {
            worker,
            id,
            event,
            data,
            from,
            deliveries,
            duplicate,
            ..
        } => {
            let again = if *deliveries > 1 {
                format!(" (delivery {deliveries})")
            } else {
                String::new()
            };
            if *duplicate {
                writeln!(out, "{worker}: job #{id} {event} {data} from {from}{again}: duplicate, acknowledged again")
            } else {
                writeln!(out, "{worker}: job #{id} {event} {data} from {from}{again}")
            }
        }
        WorkEvent::Acked { id } => writeln!(out, "acked #{id}"),
        WorkEvent::Enqueued { queue, id, event } => {
            writeln!(out, "enqueued {event} on work queue {queue} as job #{id}")
        }
        WorkEvent::Stored { jobs } => writeln!(out, "{jobs} job(s) stored by the hub"),
        WorkEvent::ServerError { error } => writeln!(out, "hub error: {error}"),
        WorkEvent::Done {
            jobs,
            duplicates,
            acked,
        } => {
            let how = if *acked { "" } else { ", none acknowledged" };
            writeln!(out, "done: {jobs} job(s), {duplicates} duplicate(s){how}")
        }
    }
}

/// Work queues and their dead letters.
pub fn queues<W: Write>(out: &mut W, rows: &[QueueSummary]) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no work queues");
    }
    let mut t = super::table(&["namespace", "work queue", "ready", "pending", "dead"]);
    for r in rows {
        t.add_row(vec![
            r.namespace.clone(),
            r.queue.clone(),
            r.ready.to_string(),
            r.pending.to_string(),
            r.dead.to_string(),
        ]);
    }
    writeln!(out, "{t}")?;
    for r in rows {
        for d in &r.dead_letters {
            writeln!(
                out,
                "dead letter {}:{} job #{} {} {} after {} deliveries",
                r.namespace, r.queue, d.id, d.event, d.data, d.deliveries
            )?;
        }
    }
    Ok(())
}

/// One `hub serve` line for a work-queue happening.
pub fn log_line<W: Write>(out: &mut W, l: &WorkLog) -> io::Result<()> {
    let id =
        l.id.as_deref()
            .map(|i| format!(" job {i}"))
            .unwrap_or_default();
    let who = l
        .consumer
        .as_deref()
        .map(|c| format!(" -> {c}"))
        .unwrap_or_default();
    let n = l
        .deliveries
        .map(|d| format!(" (delivery {d})"))
        .unwrap_or_default();
    writeln!(
        out,
        "work {} queue {} (namespace {}){id}{who}{n}",
        l.what, l.queue, l.namespace
    )
}
