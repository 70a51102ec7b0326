//! A component's background task (a batcher's timer, a memory check, a decision tick): started
//! once, and at shutdown told to stop and waited for, so that nothing it holds is lost.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A background task and the token that stops it.
#[derive(Debug, Default)]
pub struct Background {
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Background {
    /// Spawns `run`, which must return soon after the token it is given is cancelled.
    pub fn spawn<F, Fut>(run: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let bg = Self::default();
        bg.start(run);
        bg
    }

    /// Spawns `run` on a `Background` made before its owner (a task that holds a weak
    /// reference to the component that owns it). A task started earlier is stopped without
    /// being waited for.
    pub fn start<F, Fut>(&self, run: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let task = tokio::spawn(run(self.stop.clone()));
        if let Some(old) = self.slot().replace(task) {
            old.abort();
        }
    }

    /// Cancels the task and waits for it to end. `false` when there was none to wait for: never
    /// started, or already stopped (a second shutdown).
    pub async fn stop(&self) -> bool {
        self.stop.cancel();
        let task = self.slot().take();
        match task {
            Some(t) => {
                // A task that panicked has nothing left to finish.
                let _ = t.await;
                true
            }
            None => false,
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
        self.task.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn stop_cancels_and_waits_for_the_task_once() {
        let finished = Arc::new(AtomicBool::new(false));
        let bg = Background::spawn({
            let finished = finished.clone();
            |stop| async move {
                stop.cancelled().await;
                tokio::task::yield_now().await;
                finished.store(true, Ordering::SeqCst);
            }
        });
        assert!(bg.stop().await);
        assert!(
            finished.load(Ordering::SeqCst),
            "stop returned before the task ended"
        );
        assert!(!bg.stop().await, "a second stop has nothing to wait for");
        assert!(!Background::default().stop().await);
    }
}
