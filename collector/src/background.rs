//! A component's background task (a batcher's timer, a memory check, a decision tick): started
//! once, and at shutdown told to stop and waited for, so that nothing it holds is lost.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// When a periodic task ([`Background::every`]) first calls its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstCall {
    /// At once (a memory check, a decision tick: the state is wanted from the start).
    Now,
    /// One period in (a refresh that the component already did while starting).
    AfterPeriod,
}

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

    /// Starts a task that awaits `step` every `period` until it is stopped, or until `step`
    /// answers `false` (what it works on is gone). A step that runs late delays the next one
    /// rather than bunching the missed ones; a stop waits for a running step to finish.
    pub fn every<F, Fut>(&self, period: Duration, first: FirstCall, mut step: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = bool> + Send,
    {
        self.start(move |stop| async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            if first == FirstCall::AfterPeriod {
                // An interval's first tick is at once.
                tick.tick().await;
            }
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if !step().await {
                    return;
                }
            }
        });
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
        self.task.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

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

    /// Steps counted at each virtual instant, until a stop or the step's own `false`.
    #[tokio::test(start_paused = true)]
    async fn every_steps_on_time_and_ends_on_stop_or_false() {
        let period = Duration::from_millis(100);
        // (first call, the step answers false after this many, stop after, steps expected)
        for (first, until, stop_after_ms, want) in [
            (FirstCall::Now, u32::MAX, 250, 3),
            (FirstCall::AfterPeriod, u32::MAX, 250, 2),
            (FirstCall::Now, 2, 1_000, 2),
            (FirstCall::AfterPeriod, u32::MAX, 50, 0),
        ] {
            let steps = Arc::new(AtomicU32::new(0));
            let bg = Background::default();
            bg.every(period, first, {
                let steps = steps.clone();
                move || {
                    let n = steps.fetch_add(1, Ordering::SeqCst) + 1;
                    async move { n < until }
                }
            });
            tokio::time::sleep(Duration::from_millis(stop_after_ms)).await;
            let counted = steps.load(Ordering::SeqCst);
            assert!(bg.stop().await, "{first:?} {until} {stop_after_ms}");
            assert_eq!(counted, want, "{first:?} {until} {stop_after_ms}");
            assert_eq!(steps.load(Ordering::SeqCst), want, "a step after the stop");
        }
    }
}
