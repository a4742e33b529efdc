//! Reading a run's CSV files back for the plots, by column name (so new columns never break
//! the reader, and a missing one only leaves its curve out).

use std::io;
use std::path::Path;

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
#[derive(Clone, Debug)]
pub struct ViewEvent {
    /// Virtual seconds.
    pub time_s: f64,
    /// Observer index.
    pub observer: u32,
    /// Subject index.
    pub subject: u32,
    /// New health (`Alive`, `Suspect`, `Confirmed`, `Departed`).
    pub to: String,
    /// The subject's incarnation as now held.
    pub incarnation: u64,
}

/// Reads `events.csv` (empty when missing).
pub fn read_events(path: &Path) -> io::Result<Vec<ViewEvent>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut reader = csv::Reader::from_path(path).map_err(io::Error::other)?;
    let header = reader.headers().map_err(io::Error::other)?.clone();
    let col = |name: &str| header.iter().position(|h| h == name);
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
    let mut events = Vec::new();
    for record in reader.records() {
        let r = record.map_err(io::Error::other)?;
        let num = |i: usize| r.get(i).and_then(|c| c.parse::<f64>().ok());
        let (Some(time_s), Some(observer), Some(subject), Some(incarnation)) =
            (num(t), num(o), num(s), num(inc))
        else {
            continue;
        };
        events.push(ViewEvent {
            time_s,
            observer: observer as u32,
            subject: subject as u32,
            to: r.get(to).unwrap_or("").to_string(),
            incarnation: incarnation as u64,
        });
    }
    Ok(events)
}
