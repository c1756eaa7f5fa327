//! Group commit for SQLite's single writer. Every commit in WAL mode with `synchronous=FULL` is
//! an fsync, and with one commit per ticket or chat message the fsync, not the work, set the
//! ceiling (~725 tickets/s here). Writes sent here while another batch is committing queue up and
//! are committed together: one transaction, one fsync, each write in its own savepoint so one
//! write's failure (a rule, a constraint) rolls back that write alone. Nobody hears "done" until
//! the batch's COMMIT has returned, so an acknowledged write is still on disk first.

use futures_util::future::BoxFuture;
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{StoreError, StoreResult};

/// Writes committed together at most.
const MAX_BATCH: usize = 64;

/// Tells one write's caller how its batch ended (`Ok` once committed).
type Finish = Box<dyn FnOnce(StoreResult<()>) + Send>;
/// One write: runs its statements on the batch's transaction and says whether they succeeded.
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Finish)> + Send>;

#[derive(Clone)]
pub struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer task on `pool` (the single writer connection).
    pub fn start(pool: SqlitePool) -> GroupCommit {
        let (jobs, mut queue) = mpsc::channel::<Job>(1024);
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                commit_batch(&pool, batch).await;
            }
        });
        GroupCommit { jobs }
    }

    /// Runs `write` in the next batch and returns its result once the batch is committed.
    pub async fn write<T, F>(&self, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, StoreResult<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |connection| {
            Box::pin(async move {
                let result = write(connection).await;
                let ok = result.is_ok();
                let finish: Finish = Box::new(move |committed| {
                    let _ = reply.send(committed.and(result));
                });
                (ok, finish)
            })
        });
        let stopped = || StoreError::Unavailable("the database writer is not running".into());
        self.jobs.send(job).await.map_err(|_| stopped())?;
        // A dropped reply means the batch never ran (its transaction could not even start).
        answer.await.map_err(|_| StoreError::Unavailable("the database did not accept the write".into()))?
    }
}

async fn commit_batch(pool: &SqlitePool, batch: Vec<Job>) {
    let mut transaction = match pool.begin().await {
        Ok(transaction) => transaction,
        Err(error) => {
            tracing::warn!(%error, writes = batch.len(), "cannot start a write transaction");
            return; // dropping the jobs tells their callers
        }
    };
    let mut finishes = Vec::with_capacity(batch.len());
    let mut broken: Option<sqlx::Error> = None;
    // Alone in its batch (a quiet moment), a write needs no savepoint: on failure the whole
    // transaction is rolled back instead, saving two statements on the latency-sensitive path.
    let alone = batch.len() == 1;
    let mut failed_alone = false;
    for job in batch {
        if !alone {
            if let Err(error) = sqlx::query("SAVEPOINT write").execute(&mut *transaction).await {
                broken = Some(error);
                break;
            }
        }
        let (ok, finish) = job(&mut transaction).await;
        finishes.push(finish);
        if alone {
            failed_alone = !ok;
            break;
        }
        let closing: &[&str] = if ok { &["RELEASE write"] } else { &["ROLLBACK TO write", "RELEASE write"] };
        for statement in closing {
            if let Err(error) = sqlx::query(statement).execute(&mut *transaction).await {
                broken = Some(error);
            }
        }
        if broken.is_some() {
            break;
        }
    }
    let outcome = match broken {
        Some(error) => Err(error),
        // Its own error goes back to the caller; nothing of it may stay.
        None if failed_alone => transaction.rollback().await,
        None => transaction.commit().await,
    };
    match outcome {
        Ok(()) => finishes.into_iter().for_each(|finish| finish(Ok(()))),
        Err(error) => {
            tracing::warn!(%error, "a write batch was rolled back");
            let message = error.to_string();
            for finish in finishes {
                finish(Err(StoreError::Unavailable(message.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_rolls_back_alone_and_the_rest_commit() {
        let dir = std::env::temp_dir().join(format!("alphintra-group-commit-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.join("test.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
        sqlx::query("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)").execute(&pool).await.unwrap();
        let writer = GroupCommit::start(pool.clone());

        let tasks: Vec<_> = (0..40i64)
            .map(|i| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    writer
                        .write(move |connection| {
                            Box::pin(async move {
                                sqlx::query("INSERT INTO t (k, v) VALUES ($1, 'first')")
                                    .bind(i)
                                    .execute(&mut *connection)
                                    .await?;
                                if i % 5 == 0 {
                                    // Fails after a successful statement: the whole write must go.
                                    sqlx::query("INSERT INTO t (k, v) VALUES ($1, 'again')")
                                        .bind(i)
                                        .execute(&mut *connection)
                                        .await?;
                                }
                                Ok(i)
                            })
                        })
                        .await
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            let result = task.await.unwrap();
            if i % 5 == 0 {
                assert!(matches!(result, Err(StoreError::Duplicate(_))), "write {i}: {result:?}");
            } else {
                assert_eq!(result.unwrap(), i as i64);
            }
        }
        let stored: Vec<i64> = sqlx::query_scalar("SELECT k FROM t ORDER BY k").fetch_all(&pool).await.unwrap();
        assert_eq!(stored, (0..40).filter(|i| i % 5 != 0).collect::<Vec<i64>>());

        // Alone in its batch, a failing write is rolled back without a savepoint.
        let alone = writer
            .write(|connection| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO t (k, v) VALUES (100, 'first')").execute(&mut *connection).await?;
                    sqlx::query("INSERT INTO t (k, v) VALUES (1, 'taken')").execute(&mut *connection).await?;
                    Ok(())
                })
            })
            .await;
        assert!(matches!(alone, Err(StoreError::Duplicate(_))), "{alone:?}");
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t WHERE k = 100").fetch_one(&pool).await.unwrap();
        assert_eq!(count, 0, "nothing of the failed write stays");
        pool.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
