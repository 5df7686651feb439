//! Work queues in the hub's SQLite file (the embedded store).

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::{summary_entry, DeadLetter, Job, JobError, JobStore, QueueSummary};

/// The embedded store: tables in the hub's SQLite file.
pub struct SqliteJobs<'a>(pub &'a Connection);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  namespace TEXT NOT NULL, queue TEXT NOT NULL, event TEXT NOT NULL, data TEXT NOT NULL,
  sender TEXT NOT NULL, created_ms INTEGER NOT NULL, deliveries INTEGER NOT NULL DEFAULT 0,
  consumer TEXT, claimed_ms INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(namespace, queue, deliveries, id);
CREATE TABLE IF NOT EXISTS work_queues(
  namespace TEXT NOT NULL, queue TEXT NOT NULL, PRIMARY KEY(namespace, queue));
CREATE TABLE IF NOT EXISTS dead_jobs(
  namespace TEXT NOT NULL, queue TEXT NOT NULL, id INTEGER NOT NULL, event TEXT NOT NULL,
  data TEXT NOT NULL, sender TEXT NOT NULL, created_ms INTEGER NOT NULL,
  deliveries INTEGER NOT NULL, dead_ms INTEGER NOT NULL);
";

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl SqliteJobs<'_> {
    pub fn create(conn: &Connection) -> Result<(), JobError> {
        conn.execute_batch(SCHEMA)?;
        Ok(())
    }

    fn row(&self, id: i64) -> Result<Option<Job>, JobError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT id, event, data, sender, created_ms, deliveries FROM jobs WHERE id=?1",
            )?
            .query_row(params![id], |r| {
                Ok(Job {
                    id: r.get::<_, i64>(0)?.to_string(),
                    event: r.get(1)?,
                    data: r.get(2)?,
                    sender: r.get(3)?,
                    created_ms: u(r.get(4)?),
                    deliveries: u(r.get(5)?),
                })
            })
            .optional()?)
    }
}

impl JobStore for SqliteJobs<'_> {
    fn add(
        &mut self,
        ns: &str,
        queue: &str,
        event: &str,
        data: &str,
        sender: &str,
        now_ms: u64,
    ) -> Result<String, JobError> {
        self.0
            .prepare_cached(
                "INSERT INTO jobs(namespace, queue, event, data, sender, created_ms) VALUES(?1,?2,?3,?4,?5,?6)",
            )?
            .execute(params![ns, queue, event, data, sender, i(now_ms)])?;
        let id = self.0.last_insert_rowid();
        self.0
            .prepare_cached("INSERT OR IGNORE INTO work_queues(namespace, queue) VALUES(?1,?2)")?
            .execute(params![ns, queue])?;
        Ok(id.to_string())
    }

    fn next_new(
        &mut self,
        ns: &str,
        queue: &str,
        consumer: &str,
        now_ms: u64,
    ) -> Result<Option<Job>, JobError> {
        let id: Option<i64> = self
            .0
            .prepare_cached(
                "SELECT id FROM jobs WHERE namespace=?1 AND queue=?2 AND deliveries=0 ORDER BY id LIMIT 1",
            )?
            .query_row(params![ns, queue], |r| r.get(0))
            .optional()?;
        match id {
            Some(id) => self.claim(ns, queue, &id.to_string(), consumer, now_ms),
            None => Ok(None),
        }
    }

    fn claim(
        &mut self,
        _ns: &str,
        _queue: &str,
        id: &str,
        consumer: &str,
        now_ms: u64,
    ) -> Result<Option<Job>, JobError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let n = self
            .0
            .prepare_cached(
                "UPDATE jobs SET deliveries = deliveries + 1, consumer=?2, claimed_ms=?3 WHERE id=?1",
            )?
            .execute(params![id, consumer, i(now_ms)])?;
        if n == 0 {
            return Ok(None);
        }
        self.row(id)
    }

    fn stale(
        &mut self,
        ns: &str,
        queue: &str,
        _consumer: &str,
        idle: Duration,
        now_ms: u64,
    ) -> Result<Vec<String>, JobError> {
        let before = now_ms.saturating_sub(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX));
        let mut st = self.0.prepare_cached(
            "SELECT id FROM jobs WHERE namespace=?1 AND queue=?2 AND deliveries>0 AND claimed_ms<=?3 ORDER BY id LIMIT 100",
        )?;
        let rows = st.query_map(params![ns, queue, i(before)], |r| {
            Ok(r.get::<_, i64>(0)?.to_string())
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn ack(&mut self, _ns: &str, _queue: &str, id: &str) -> Result<bool, JobError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        let n = self
            .0
            .prepare_cached("DELETE FROM jobs WHERE id=?1")?
            .execute(params![id])?;
        Ok(n > 0)
    }

    fn dead_letter(
        &mut self,
        ns: &str,
        queue: &str,
        job: &Job,
        now_ms: u64,
    ) -> Result<(), JobError> {
        self.0
            .prepare_cached(
                "INSERT INTO dead_jobs(namespace, queue, id, event, data, sender, created_ms, deliveries, dead_ms)
                 VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            )?
            .execute(params![
                ns,
                queue,
                job.id.parse::<i64>().unwrap_or(0),
                job.event,
                job.data,
                job.sender,
                i(job.created_ms),
                i(job.deliveries),
                i(now_ms)
            ])?;
        self.ack(ns, queue, &job.id)?;
        Ok(())
    }

    fn summary(&mut self) -> Result<Vec<QueueSummary>, JobError> {
        let mut map: std::collections::BTreeMap<(String, String), QueueSummary> =
            Default::default();
        let mut st = self
            .0
            .prepare("SELECT namespace, queue FROM work_queues ORDER BY 1,2")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (ns, q) = row?;
            summary_entry(&mut map, ns, q);
        }
        let mut st = self.0.prepare(
            "SELECT namespace, queue, SUM(deliveries=0), SUM(deliveries>0) FROM jobs GROUP BY 1,2",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                u(r.get(2)?),
                u(r.get(3)?),
            ))
        })?;
        for row in rows {
            let (ns, q, ready, pending) = row?;
            let e = summary_entry(&mut map, ns, q);
            e.ready = ready;
            e.pending = pending;
        }
        let mut st = self.0.prepare(
            "SELECT namespace, queue, id, event, data, deliveries FROM dead_jobs ORDER BY dead_ms, id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                DeadLetter {
                    id: r.get::<_, i64>(2)?.to_string(),
                    event: r.get(3)?,
                    data: r.get(4)?,
                    deliveries: u(r.get(5)?),
                },
            ))
        })?;
        for row in rows {
            let (ns, q, d) = row?;
            let e = summary_entry(&mut map, ns, q);
            e.dead += 1;
            e.dead_letters.push(d);
        }
        Ok(map.into_values().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_jobs_deliver_once_count_and_dead_letter() {
        let conn = Connection::open_in_memory().unwrap();
        SqliteJobs::create(&conn).unwrap();
        let mut js = SqliteJobs(&conn);
        let a = js.add("/", "q", "e", "1", "s", 10).unwrap();
        let b = js.add("/", "q", "e", "2", "s", 11).unwrap();
        let j = js.next_new("/", "q", "w1", 20).unwrap().unwrap();
        assert_eq!((j.id.clone(), j.deliveries), (a.clone(), 1));
        let j2 = js.next_new("/", "q", "w2", 20).unwrap().unwrap();
        assert_eq!(j2.id, b);
        assert_eq!(js.next_new("/", "q", "w1", 20).unwrap(), None);
        assert_eq!(
            js.stale("/", "q", "w1", Duration::from_millis(5), 30)
                .unwrap(),
            vec![a.clone(), b.clone()]
        );
        let again = js.claim("/", "q", &a, "w2", 40).unwrap().unwrap();
        assert_eq!(again.deliveries, 2);
        assert!(js.ack("/", "q", &b).unwrap());
        assert!(!js.ack("/", "q", &b).unwrap());
        js.dead_letter("/", "q", &again, 50).unwrap();
        let s = js.summary().unwrap();
        assert_eq!((s[0].ready, s[0].pending, s[0].dead), (0, 0, 1));
        assert_eq!(s[0].dead_letters[0].id, a);
    }
}
