//! The bounded in-memory sending queue: producers (the pipeline) push, `num_consumers`
//! workers pop. Closing it refuses new data and lets the workers drain what is left.

use super::config::Sizer;
use crate::otlp::Batch;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

struct State {
    items: VecDeque<Batch>,
    size: usize,
    closed: bool,
}

/// The queue.
pub struct Queue {
    state: Mutex<State>,
    capacity: usize,
    sizer: Sizer,
    /// Wakes workers when data arrives or the queue closes.
    data: Notify,
    /// Wakes blocked producers when room frees up.
    room: Notify,
}

/// Why a push failed.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// Full and not blocking.
    Full,
    /// Closed for shutdown.
    Closed,
}

impl Queue {
    /// A queue holding up to `capacity` units of `sizer`.
    pub fn new(capacity: usize, sizer: Sizer) -> Self {
        Self {
            state: Mutex::new(State {
                items: VecDeque::new(),
                size: 0,
                closed: false,
            }),
            capacity,
            sizer,
            data: Notify::new(),
            room: Notify::new(),
        }
    }

    fn size_of(&self, b: &Batch) -> usize {
        match self.sizer {
            Sizer::Requests => 1,
            // A batch larger than the whole queue still goes in when the queue is empty.
            Sizer::Items => b.items().clamp(1, self.capacity),
            Sizer::Bytes => b.len_bytes().clamp(1, self.capacity),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Current size in units of the sizer.
    pub fn size(&self) -> usize {
        self.lock().size
    }

    /// Capacity in units of the sizer.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn try_push(&self, b: Batch) -> Result<(), (PushError, Batch)> {
        let sz = self.size_of(&b);
        let mut st = self.lock();
        if st.closed {
            return Err((PushError::Closed, b));
        }
        if st.size + sz > self.capacity {
            return Err((PushError::Full, b));
        }
        st.size += sz;
        st.items.push_back(b);
        drop(st);
        self.data.notify_one();
        Ok(())
    }

    /// Adds `b`; when full, waits for room if `block`, else refuses.
    pub async fn push(&self, mut b: Batch, block: bool) -> Result<(), PushError> {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_push(b) {
                Ok(()) => return Ok(()),
                Err((PushError::Full, back)) if block => {
                    b = back;
                    room.await;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// The next batch; `None` once closed and empty.
    pub async fn pop(&self) -> Option<Batch> {
        loop {
            let data = self.data.notified();
            tokio::pin!(data);
            data.as_mut().enable();
            {
                let mut st = self.lock();
                if let Some(b) = st.items.pop_front() {
                    st.size = st.size.saturating_sub(self.size_of(&b));
                    let more = !st.items.is_empty();
                    drop(st);
                    self.room.notify_one();
                    if more {
                        self.data.notify_one();
                    }
                    return Some(b);
                }
                if st.closed {
                    return None;
                }
            }
            data.await;
        }
    }

    /// Refuses further pushes; workers drain what is left, then see `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.data.notify_waiters();
        self.room.notify_waiters();
    }

    /// Items (spans, points, records) still queued.
    pub fn queued_items(&self) -> usize {
        self.lock().items.iter().map(Batch::items).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::Signal;

    #[tokio::test]
    async fn bounded_fifo_that_drains_after_close() {
        let q = Queue::new(2, Sizer::Requests);
        q.push(Batch::empty(Signal::Traces), false).await.unwrap();
        q.push(Batch::empty(Signal::Logs), false).await.unwrap();
        assert_eq!(
            q.push(Batch::empty(Signal::Metrics), false).await,
            Err(PushError::Full)
        );
        q.close();
        assert_eq!(
            q.push(Batch::empty(Signal::Metrics), false).await,
            Err(PushError::Closed)
        );
        assert_eq!(q.pop().await.unwrap().signal(), Signal::Traces);
        assert_eq!(q.pop().await.unwrap().signal(), Signal::Logs);
        assert!(q.pop().await.is_none());
    }

    #[tokio::test]
    async fn a_blocked_producer_resumes_when_room_frees() {
        let q = std::sync::Arc::new(Queue::new(1, Sizer::Requests));
        q.push(Batch::empty(Signal::Traces), true).await.unwrap();
        let q2 = q.clone();
        let producer = tokio::spawn(async move { q2.push(Batch::empty(Signal::Logs), true).await });
        assert_eq!(q.pop().await.unwrap().signal(), Signal::Traces);
        producer.await.unwrap().unwrap();
        assert_eq!(q.pop().await.unwrap().signal(), Signal::Logs);
    }
}
