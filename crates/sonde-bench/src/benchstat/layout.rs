//! Text tables laid out as golang.org/x/perf's benchstat lays them out: cells
//! on a grid of columns, a cell may span several columns, each column has one
//! left margin (the widest any of its cells asks for, such as ` │ ` or ` ± `),
//! and a column can be marked to stay as narrow as its own cells so that a wide
//! spanning cell (a long file name over its group) widens the others instead.

/// Where a value sits in the width it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Align {
    Left,
    Center,
    Right,
}

#[derive(Debug)]
struct Cell {
    row: usize,
    col: usize,
    span: usize,
    value: String,
    margin: String,
    align: Align,
}

/// A table being filled row by row, left to right.
#[derive(Debug, Default)]
pub(super) struct Table {
    cells: Vec<Cell>,
    cols: usize,
    narrow: Vec<bool>,
    row: usize,
    col: usize,
}

fn width(s: &str) -> usize {
    s.chars().count()
}

impl Table {
    /// Starts a new row (the first call starts the first row).
    pub(super) fn row(&mut self) {
        if !self.cells.is_empty() {
            self.row += 1;
        }
        self.col = 0;
    }

    /// Moves to column `col` of the current row (never backwards).
    pub(super) fn col(&mut self, col: usize) -> &mut Self {
        debug_assert!(col >= self.col, "column {col} is left of {}", self.col);
        self.col = self.col.max(col);
        self
    }

    /// The column the next cell goes to.
    pub(super) fn current_col(&self) -> usize {
        self.col
    }

    /// Adds a one-column cell.
    pub(super) fn cell(&mut self, value: &str, align: Align, margin: Option<&str>) -> &mut Self {
        self.span(1, value, align, margin)
    }

    /// Adds a cell over `span` columns. Without `margin`, a cell is set off from
    /// its left neighbour by one space, unless it is empty or the row's first.
    pub(super) fn span(&mut self, span: usize, value: &str, align: Align, margin: Option<&str>) -> &mut Self {
        let default = if self.col == 0 || value.is_empty() { "" } else { " " };
        self.cells.push(Cell {
            row: self.row,
            col: self.col,
            span,
            value: value.to_string(),
            margin: margin.unwrap_or(default).to_string(),
            align,
        });
        self.col += span;
        self.cols = self.cols.max(self.col);
        self
    }

    /// Keeps column `col` as narrow as its own cells: spanning cells that need
    /// more room widen the other columns they span.
    pub(super) fn set_narrow(&mut self, col: usize) {
        if self.narrow.len() <= col {
            self.narrow.resize(col + 1, false);
        }
        self.narrow[col] = true;
    }

    /// The laid-out text, one line per row, without trailing blanks after
    /// left-aligned cells.
    pub(super) fn render(&self) -> String {
        let narrow = |c: usize| self.narrow.get(c).copied().unwrap_or(false);
        let mut margin = vec![0; self.cols];
        for c in &self.cells {
            margin[c.col] = margin[c.col].max(width(&c.margin));
        }
        // Column widths, margins included: single cells first, then spanning
        // cells from the narrowest span up, each widening its columns if
        // needed.
        let mut widths = vec![0; self.cols];
        let mut order: Vec<&Cell> = self.cells.iter().collect();
        order.sort_by_key(|c| c.span);
        for c in order {
            let mut need = width(&c.value) + margin[c.col];
            let cols = c.col..c.col + c.span;
            if c.span == 1 {
                widths[c.col] = widths[c.col].max(need);
                continue;
            }
            if widths[cols.clone()].iter().sum::<usize>() >= need {
                continue;
            }
            // Narrow columns keep their width; the others share what is missing
            // evenly, the widest first (so that a column already wider than its
            // share gives the rest to the narrower ones).
            let mut grow: Vec<usize> = Vec::new();
            for col in cols {
                if narrow(col) {
                    need = need.saturating_sub(widths[col]);
                } else {
                    grow.push(col);
                }
            }
            grow.sort_by_key(|&col| std::cmp::Reverse(widths[col]));
            let mut left = grow.len();
            for col in grow {
                let share = need.div_ceil(left);
                widths[col] = widths[col].max(share);
                need = need.saturating_sub(widths[col]);
                left -= 1;
            }
        }
        let mut offsets = Vec::with_capacity(self.cols + 1);
        let mut at = 0;
        for w in &widths {
            offsets.push(at);
            at += w;
        }
        offsets.push(at);

        let mut cells: Vec<&Cell> = self.cells.iter().collect();
        cells.sort_by_key(|c| (c.row, c.col));
        let mut out = String::new();
        let (mut row, mut pos) = (0, 0);
        for c in cells {
            if c.value.trim().is_empty() && c.margin.trim().is_empty() {
                continue;
            }
            while c.row > row {
                out.push('\n');
                row += 1;
                pos = 0;
            }
            let m = margin[c.col];
            out.push_str(&" ".repeat(offsets[c.col] - pos));
            out.push_str(&format!("{:>m$}", c.margin));
            pos = offsets[c.col] + m;
            let room = offsets[c.col + c.span] - offsets[c.col] - m;
            let text = match c.align {
                Align::Left => c.value.clone(),
                Align::Center => format!("{}{}", " ".repeat(room.saturating_sub(width(&c.value)) / 2), c.value),
                Align::Right => format!("{:>room$}", c.value),
            };
            pos += width(&text);
            out.push_str(&text);
        }
        if !self.cells.is_empty() {
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_widen_the_columns_they_cover() {
        let mut t = Table::default();
        t.row();
        t.col(1).span(2, "a long header", Align::Center, Some(" │ "));
        t.cell("", Align::Left, Some(" │"));
        t.set_narrow(2);
        t.row();
        t.cell("name", Align::Left, None);
        t.cell("1.5", Align::Right, None);
        t.cell("∞", Align::Right, Some(" ± "));
        assert_eq!(t.render(), "     │ a long header │\nname         1.5 ± ∞\n");
    }
}
