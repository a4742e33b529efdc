//! The files a run writes into its output directory.
//!
//! - `timeseries.csv`: one row per sample. `time_s` (virtual seconds), `live` (live members),
//!   `convergence` (see [`crate::metrics`]), `live_alive`, `live_suspect`, `live_confirmed`,
//!   `live_departed` (how many (live observer, live subject) views are in each health),
//!   `live_unknown` (pairs of live members where the observer does not know the subject),
//!   `dead_alive` … `dead_departed` (live observers' views of dead subjects), and
//!   `messages_sent`, `bytes_sent`: **cumulative** totals since the start, all channels;
//!   `datagram_messages_sent`, `datagram_bytes_sent`, `stream_messages_sent`,
//!   `stream_bytes_sent`: the same per channel (SWIM datagrams, rumor/push-pull streams).
//! - `events.csv`: every health change an engine reports, in order: `time_s`, `observer`,
//!   `subject` (member indices), `from` (`Unknown` when the subject was new to the observer),
//!   `to` (`Alive`, `Suspect`, `Confirmed`, `Departed`), `incarnation` (the subject's, as now held).
//! - `members.csv`: `index`, `id` (32 hex digits), `address` of every member.
//! - `summary.json`: see [`Summary`]. Its `wall_seconds` is the only value that differs between
//!   two runs of the same scenario and seed.
//!
//! Numbers are formatted with fixed precision, so the CSV files are byte-identical between
//! runs of the same (scenario, seed).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use engine::Health;
use serde::Serialize;

use crate::expect::Outcome;
use crate::metrics::{Latency, Sample};

/// The CSV writers of a run.
#[derive(Debug)]
pub struct Recorder {
    timeseries: csv::Writer<BufWriter<File>>,
    /// Written by hand, on a thread of its own (see [`Recorder::event`]).
    events: EventsWriter,
}

impl Recorder {
    /// Creates `dir` and the CSV files in it, with their headers.
    pub fn create(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let open = |name: &str| -> io::Result<csv::Writer<BufWriter<File>>> {
            let file = File::create(dir.join(name))?;
            Ok(csv::Writer::from_writer(BufWriter::with_capacity(
                1 << 16,
                file,
            )))
        };
        let mut timeseries = open("timeseries.csv")?;
        timeseries.write_record([
            "time_s",
            "live",
            "convergence",
            "live_alive",
            "live_suspect",
            "live_confirmed",
            "live_departed",
            "live_unknown",
            "dead_alive",
            "dead_suspect",
            "dead_confirmed",
            "dead_departed",
            "messages_sent",
            "bytes_sent",
            "datagram_messages_sent",
            "datagram_bytes_sent",
            "stream_messages_sent",
            "stream_bytes_sent",
        ])?;
        let events = EventsWriter::spawn(File::create(dir.join("events.csv"))?)?;
        Ok(Recorder { timeseries, events })
    }

    /// Writes one row of `timeseries.csv`.
    pub fn sample(&mut self, s: &Sample) -> io::Result<()> {
        let mut row: Vec<String> = vec![
            secs(s.at_ns),
            s.live.to_string(),
            format!("{:.6}", s.convergence),
        ];
        row.extend(s.live_views.iter().map(u64::to_string));
        row.push(s.live_unknown.to_string());
        row.extend(s.dead_views.iter().map(u64::to_string));
        row.push(s.messages_sent.to_string());
        row.push(s.bytes_sent.to_string());
        row.extend(s.by_channel.iter().flatten().map(u64::to_string));
        self.timeseries.write_record(&row)?;
        Ok(())
    }

    /// Writes one row of `events.csv`. A 10,000-member run writes over a hundred million, so
    /// the rows are handed in batches to a thread that formats them straight into the file's
    /// buffer, with no string per field, while the run goes on: every field is a number or a
    /// health name, which CSV never quotes, so the bytes are what a CSV writer would write.
    /// An error writing the file comes back from a later call, or from [`Recorder::finish`].
    pub fn event(
        &mut self,
        at_ns: u64,
        observer: u32,
        subject: u32,
        from: Option<Health>,
        to: Health,
        incarnation: u64,
    ) -> io::Result<()> {
        self.events.push(EventRow {
            at_ns,
            incarnation,
            observer,
            subject,
            from,
            to,
        })
    }

    /// Flushes both files (`events.csv` once its thread has written every row).
    pub fn finish(mut self) -> io::Result<()> {
        self.timeseries.flush()?;
        self.events.finish()
    }
}

/// One row of `events.csv`.
#[derive(Clone, Copy, Debug)]
struct EventRow {
    at_ns: u64,
    incarnation: u64,
    observer: u32,
    subject: u32,
    from: Option<Health>,
    to: Health,
}

/// Rows handed to the writer thread at a time.
const EVENT_BATCH: usize = 8192;

/// `events.csv`, formatted and written by a thread of its own: a run's main loop only fills
/// batches of rows. At most a few batches wait for the thread (the channel is bounded), so a
/// slow disk slows the run instead of filling memory.
#[derive(Debug)]
struct EventsWriter {
    batch: Vec<EventRow>,
    to_thread: Option<SyncSender<Vec<EventRow>>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl EventsWriter {
    fn spawn(file: File) -> io::Result<Self> {
        let (to_thread, batches) = sync_channel::<Vec<EventRow>>(4);
        let thread = std::thread::Builder::new()
            .name("events.csv".into())
            .spawn(move || -> io::Result<()> {
                let mut out = BufWriter::with_capacity(1 << 16, file);
                out.write_all(b"time_s,observer,subject,from,to,incarnation\n")?;
                for batch in batches {
                    for r in batch {
                        writeln!(
                            out,
                            "{},{},{},{},{},{}",
                            Secs(r.at_ns),
                            r.observer,
                            r.subject,
                            r.from.map_or("Unknown", Health::as_str),
                            r.to.as_str(),
                            r.incarnation,
                        )?;
                    }
                }
                out.flush()
            })?;
        Ok(EventsWriter {
            batch: Vec::with_capacity(EVENT_BATCH),
            to_thread: Some(to_thread),
            thread: Some(thread),
        })
    }

    fn push(&mut self, row: EventRow) -> io::Result<()> {
        self.batch.push(row);
        if self.batch.len() >= EVENT_BATCH {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> io::Result<()> {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(EVENT_BATCH));
        let sent = self
            .to_thread
            .as_ref()
            .is_some_and(|tx| tx.send(batch).is_ok());
        if sent {
            return Ok(());
        }
        // The thread stopped on a write error: that is the error to report.
        self.to_thread = None;
        self.join()?;
        Err(io::Error::other("events.csv: its writer has stopped"))
    }

    fn finish(&mut self) -> io::Result<()> {
        if !self.batch.is_empty() {
            self.send()?;
        }
        self.to_thread = None;
        self.join()
    }

    fn join(&mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("events.csv: its writer panicked"))),
            None => Ok(()),
        }
    }
}

/// Writes `members.csv`: index, id and address of every member.
pub fn write_members(
    dir: &Path,
    members: &[(engine::MemberId, std::net::SocketAddr)],
) -> io::Result<()> {
    let file = File::create(dir.join("members.csv"))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    w.write_record(["index", "id", "address"])?;
    for (i, (id, addr)) in members.iter().enumerate() {
        w.write_record([i.to_string(), id.to_string(), addr.to_string()])?;
    }
    w.flush()
}

/// `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The scenario's name.
    pub name: String,
    /// Whether every expectation held.
    pub passed: bool,
    /// One verdict per `[[expect]]`, in file order.
    pub expectations: Vec<Outcome>,
    /// Members in the scenario.
    pub members: u32,
    /// The seed of the run.
    pub seed: u64,
    /// Virtual time simulated.
    pub virtual_seconds: f64,
    /// Wall-clock time the run took (the only non-reproducible value).
    pub wall_seconds: f64,
    /// Queue items processed (deliveries, live timers, actions, samples).
    pub events_processed: u64,
    /// Messages sent by all members (datagrams and stream frames).
    pub messages_sent: u64,
    /// Bytes sent by all members.
    pub bytes_sent: u64,
    /// Messages lost to loss, partitions, isolation, or sent to a member that was down.
    pub messages_lost: u64,
    /// Health changes reported by the engines (rows of `events.csv`).
    pub view_changes: u64,
    /// Refutations (a member raised its incarnation to deny a rumor about itself).
    pub refutations: u64,
    /// Inputs the engines dropped (malformed, stale, …).
    pub dropped_inputs: u64,
    /// Times an observer marked a live, unpaused, reachable member Suspect.
    pub false_suspected: u64,
    /// Times an observer marked a live, unpaused, reachable member Confirmed.
    pub false_confirmed: u64,
    /// Detection latencies of crashed members, from the crash.
    pub detection: Detection,
    /// The state at the end of the run.
    #[serde(rename = "final")]
    pub end: End,
    /// Per rumor version: when it was born and how long it took to reach 50/99/100 % of the
    /// live members (see [`crate::coverage`]).
    pub rumor_convergence: Vec<crate::coverage::RumorConvergence>,
    /// Totals over `rumor_convergence`.
    pub rumor_coverage: crate::coverage::RumorTotals,
    /// Messages and bytes per channel, per member per second (see [`crate::traffic`]).
    pub traffic: crate::traffic::TrafficSummary,
    /// Rumor copies sent per copy needed (1.0 is the least possible).
    pub redundancy: crate::traffic::Redundancy,
    /// Membership records sent (pushed, exchanged, piggybacked) against the records each
    /// member lacked (see [`crate::traffic::RecordCopies`]).
    pub record_copies: crate::traffic::RecordCopies,
    /// Rumors received but not applied (stale, oversized, invalid).
    pub rumors_rejected: u64,
    /// Operator commands and refused commands, in order.
    pub commands: Vec<crate::world::CommandRecord>,
    /// Every election seen in the groups with a leader topology (by group, kind, term):
    /// when it started, first finished, and finished at every live member of the group
    /// (`duration_s` is the time from start to that). Absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub elections: Vec<crate::elections::ElectionRecord>,
}

/// Detection latencies over the crashes of a run.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Detection {
    /// Until the first observer held the member Suspect (or worse).
    pub first_suspect: Latency,
    /// Until the first observer held it Confirmed (or Departed).
    pub first_confirmed: Latency,
    /// Until every live member held it Confirmed or Departed.
    pub all_confirmed: Latency,
}

/// The state at the end of a run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct End {
    /// Live members.
    pub live: u32,
    /// View convergence.
    pub convergence: f64,
}

/// Writes `summary.json` into `dir`.
pub fn write_summary(dir: &Path, summary: &Summary) -> io::Result<()> {
    let file = File::create(dir.join("summary.json"))?;
    let mut w = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut w, summary)?;
    w.write_all(b"\n")?;
    w.flush()
}

/// Virtual seconds, exact to the nanosecond.
fn secs(nanos: u64) -> String {
    Secs(nanos).to_string()
}

/// [`secs`] without the string: formats straight into a writer.
struct Secs(u64);

impl std::fmt::Display for Secs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{:09}",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_exact() {
        assert_eq!(secs(0), "0.000000000");
        assert_eq!(secs(1_500_000_001), "1.500000001");
    }

    #[test]
    fn event_rows_are_the_bytes_a_csv_writer_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = Recorder::create(dir.path()).expect("create");
        r.event(1_500_000_001, 3, 4, None, Health::Alive, 7)
            .expect("write");
        r.event(
            60_000_000_000,
            12,
            0,
            Some(Health::Suspect),
            Health::Confirmed,
            u64::MAX,
        )
        .expect("write");
        r.finish().expect("flush");
        let written = std::fs::read(dir.path().join("events.csv")).expect("read");
        let mut w = csv::Writer::from_writer(Vec::new());
        for row in [
            ["time_s", "observer", "subject", "from", "to", "incarnation"].map(String::from),
            ["1.500000001", "3", "4", "Unknown", "Alive", "7"].map(String::from),
            [
                secs(60_000_000_000),
                "12".into(),
                "0".into(),
                "Suspect".into(),
                "Confirmed".into(),
                u64::MAX.to_string(),
            ],
        ] {
            w.write_record(&row).expect("csv");
        }
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&w.into_inner().expect("csv buffer"))
        );
    }

    #[test]
    fn rows_over_many_batches_are_written_whole_and_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = Recorder::create(dir.path()).expect("create");
        let n = 3 * EVENT_BATCH + 17;
        for i in 0..n as u64 {
            r.event(
                i * 1_000,
                (i % 7) as u32,
                (i % 11) as u32,
                None,
                Health::Alive,
                i,
            )
            .expect("write");
        }
        r.finish().expect("flush");
        let text = std::fs::read_to_string(dir.path().join("events.csv")).expect("read");
        let rows: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(rows.len(), n);
        for (i, row) in rows.iter().enumerate() {
            let i = i as u64;
            assert_eq!(
                *row,
                format!("{},{},{},Unknown,Alive,{i}", secs(i * 1_000), i % 7, i % 11)
            );
        }
    }

    #[test]
    fn a_failed_write_of_events_csv_is_reported_not_lost() {
        // /dev/full takes the open and refuses every write (ENOSPC).
        let full = File::options()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full (Linux)");
        let mut w = EventsWriter::spawn(full).expect("spawn");
        let row = EventRow {
            at_ns: 1,
            incarnation: 2,
            observer: 3,
            subject: 4,
            from: None,
            to: Health::Alive,
        };
        // The writer thread fails on its first flush; a push after that, or the finish, says so.
        let mut failed = None;
        for _ in 0..(8 * EVENT_BATCH) {
            if let Err(e) = w.push(row) {
                failed = Some(e);
                break;
            }
        }
        let err = match failed {
            Some(e) => e,
            None => w.finish().expect_err("the write error comes back"),
        };
        assert_eq!(err.kind(), io::ErrorKind::StorageFull, "{err}");
    }
}
