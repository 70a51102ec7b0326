//! The persistent sending queue (`sending_queue.storage: file_storage/NAME`): batches are
//! written to an append-only log of CRC-framed records ([`mod@format`]) before the client is
//! answered, and delivered from there by the exporter's workers.
//!
//! Files, in one directory per exporter and signal:
//! - `NNNNNNNNNNNNNNNNNNNN.seg`: segments, named after their first sequence number; appended
//!   to by one writer thread, never rewritten. A new one starts at every start-up and when
//!   the current one passes its size target.
//! - `ack`: the low watermark, replaced atomically (write a temporary file, rename): every
//!   record below it is done (delivered, or dropped after a permanent error).
//! - `lock`: held (`flock`) while a collector uses the directory.
//!
//! Crash safety:
//! - `push` returns (and the receiver answers the client) only after the record's bytes are
//!   in the file — and on disk (`fdatasync`) when `fsync` is on. A process crash (`kill -9`)
//!   cannot lose what the kernel has; with `fsync` the data also survives a machine crash.
//!   Records are group-committed: one write and one sync for every push waiting at that moment.
//! - The watermark is written after delivery, so a crash between the two sends a record
//!   twice, never zero times (at-least-once). A stale or missing ack file only causes
//!   duplicates; a segment is deleted only after the watermark past its last record is saved.
//! - At start every segment is scanned: intact records at or above the watermark are queued
//!   again; corrupt regions and truncated tails are skipped, counted and logged, and the
//!   collector starts anyway.

pub mod format;

use super::config::Sizer;
use crate::otlp::{Batch, Limits, Signal};
use crate::telemetry::Counter;
use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, oneshot};

/// Where a segment rolls over to the next one.
pub const SEGMENT_TARGET_BYTES: u64 = 16 << 20;

/// How the queue is set up.
pub struct Options {
    /// Its own directory (created if missing).
    pub dir: PathBuf,
    /// `fdatasync` every write before acknowledging it.
    pub fsync: bool,
    /// How long to wait for another process's lock on the directory.
    pub lock_timeout: Duration,
    /// Capacity in `sizer` units (records, items or bytes) not yet delivered.
    pub capacity: usize,
    /// How records are counted against the capacity.
    pub sizer: Sizer,
    /// The only signal this queue holds.
    pub signal: Signal,
    /// `exporters::otlp_grpc/x`, for logs.
    pub label: String,
    /// Counts corrupt records (found at start or when reading one back).
    pub corrupt: Arc<Counter>,
    /// Counts incomplete records at the end of a segment, found at start.
    pub truncated: Arc<Counter>,
    /// Segment size target (tests use small ones).
    pub segment_bytes: u64,
}

/// What start-up found on disk.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Records queued again.
    pub records: usize,
    /// Their items.
    pub items: usize,
    /// Corrupt regions skipped (each may have held one or more records).
    pub corrupt: usize,
    /// Incomplete records at the end of a segment (never acknowledged).
    pub truncated: usize,
}

/// Why a push failed.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// Full and not blocking.
    Full,
    /// Closed for shutdown.
    Closed,
    /// The disk refused the write.
    Io(String),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    seq: u64,
    /// Key of its segment.
    segment: u64,
    offset: u64,
    frame_len: usize,
    items: usize,
    units: usize,
}

struct Segment {
    path: PathBuf,
    file: Arc<File>,
    last_seq: Option<u64>,
}

struct State {
    /// Written, waiting for a worker.
    pending: VecDeque<Entry>,
    /// Handed to a worker, not done yet.
    in_flight: BTreeMap<u64, Entry>,
    /// Units reserved or held (pending + in flight + being written).
    size: usize,
    closed: bool,
    segments: BTreeMap<u64, Segment>,
    /// The sequence number the next write gets.
    next_seq: u64,
}

impl State {
    fn watermark(&self) -> u64 {
        let mut w = self.next_seq;
        if let Some(e) = self.pending.front() {
            w = w.min(e.seq);
        }
        if let Some((s, _)) = self.in_flight.first_key_value() {
            w = w.min(*s);
        }
        w
    }
}

/// The writer's answer to one append.
type Reply = oneshot::Sender<Result<(), String>>;

enum Msg {
    Append {
        batch: Batch,
        units: usize,
        reply: Reply,
    },
    /// The watermark may have moved: save it and delete finished segments.
    Acked,
}

/// A batch handed to a worker; report it with [`PersistentQueue::done`].
pub struct Popped {
    /// The data.
    pub batch: Batch,
    /// Its record.
    pub seq: u64,
}

/// The queue.
pub struct PersistentQueue {
    state: Mutex<State>,
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    data: Notify,
    room: Notify,
    capacity: usize,
    sizer: Sizer,
    signal: Signal,
    label: String,
    corrupt: Arc<Counter>,
    _lock: File,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("{what} {}: {e}", path.display())
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.seg")
}

/// Accepts everything `validate` accepts structurally: the limits were applied on the way in.
fn no_limits() -> Limits {
    Limits {
        max_attributes: usize::MAX,
        max_value_bytes: usize::MAX,
        max_depth: 64,
    }
}

fn units_of(sizer: Sizer, items: usize, bytes: usize) -> usize {
    match sizer {
        Sizer::Requests => 1,
        Sizer::Items => items.max(1),
        Sizer::Bytes => bytes.max(1),
    }
}

fn lock_dir(dir: &Path, timeout: Duration) -> Result<File, String> {
    let path = dir.join("lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_err("cannot open", &path, e))?;
    let t0 = Instant::now();
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(std::fs::TryLockError::WouldBlock) if t0.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(format!(
                    "{} is locked by another process (another collector using the same directory?)",
                    dir.display()
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err("cannot lock", &path, e)),
        }
    }
}

struct Recovered {
    pending: VecDeque<Entry>,
    segments: BTreeMap<u64, Segment>,
    next_seq: u64,
    report: Recovery,
}

/// Reads every segment back (see the module doc).
fn recover(o: &Options) -> Result<Recovered, String> {
    let ack_path = o.dir.join("ack");
    let watermark = match std::fs::read(&ack_path) {
        Ok(b) => format::decode_ack(&b).unwrap_or_else(|| {
            tracing::warn!(component = %o.label, path = %ack_path.display(), "the persistent queue's ack file is corrupt; records already delivered may be sent again");
            0
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(io_err("cannot read", &ack_path, e)),
    };
    let mut names: Vec<(u64, PathBuf)> = Vec::new();
    let rd = std::fs::read_dir(&o.dir).map_err(|e| io_err("cannot list", &o.dir, e))?;
    for ent in rd.flatten() {
        let name = ent.file_name().to_string_lossy().into_owned();
        if let Some(first) = name
            .strip_suffix(".seg")
            .and_then(|n| n.parse::<u64>().ok())
        {
            names.push((first, ent.path()));
        }
    }
    names.sort();
    let mut r = Recovered {
        pending: VecDeque::new(),
        segments: BTreeMap::new(),
        next_seq: watermark,
        report: Recovery::default(),
    };
    let limits = no_limits();
    let mut last_seen: Option<u64> = None;
    for (key, path) in names {
        let bytes = std::fs::read(&path).map_err(|e| io_err("cannot read", &path, e))?;
        let mut live = false;
        let mut seg_last = None;
        for e in format::scan(&bytes) {
            match e {
                format::Entry::Record(rec) => {
                    let ordered = last_seen.is_none_or(|l| rec.seq > l);
                    let items = (rec.signal == o.signal && ordered)
                        .then(|| crate::otlp::validate(o.signal, rec.payload, &limits).ok())
                        .flatten();
                    let Some(items) = items else {
                        o.corrupt.add(1);
                        r.report.corrupt += 1;
                        tracing::error!(component = %o.label, segment = %path.display(), offset = rec.offset, seq = rec.seq, "persistent queue: skipping a record that is intact but invalid (wrong signal, out of order or not OTLP)");
                        continue;
                    };
                    last_seen = Some(rec.seq);
                    seg_last = Some(rec.seq);
                    if rec.seq < watermark {
                        continue;
                    }
                    live = true;
                    r.report.records += 1;
                    r.report.items += items;
                    r.pending.push_back(Entry {
                        seq: rec.seq,
                        segment: key,
                        offset: rec.offset as u64,
                        frame_len: rec.frame_len(),
                        items,
                        units: units_of(o.sizer, items, rec.payload.len()),
                    });
                }
                format::Entry::Corrupt { offset, len } => {
                    o.corrupt.add(1);
                    r.report.corrupt += 1;
                    tracing::error!(component = %o.label, segment = %path.display(), offset, bytes = len, "persistent queue: skipping corrupt data; the records in it are lost");
                }
                format::Entry::Truncated { offset, len } => {
                    o.truncated.add(1);
                    r.report.truncated += 1;
                    tracing::warn!(component = %o.label, segment = %path.display(), offset, bytes = len, "persistent queue: skipping an incomplete record at the end of a segment (a write cut short by a crash; it was never acknowledged)");
                }
            }
        }
        if let Some(l) = last_seen {
            r.next_seq = r.next_seq.max(l.saturating_add(1));
        }
        if live {
            let file = File::open(&path).map_err(|e| io_err("cannot open", &path, e))?;
            r.segments.insert(
                key,
                Segment {
                    path,
                    file: Arc::new(file),
                    last_seq: seg_last,
                },
            );
        } else {
            std::fs::remove_file(&path).map_err(|e| io_err("cannot remove", &path, e))?;
        }
    }
    Ok(r)
}

/// The writer thread's own state.
struct Writer {
    queue: std::sync::Weak<PersistentQueue>,
    dir: PathBuf,
    fsync: bool,
    segment_bytes: u64,
    /// Key and file of the segment being appended to, and its length.
    current: Option<(u64, Arc<File>, u64)>,
    saved_watermark: u64,
    label: String,
}

impl Writer {
    fn new_segment(&mut self, q: &PersistentQueue, first_seq: u64) -> Result<(), String> {
        if let Some((_, f, _)) = &self.current
            && self.fsync
        {
            f.sync_data()
                .map_err(|e| format!("cannot sync a segment: {e}"))?;
        }
        let path = self.dir.join(segment_name(first_seq));
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_err("cannot create", &path, e))?;
        if self.fsync {
            sync_dir(&self.dir);
        }
        let file = Arc::new(file);
        q.lock().segments.insert(
            first_seq,
            Segment {
                path,
                file: file.clone(),
                last_seq: None,
            },
        );
        self.current = Some((first_seq, file, 0));
        Ok(())
    }

    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        let mut buf = Vec::new();
        while let Ok(first) = rx.recv() {
            let Some(q) = self.queue.upgrade() else {
                return;
            };
            let mut appends = Vec::new();
            let mut acked = false;
            let mut next = Some(first);
            let mut bytes = 0usize;
            while let Some(m) = next.take() {
                match m {
                    Msg::Append {
                        batch,
                        units,
                        reply,
                    } => {
                        bytes += batch.len_bytes();
                        appends.push((batch, units, reply));
                    }
                    Msg::Acked => acked = true,
                }
                // Group commit: take everything already waiting, up to a few MiB.
                if bytes < (8 << 20) {
                    next = rx.try_recv().ok();
                }
            }
            if !appends.is_empty() {
                self.append(&q, appends, &mut buf);
            }
            if acked {
                self.save_watermark(&q);
            }
        }
    }

    fn append(
        &mut self,
        q: &PersistentQueue,
        appends: Vec<(Batch, usize, Reply)>,
        buf: &mut Vec<u8>,
    ) {
        let first_seq = q.lock().next_seq;
        let rotate = match &self.current {
            None => true,
            Some((_, _, len)) => *len >= self.segment_bytes,
        };
        let mut result = if rotate {
            self.new_segment(q, first_seq)
        } else {
            Ok(())
        };
        buf.clear();
        let mut entries = Vec::with_capacity(appends.len());
        if let (Ok(()), Some((key, file, len))) = (&result, &mut self.current) {
            for (i, (batch, units, _)) in appends.iter().enumerate() {
                let seq = first_seq + i as u64;
                let offset = *len + buf.len() as u64;
                format::encode_record(buf, seq, q.signal, batch.bytes());
                entries.push(Entry {
                    seq,
                    segment: *key,
                    offset,
                    frame_len: format::HEADER_LEN + batch.len_bytes(),
                    items: batch.items(),
                    units: *units,
                });
            }
            let mut f: &File = file;
            result = f
                .write_all(buf)
                .and_then(|()| if self.fsync { file.sync_data() } else { Ok(()) })
                .map_err(|e| format!("cannot write to the persistent queue: {e}"));
            if result.is_ok() {
                *len += buf.len() as u64;
            }
        }
        if let Err(e) = &result {
            tracing::error!(component = %self.label, error = %e, "persistent queue write failed; data refused");
            // Whatever part of the write landed is a torn tail: continue in a new segment.
            self.current = None;
            for (_, _, reply) in appends {
                let _ = reply.send(Err(e.clone()));
            }
            return;
        }
        {
            let mut st = q.lock();
            st.next_seq = first_seq + entries.len() as u64;
            if let Some(last) = entries.last()
                && let Some(seg) = st.segments.get_mut(&last.segment)
            {
                seg.last_seq = Some(last.seq);
            }
            st.pending.extend(entries);
        }
        q.data.notify_waiters();
        for (_, _, reply) in appends {
            let _ = reply.send(Ok(()));
        }
    }

    /// Saves the watermark (temporary file + rename) and then deletes finished segments.
    fn save_watermark(&mut self, q: &PersistentQueue) {
        let w = q.lock().watermark();
        if w == self.saved_watermark {
            return;
        }
        let tmp = self.dir.join("ack.tmp");
        let dst = self.dir.join("ack");
        let r = File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(&format::encode_ack(w))?;
                if self.fsync {
                    f.sync_data()?;
                }
                Ok(())
            })
            .and_then(|()| std::fs::rename(&tmp, &dst));
        if let Err(e) = r {
            tracing::warn!(component = %self.label, error = %e, "cannot save the persistent queue's ack file; delivered records may be sent again after a restart");
            return;
        }
        if self.fsync {
            sync_dir(&self.dir);
        }
        self.saved_watermark = w;
        let current = self.current.as_ref().map(|(k, _, _)| *k);
        let done: Vec<Segment> = {
            let mut st = q.lock();
            let keys: Vec<u64> = st
                .segments
                .iter()
                .filter(|(k, s)| Some(**k) != current && s.last_seq.is_none_or(|l| l < w))
                .map(|(k, _)| *k)
                .collect();
            keys.iter().filter_map(|k| st.segments.remove(k)).collect()
        };
        for s in done {
            if let Err(e) = std::fs::remove_file(&s.path) {
                tracing::warn!(component = %self.label, error = %e, path = %s.path.display(), "cannot remove a finished segment");
            }
        }
    }
}

impl PersistentQueue {
    /// Opens (recovering what is on disk) and starts the writer thread.
    pub fn open(o: Options) -> Result<(Arc<Self>, Recovery), String> {
        std::fs::create_dir_all(&o.dir).map_err(|e| io_err("cannot create", &o.dir, e))?;
        let lock = lock_dir(&o.dir, o.lock_timeout)?;
        let rec = recover(&o)?;
        let q = Arc::new(Self {
            state: Mutex::new(State {
                size: rec.pending.iter().map(|e| e.units).sum(),
                pending: rec.pending,
                in_flight: BTreeMap::new(),
                closed: false,
                segments: rec.segments,
                next_seq: rec.next_seq,
            }),
            tx: Mutex::new(None),
            writer: Mutex::new(None),
            data: Notify::new(),
            room: Notify::new(),
            capacity: o.capacity,
            sizer: o.sizer,
            signal: o.signal,
            label: o.label.clone(),
            corrupt: o.corrupt.clone(),
            _lock: lock,
        });
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            queue: Arc::downgrade(&q),
            dir: o.dir.clone(),
            fsync: o.fsync,
            segment_bytes: o.segment_bytes,
            current: None,
            saved_watermark: u64::MAX,
            label: o.label.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("meshtrace-queue".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| format!("cannot start the queue writer: {e}"))?;
        *q.tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tx);
        *q.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(handle);
        // Save the watermark and drop finished segments now, not at the first delivery.
        q.send(Msg::Acked);
        Ok((q, rec.report))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn send(&self, m: Msg) -> bool {
        self.tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .is_some_and(|tx| tx.send(m).is_ok())
    }

    /// Current size in units of the sizer (pending and in flight).
    pub fn size(&self) -> usize {
        self.lock().size
    }

    /// Capacity in units of the sizer.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Items not yet delivered.
    pub fn queued_items(&self) -> usize {
        let st = self.lock();
        st.pending.iter().map(|e| e.items).sum::<usize>()
            + st.in_flight.values().map(|e| e.items).sum::<usize>()
    }

    /// Writes `b` to disk; returns once it is there (and synced, with `fsync`). When full,
    /// waits for room if `block`, else refuses.
    pub async fn push(&self, b: Batch, block: bool) -> Result<(), PushError> {
        if u32::try_from(b.len_bytes()).is_err() {
            return Err(PushError::Io("a batch over 4 GiB cannot be queued".into()));
        }
        let units = units_of(self.sizer, b.items(), b.len_bytes());
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut st = self.lock();
                if st.closed {
                    return Err(PushError::Closed);
                }
                // A batch larger than the whole queue still goes into an empty one.
                if st.size == 0 || st.size + units <= self.capacity {
                    st.size += units;
                    break;
                }
                if !block {
                    return Err(PushError::Full);
                }
            }
            room.await;
        }
        let (reply, rx) = oneshot::channel();
        let sent = self.send(Msg::Append {
            batch: b,
            units,
            reply,
        });
        let r = if sent {
            match rx.await {
                Ok(r) => r,
                Err(_) => Err("the queue writer stopped".to_owned()),
            }
        } else {
            Err("the queue is closed".to_owned())
        };
        r.map_err(|e| {
            self.release(units);
            PushError::Io(e)
        })
    }

    fn release(&self, units: usize) {
        let mut st = self.lock();
        st.size = st.size.saturating_sub(units);
        drop(st);
        self.room.notify_waiters();
    }

    /// The next record to deliver; `None` once closed (what is left stays on disk).
    pub async fn pop(&self) -> Option<Popped> {
        loop {
            let data = self.data.notified();
            tokio::pin!(data);
            data.as_mut().enable();
            let next = {
                let mut st = self.lock();
                if st.closed {
                    return None;
                }
                match st.pending.pop_front() {
                    Some(e) => {
                        st.in_flight.insert(e.seq, e);
                        let file = st.segments.get(&e.segment).map(|s| s.file.clone());
                        Some((e, file))
                    }
                    None => None,
                }
            };
            let Some((e, file)) = next else {
                data.await;
                continue;
            };
            match self.read(e, file).await {
                Ok(batch) => return Some(Popped { batch, seq: e.seq }),
                Err(why) => {
                    self.corrupt.add(1);
                    tracing::error!(component = %self.label, seq = e.seq, error = %why, "persistent queue: a record could not be read back; it is lost");
                    self.done(e.seq);
                }
            }
        }
    }

    async fn read(&self, e: Entry, file: Option<Arc<File>>) -> Result<Batch, String> {
        let file = file.ok_or("its segment is gone")?;
        let signal = self.signal;
        tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; e.frame_len];
            file.read_exact_at(&mut buf, e.offset)
                .map_err(|x| x.to_string())?;
            let rec = format::decode_exact(&buf).ok_or("CRC mismatch")?;
            if rec.seq != e.seq || rec.signal != signal {
                return Err("unexpected record".to_owned());
            }
            let payload = bytes::Bytes::from(buf).slice(format::HEADER_LEN..);
            Batch::new_validated(signal, payload, &no_limits()).map_err(|x| x.to_string())
        })
        .await
        .map_err(|x| x.to_string())?
    }

    /// The record `seq` is finished with (delivered, or dropped for good): it will not be
    /// sent again after a restart.
    pub fn done(&self, seq: u64) {
        let units = {
            let mut st = self.lock();
            st.in_flight.remove(&seq).map_or(0, |e| e.units)
        };
        self.release(units);
        self.send(Msg::Acked);
    }

    /// Refuses further pushes and stops handing out records; waits for the writer to finish
    /// what it was given and save the watermark.
    pub fn close(&self) {
        self.lock().closed = true;
        self.data.notify_waiters();
        self.room.notify_waiters();
    }

    /// Stops the writer thread (after [`PersistentQueue::close`] and the workers are done).
    pub fn stop_writer(&self) {
        self.send(Msg::Acked);
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        drop(tx);
        let h = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(h) = h {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests;
