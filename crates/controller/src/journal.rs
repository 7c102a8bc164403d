//! The journal: every plan and every state change is written to SQLite, in one transaction,
//! before the controller acts on it. After a crash (`kill -9` included) the restarted controller
//! reads back what was in flight and reconciles it with the world instead of guessing.
//!
//! Behind a small trait so the store can change (PostgreSQL for a replicated pair) without
//! touching the loop. SQLite runs in WAL mode with `synchronous = FULL`: a committed change
//! survives power loss, and readers (a second process inspecting the file) never block the writer.

use crate::error::ControllerError;
use crate::plan::{Plan, PlanId, PlanState};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One recorded state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The plan.
    pub plan: PlanId,
    /// State before (`None` when the plan was created).
    pub from: Option<PlanState>,
    /// State after.
    pub to: PlanState,
    /// World time.
    pub at_s: f64,
    /// Why.
    pub detail: String,
}

/// Durable storage of plans and their state changes.
pub trait Journal: Send {
    /// Stores a new plan, numbering it (the number is written into `plan.id`).
    fn insert(&mut self, plan: &mut Plan) -> Result<(), ControllerError>;
    /// Stores `plan`'s new state (already set on it) and the change from `from`.
    fn transition(&mut self, plan: &Plan, from: PlanState) -> Result<(), ControllerError>;
    /// Plans not yet final, oldest first: what a restarted controller must take over.
    fn open_plans(&self) -> Result<Vec<Plan>, ControllerError>;
    /// The latest `limit` plans, newest first.
    fn recent(&self, limit: usize) -> Result<Vec<Plan>, ControllerError>;
    /// Every state change of one plan, in order.
    fn transitions(&self, plan: PlanId) -> Result<Vec<Transition>, ControllerError>;
    /// Starts a batch: the changes until [`Journal::commit`] are written in one transaction (one
    /// fsync for a whole decision round instead of one per change). Nothing of the batch may be
    /// acted upon before `commit` returns.
    fn begin(&mut self) -> Result<(), ControllerError>;
    /// Commits the batch.
    fn commit(&mut self) -> Result<(), ControllerError>;
    /// A persisted switch (the kill switch survives a restart).
    fn flag(&self, name: &str) -> Result<bool, ControllerError>;
    /// Sets a persisted switch.
    fn set_flag(&mut self, name: &str, on: bool) -> Result<(), ControllerError>;
    /// Deletes up to `limit` final plans (succeeded, failed, cancelled, superseded) with every
    /// state change before `before_s`, oldest first, and their changes; returns how many. Open
    /// plans are never touched: reconciliation after a crash needs them.
    fn prune(&mut self, before_s: f64, limit: usize) -> Result<usize, ControllerError>;
}

/// The SQLite journal.
pub struct SqliteJournal {
    path: PathBuf,
    db: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    vm TEXT NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS plans_state ON plans(state);
CREATE TABLE IF NOT EXISTS transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    plan INTEGER NOT NULL REFERENCES plans(id),
    from_state TEXT,
    to_state TEXT NOT NULL,
    at_s REAL NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_plan ON transitions(plan);
CREATE TABLE IF NOT EXISTS flags (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

impl SqliteJournal {
    /// Opens (or creates) the journal at `path`.
    pub fn open(path: &Path) -> Result<Self, ControllerError> {
        let err = |source| ControllerError::Journal {
            path: path.to_path_buf(),
            source,
        };
        let db = Connection::open(path).map_err(err)?;
        db.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        db.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        db.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
        db.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        db.execute_batch(SCHEMA).map_err(err)?;
        Ok(SqliteJournal {
            path: path.to_path_buf(),
            db,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> ControllerError {
        ControllerError::Journal {
            path: self.path.clone(),
            source,
        }
    }

    fn body(plan: &Plan) -> String {
        serde_json::to_string(plan).expect("a plan always serialises (plain data)")
    }

    /// Ends a single change: on error its own transaction is rolled back, so a failed write
    /// leaves nothing half-stored.
    fn finish(&self, own: bool, result: rusqlite::Result<()>) -> Result<(), ControllerError> {
        if let Err(e) = result {
            if own && !self.db.is_autocommit() {
                let _ = self.db.execute_batch("ROLLBACK");
            }
            return Err(self.err(e));
        }
        Ok(())
    }

    fn parse(&self, id: u64, body: &str) -> Result<Plan, ControllerError> {
        serde_json::from_str(body).map_err(|e| ControllerError::JournalRow {
            path: self.path.clone(),
            id,
            message: e.to_string(),
        })
    }

    fn plans(&self, sql: &str, arg: i64) -> Result<Vec<Plan>, ControllerError> {
        let mut stmt = self.db.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([arg], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body) = row.map_err(|e| self.err(e))?;
            out.push(self.parse(id as u64, &body)?);
        }
        Ok(out)
    }
}

impl Journal for SqliteJournal {
    fn insert(&mut self, plan: &mut Plan) -> Result<(), ControllerError> {
        let own = self.db.is_autocommit();
        let tx = &self.db;
        let result = (|| {
            if own {
                tx.execute_batch("BEGIN IMMEDIATE")?;
            }
            tx.execute(
                "INSERT INTO plans (vm, state, body) VALUES (?1, ?2, '')",
                params![plan.vm, plan.state.as_str()],
            )?;
            let id = tx.last_insert_rowid();
            plan.id = PlanId(id as u64);
            tx.execute(
                "UPDATE plans SET body = ?1 WHERE id = ?2",
                params![Self::body(plan), id],
            )?;
            tx.execute(
                "INSERT INTO transitions (plan, from_state, to_state, at_s, detail)
                 VALUES (?1, NULL, ?2, ?3, ?4)",
                params![id, plan.state.as_str(), plan.updated_s, plan.detail],
            )?;
            if own {
                tx.execute_batch("COMMIT")?;
            }
            Ok(())
        })();
        self.finish(own, result)
    }

    fn transition(&mut self, plan: &Plan, from: PlanState) -> Result<(), ControllerError> {
        let body = Self::body(plan);
        let own = self.db.is_autocommit();
        let tx = &self.db;
        let result = (|| {
            if own {
                tx.execute_batch("BEGIN IMMEDIATE")?;
            }
            tx.execute(
                "UPDATE plans SET state = ?1, body = ?2 WHERE id = ?3",
                params![plan.state.as_str(), body, plan.id.0 as i64],
            )?;
            tx.execute(
                "INSERT INTO transitions (plan, from_state, to_state, at_s, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    plan.id.0 as i64,
                    from.as_str(),
                    plan.state.as_str(),
                    plan.updated_s,
                    plan.detail
                ],
            )?;
            if own {
                tx.execute_batch("COMMIT")?;
            }
            Ok(())
        })();
        self.finish(own, result)
    }

    fn begin(&mut self) -> Result<(), ControllerError> {
        if self.db.is_autocommit() {
            self.db
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), ControllerError> {
        if !self.db.is_autocommit() {
            self.db.execute_batch("COMMIT").map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    fn open_plans(&self) -> Result<Vec<Plan>, ControllerError> {
        self.plans(
            "SELECT id, body FROM plans
             WHERE state IN ('recommended', 'approved', 'executing') AND id > ?1 ORDER BY id",
            0,
        )
    }

    fn recent(&self, limit: usize) -> Result<Vec<Plan>, ControllerError> {
        self.plans(
            "SELECT id, body FROM plans ORDER BY id DESC LIMIT ?1",
            limit.min(i64::MAX as usize) as i64,
        )
    }

    fn transitions(&self, plan: PlanId) -> Result<Vec<Transition>, ControllerError> {
        let mut stmt = self
            .db
            .prepare_cached(
                "SELECT from_state, to_state, at_s, detail FROM transitions
                 WHERE plan = ?1 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([plan.0 as i64], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (from, to, at_s, detail) = row.map_err(|e| self.err(e))?;
            let bad = |s: &str| ControllerError::JournalRow {
                path: self.path.clone(),
                id: plan.0,
                message: format!("unknown state {s:?}"),
            };
            out.push(Transition {
                plan,
                from: match from {
                    Some(f) => Some(PlanState::parse(&f).ok_or_else(|| bad(&f))?),
                    None => None,
                },
                to: PlanState::parse(&to).ok_or_else(|| bad(&to))?,
                at_s,
                detail,
            });
        }
        Ok(out)
    }

    fn flag(&self, name: &str) -> Result<bool, ControllerError> {
        self.db
            .query_row("SELECT value FROM flags WHERE name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map(|v| v.unwrap_or(0) != 0)
            .map_err(|e| self.err(e))
    }

    fn prune(&mut self, before_s: f64, limit: usize) -> Result<usize, ControllerError> {
        let own = self.db.is_autocommit();
        let db = &self.db;
        let mut pruned = 0;
        let result = (|| {
            if own {
                db.execute_batch("BEGIN IMMEDIATE")?;
            }
            db.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY);
                 DELETE FROM doomed;",
            )?;
            pruned = db.execute(
                "INSERT INTO doomed SELECT p.id FROM plans p
                 WHERE p.state IN ('succeeded', 'failed', 'cancelled', 'superseded')
                   AND NOT EXISTS (SELECT 1 FROM transitions t
                                   WHERE t.plan = p.id AND t.at_s >= ?1)
                 ORDER BY p.id LIMIT ?2",
                params![before_s, limit.min(i64::MAX as usize) as i64],
            )?;
            db.execute_batch(
                "DELETE FROM transitions WHERE plan IN (SELECT id FROM doomed);
                 DELETE FROM plans WHERE id IN (SELECT id FROM doomed);",
            )?;
            if own {
                db.execute_batch("COMMIT")?;
            }
            Ok(())
        })();
        self.finish(own, result)?;
        Ok(pruned)
    }

    fn set_flag(&mut self, name: &str, on: bool) -> Result<(), ControllerError> {
        self.db
            .execute(
                "INSERT INTO flags (name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                params![name, on as i64],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Reason;
    use promig_migrate::{Technique, TechniqueParams};

    fn plan() -> Plan {
        Plan {
            id: PlanId(0),
            vm: "vm-1".into(),
            source: "host-0".into(),
            destination: "host-3".into(),
            params: TechniqueParams::of(Technique::Precopy),
            technique: "precopy".into(),
            reason: Reason {
                cause: "hardware".into(),
                risk: 0.9,
                time_left_s: Some(600.0),
                predicted_total_s: 12.0,
                predicted_downtime_ms: 30.0,
                meets_constraints: true,
                rejected: Vec::new(),
                scored: None,
            },
            state: PlanState::Recommended,
            created_s: 10.0,
            updated_s: 10.0,
            detail: "proposed".into(),
            measured: None,
        }
    }

    #[test]
    fn pruning_removes_old_final_plans_only() {
        let dir = std::env::temp_dir().join(format!("promig-prune-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j.sqlite");
        let _ = std::fs::remove_file(&path);
        let mut j = SqliteJournal::open(&path).unwrap();
        // (created, final state and when, or still open)
        let cases = [
            (10.0, Some((PlanState::Succeeded, 20.0))), // old, final: pruned
            (11.0, Some((PlanState::Superseded, 30.0))), // old, final: pruned
            (12.0, None),                               // old but open: kept
            (13.0, Some((PlanState::Failed, 500.0))),   // finished after the cut: kept
            (600.0, Some((PlanState::Cancelled, 700.0))), // new: kept
        ];
        let mut ids = Vec::new();
        for (created, end) in cases {
            let mut p = plan();
            p.created_s = created;
            p.updated_s = created;
            j.insert(&mut p).unwrap();
            if let Some((state, at)) = end {
                p.state = state;
                p.updated_s = at;
                j.transition(&p, PlanState::Recommended).unwrap();
            }
            ids.push(p.id);
        }
        assert_eq!(j.prune(100.0, 1).unwrap(), 1, "at most the limit");
        assert_eq!(j.prune(100.0, 10).unwrap(), 1);
        assert_eq!(j.prune(100.0, 10).unwrap(), 0, "nothing left to prune");
        let left: Vec<PlanId> = j.recent(10).unwrap().iter().rev().map(|p| p.id).collect();
        assert_eq!(left, ids[2..]);
        assert!(j.transitions(ids[0]).unwrap().is_empty());
        assert_eq!(j.transitions(ids[3]).unwrap().len(), 2);
        assert_eq!(j.open_plans().unwrap().len(), 1);
    }

    #[test]
    fn plans_and_their_changes_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("promig-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j.sqlite");
        let _ = std::fs::remove_file(&path);
        let mut p = plan();
        {
            let mut j = SqliteJournal::open(&path).unwrap();
            j.insert(&mut p).unwrap();
            assert_eq!(p.id, PlanId(1));
            p.state = PlanState::Approved;
            p.updated_s = 11.0;
            j.transition(&p, PlanState::Recommended).unwrap();
            j.set_flag("kill_switch", true).unwrap();
        }
        let j = SqliteJournal::open(&path).unwrap();
        let open = j.open_plans().unwrap();
        assert_eq!(open, vec![p.clone()]);
        let t = j.transitions(p.id).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].from, t[0].to), (None, PlanState::Recommended));
        assert_eq!(
            (t[1].from, t[1].to),
            (Some(PlanState::Recommended), PlanState::Approved)
        );
        assert!(j.flag("kill_switch").unwrap());
        assert!(!j.flag("other").unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
