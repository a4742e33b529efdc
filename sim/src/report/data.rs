//! Reading a run's CSV files back for the plots, by column name (so new columns never break
//! the reader, and a missing one only leaves its curve out).

use std::io;
use std::path::Path;

use engine::member::Health;

/// A numeric CSV table: a header and rows of numbers (non-numeric cells are NaN).
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<f64>>,
    /// The text cells, kept only for the columns asked for in [`Table::read_with_text`].
    pub text: Vec<Vec<String>>,
}

impl Table {
    /// Reads `path`; a missing file is an empty table.
    pub fn read(path: &Path) -> io::Result<Self> {
        Self::read_with_text(path, &[])
    }

    /// Reads `path`, also keeping the text of the columns named in `text_columns`.
    pub fn read_with_text(path: &Path, text_columns: &[&str]) -> io::Result<Self> {
        if !path.exists() {
            return Ok(Table::default());
        }
        let mut reader = csv::Reader::from_path(path).map_err(io::Error::other)?;
        let header: Vec<String> = reader
            .headers()
            .map_err(io::Error::other)?
            .iter()
            .map(str::to_string)
            .collect();
        let keep: Vec<usize> = text_columns
            .iter()
            .filter_map(|c| header.iter().position(|h| h == c))
            .collect();
        let mut rows = Vec::new();
        let mut text = Vec::new();
        for record in reader.records() {
            let record = record.map_err(io::Error::other)?;
            rows.push(
                record
                    .iter()
                    .map(|cell| cell.parse::<f64>().unwrap_or(f64::NAN))
                    .collect(),
            );
            if !keep.is_empty() {
                text.push(
                    keep.iter()
                        .map(|&i| record.get(i).unwrap_or("").to_string())
                        .collect(),
                );
            }
        }
        Ok(Table { header, rows, text })
    }

    /// The index of column `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Column `name`, if present.
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let i = self.index(name)?;
        Some(
            self.rows
                .iter()
                .map(|r| r.get(i).copied().unwrap_or(f64::NAN))
                .collect(),
        )
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// One row of `events.csv`.
#[derive(Clone, Copy, Debug)]
pub struct ViewEvent {
    /// Virtual seconds.
    pub time_s: f64,
    /// Observer index.
    pub observer: u32,
    /// Subject index.
    pub subject: u32,
    /// New health.
    pub to: Health,
    /// The subject's incarnation as now held.
    pub incarnation: u64,
}

/// Streams `events.csv` row by row into `visit` (nothing when the file is missing). A large
/// run writes tens of millions of rows (33 million at 10,000 members), so they are never held
/// at once: each reader keeps only the rows it needs. Rows with a cell that does not parse are
/// skipped.
pub fn each_event(path: &Path, visit: impl FnMut(ViewEvent)) -> io::Result<()> {
    each_event_of(path, |_| true, visit)
}

/// [`each_event`] for the rows whose subject `keep_subject` accepts; the other rows are
/// skipped before their other cells are parsed (a 10,000-member run's report reads a
/// hundred million rows for the hundred crashed members').
pub fn each_event_of(
    path: &Path,
    keep_subject: impl Fn(u32) -> bool,
    mut visit: impl FnMut(ViewEvent),
) -> io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let mut reader = csv::Reader::from_path(path).map_err(io::Error::other)?;
    let header = reader.byte_headers().map_err(io::Error::other)?.clone();
    let col = |name: &str| header.iter().position(|h| h == name.as_bytes());
    let (Some(t), Some(o), Some(s), Some(to), Some(inc)) = (
        col("time_s"),
        col("observer"),
        col("subject"),
        col("to"),
        col("incarnation"),
    ) else {
        return Err(io::Error::other(format!(
            "{}: missing a column of time_s, observer, subject, to, incarnation",
            path.display()
        )));
    };
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(io::Error::other)?
    {
        let cell = |i: usize| std::str::from_utf8(record.get(i).unwrap_or(b"")).unwrap_or("");
        let Ok(subject) = cell(s).parse::<u32>() else {
            continue;
        };
        if !keep_subject(subject) {
            continue;
        }
        let (Ok(time_s), Ok(observer), Ok(incarnation), Ok(to)) = (
            cell(t).parse::<f64>(),
            cell(o).parse::<u32>(),
            cell(inc).parse::<u64>(),
            cell(to).parse::<Health>(),
        ) else {
            continue;
        };
        visit(ViewEvent {
            time_s,
            observer,
            subject,
            to,
            incarnation,
        });
    }
    Ok(())
}

/// The rows of `events.csv` whose subject `keep_subject` accepts, in file order.
pub fn read_events(path: &Path, keep_subject: impl Fn(u32) -> bool) -> io::Result<Vec<ViewEvent>> {
    let mut events = Vec::new();
    each_event_of(path, keep_subject, |e| events.push(e))?;
    Ok(events)
}
