//! Plain-text tables with aligned columns: an upper-case header line, one line
//! per row, two spaces between columns, no trailing spaces, so the output reads
//! well and `grep`/`awk` can pick fields out of it.
use std::fmt::Write;

/// Which side of its column a value sticks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Names and other text.
    Left,
    /// Numbers, so their digits line up.
    Right,
}

/// Space between two columns.
const GAP: &str = "  ";

/// A table under construction: fixed columns, rows appended in display order.
#[derive(Debug)]
pub struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these (header, alignment) columns and no rows yet.
    pub fn new(columns: &[(&'static str, Align)]) -> Table {
        Table { columns: columns.to_vec(), rows: Vec::new() }
    }

    /// Appends a row; missing trailing cells are left empty, extra ones dropped.
    pub fn add_row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Appends the header and every row to `out`, each line prefixed by `indent`.
    pub fn render_into(&self, indent: &str, out: &mut String) {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(index, (header, _))| {
                let widest_cell = self
                    .rows
                    .iter()
                    .filter_map(|row| row.get(index))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0);
                widest_cell.max(header.chars().count())
            })
            .collect();
        let headers: Vec<&str> = self.columns.iter().map(|(header, _)| *header).collect();
        self.render_line(indent, &headers, &widths, out);
        for row in &self.rows {
            let cells: Vec<&str> =
                (0..self.columns.len()).map(|index| row.get(index).map_or("", String::as_str)).collect();
            self.render_line(indent, &cells, &widths, out);
        }
    }

    fn render_line(&self, indent: &str, cells: &[&str], widths: &[usize], out: &mut String) {
        let mut line = String::from(indent);
        for (index, ((cell, width), (_, align))) in cells.iter().zip(widths).zip(&self.columns).enumerate() {
            if index > 0 {
                line.push_str(GAP);
            }
            // Writing to a String cannot fail.
            let _ = match align {
                Align::Left => write!(line, "{cell:<width$}"),
                Align::Right => write!(line, "{cell:>width$}"),
            };
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_without_trailing_spaces() {
        let mut table = Table::new(&[("NAME", Align::Left), ("COUNT", Align::Right), ("NOTE", Align::Left)]);
        table.add_row(vec!["a".into(), "1".into(), "".into()]);
        table.add_row(vec!["longer-name".into(), "123456".into(), "x".into()]);
        let mut out = String::new();
        table.render_into("  ", &mut out);
        assert_eq!(
            out,
            "  NAME          COUNT  NOTE\n\
             \x20 a                 1\n\
             \x20 longer-name  123456  x\n"
        );
    }

    #[test]
    fn short_rows_are_padded_and_long_rows_cut() {
        let mut table = Table::new(&[("A", Align::Left), ("B", Align::Right)]);
        table.add_row(vec!["x".into()]);
        table.add_row(vec!["y".into(), "2".into(), "ignored".into()]);
        let mut out = String::new();
        table.render_into("", &mut out);
        assert_eq!(out, "A  B\nx\ny  2\n");
    }

    #[test]
    fn header_only_table() {
        let mut out = String::new();
        Table::new(&[("ONLY", Align::Left)]).render_into("", &mut out);
        assert_eq!(out, "ONLY\n");
    }
}
