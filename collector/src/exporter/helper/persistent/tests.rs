use super::*;
use crate::telemetry::Telemetry;
use crate::testutil::{span_numbers, traces};

struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "meshtrace-pq-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        Self(p)
    }
    fn segments(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.0)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "seg"))
            .collect();
        v.sort();
        v
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Counters {
    corrupt: Arc<Counter>,
    truncated: Arc<Counter>,
}

fn open_with(
    d: &Dir,
    capacity: usize,
    segment_bytes: u64,
) -> (Arc<PersistentQueue>, Recovery, Counters) {
    let t = Telemetry::new("t", "i");
    let c = Counters {
        corrupt: t.counter("c", "", &[]),
        truncated: t.counter("t", "", &[]),
    };
    let (q, r) = PersistentQueue::open(Options {
        dir: d.0.clone(),
        fsync: true,
        lock_timeout: Duration::from_millis(100),
        capacity,
        sizer: Sizer::Requests,
        signal: Signal::Traces,
        label: "exporters::test".into(),
        corrupt: c.corrupt.clone(),
        truncated: c.truncated.clone(),
        segment_bytes,
    })
    .unwrap();
    (q, r, c)
}

fn open(d: &Dir) -> (Arc<PersistentQueue>, Recovery, Counters) {
    open_with(d, 100, SEGMENT_TARGET_BYTES)
}

fn close(q: Arc<PersistentQueue>) {
    q.close();
    q.stop_writer();
}

#[tokio::test]
async fn undelivered_records_survive_a_restart_and_delivered_ones_do_not() {
    let d = Dir::new();
    let (q, r, _) = open(&d);
    assert_eq!(r, Recovery::default());
    for i in 0..4 {
        q.push(traces(i * 10, 2), false).await.unwrap();
    }
    assert_eq!((q.size(), q.queued_items()), (4, 8));
    let a = q.pop().await.unwrap();
    let b = q.pop().await.unwrap();
    assert_eq!(span_numbers(&a.batch), [0, 1]);
    assert_eq!(span_numbers(&b.batch), [10, 11]);
    // b is delivered, a is still in flight when the process stops: the saved watermark is
    // below a, so b is sent again after the restart (at-least-once), as are c and d.
    q.done(b.seq);
    close(q);

    let (q, r, c) = open(&d);
    assert_eq!(
        r,
        Recovery {
            records: 4,
            items: 8,
            corrupt: 0,
            truncated: 0
        }
    );
    assert_eq!((c.corrupt.get(), c.truncated.get()), (0, 0));
    let mut got = Vec::new();
    for _ in 0..4 {
        let p = q.pop().await.unwrap();
        got.extend(span_numbers(&p.batch));
        q.done(p.seq);
    }
    assert_eq!(got, [0, 1, 10, 11, 20, 21, 30, 31]);
    // New records continue the sequence after the recovered ones.
    q.push(traces(40, 1), false).await.unwrap();
    close(q);
    let (q, r, _) = open(&d);
    assert_eq!(r.records, 1);
    assert_eq!(span_numbers(&q.pop().await.unwrap().batch), [40]);
    close(q);
}

#[tokio::test]
async fn a_corrupt_record_is_counted_and_the_others_kept() {
    let d = Dir::new();
    let (q, _, _) = open(&d);
    for i in 0..3 {
        q.push(traces(i * 10, 1), false).await.unwrap();
    }
    close(q);
    let seg = d.segments().pop().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let second = bytes.len() / 3 + 30; // inside the second record's payload
    bytes[second] ^= 0xff;
    std::fs::write(&seg, &bytes).unwrap();

    let (q, r, c) = open(&d);
    assert_eq!((r.records, r.corrupt, r.truncated), (2, 1, 0));
    assert_eq!(c.corrupt.get(), 1);
    let a = q.pop().await.unwrap();
    let b = q.pop().await.unwrap();
    assert_eq!(
        [span_numbers(&a.batch), span_numbers(&b.batch)],
        [[0], [20]]
    );
    close(q);
}

#[tokio::test]
async fn a_torn_tail_is_counted_as_truncated() {
    let d = Dir::new();
    let (q, _, _) = open(&d);
    q.push(traces(0, 1), false).await.unwrap();
    q.push(traces(1, 1), false).await.unwrap();
    close(q);
    let seg = d.segments().pop().unwrap();
    let bytes = std::fs::read(&seg).unwrap();
    std::fs::write(&seg, &bytes[..bytes.len() - 7]).unwrap();
    let (q, r, c) = open(&d);
    assert_eq!((r.records, r.corrupt, r.truncated), (1, 0, 1));
    assert_eq!(c.truncated.get(), 1);
    assert_eq!(span_numbers(&q.pop().await.unwrap().batch), [0]);
    close(q);
    // Garbage files and a corrupt ack file do not stop the queue from opening.
    std::fs::write(d.0.join("ack"), b"nonsense").unwrap();
    std::fs::write(d.0.join("00000000000000000099.seg"), b"\0\0\0garbage").unwrap();
    let (q, r, _) = open(&d);
    assert_eq!((r.records, r.corrupt), (1, 1));
    close(q);
}

#[tokio::test]
async fn full_queue_refuses_and_a_blocked_push_resumes() {
    let d = Dir::new();
    let (q, _, _) = open_with(&d, 2, SEGMENT_TARGET_BYTES);
    q.push(traces(0, 1), false).await.unwrap();
    q.push(traces(1, 1), false).await.unwrap();
    assert_eq!(q.push(traces(2, 1), false).await, Err(PushError::Full));
    // Handed out but not done still counts: the disk holds it.
    let p = q.pop().await.unwrap();
    assert_eq!(q.push(traces(2, 1), false).await, Err(PushError::Full));
    let q2 = q.clone();
    let blocked = tokio::spawn(async move { q2.push(traces(3, 1), true).await });
    tokio::task::yield_now().await;
    q.done(p.seq);
    blocked.await.unwrap().unwrap();
    q.close();
    assert_eq!(q.push(traces(4, 1), false).await, Err(PushError::Closed));
    assert!(
        q.pop().await.is_none(),
        "closed: nothing more is handed out"
    );
    q.stop_writer();
}

#[tokio::test]
async fn finished_segments_are_deleted() {
    let d = Dir::new();
    // Tiny segments: every write starts a new one.
    let (q, _, _) = open_with(&d, 100, 1);
    for i in 0..5 {
        q.push(traces(i, 1), false).await.unwrap();
    }
    assert_eq!(d.segments().len(), 5);
    for _ in 0..4 {
        let p = q.pop().await.unwrap();
        q.done(p.seq);
    }
    close(q);
    // The last segment still holds an undelivered record.
    assert_eq!(d.segments().len(), 1);
    let (q, r, _) = open(&d);
    assert_eq!(r.records, 1);
    let p = q.pop().await.unwrap();
    assert_eq!(span_numbers(&p.batch), [4]);
    q.done(p.seq);
    close(q);
    let (q, r, _) = open(&d);
    assert_eq!(r.records, 0);
    close(q);
    assert!(d.segments().len() <= 1);
}

#[tokio::test]
async fn a_directory_is_used_by_one_collector_at_a_time() {
    let d = Dir::new();
    let (q, _, _) = open(&d);
    let t = Telemetry::new("t", "i");
    let err = PersistentQueue::open(Options {
        dir: d.0.clone(),
        fsync: false,
        lock_timeout: Duration::from_millis(50),
        capacity: 1,
        sizer: Sizer::Requests,
        signal: Signal::Traces,
        label: "x".into(),
        corrupt: t.counter("c", "", &[]),
        truncated: t.counter("t", "", &[]),
        segment_bytes: 1,
    })
    .err()
    .unwrap();
    assert!(err.contains("locked by another process"), "{err}");
    close(q);
}
