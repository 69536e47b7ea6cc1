//! Truth tables: who may reach whom, as a type with its own printer (the
//! upstream e2e netpol "reachability" matrix). Rows are sources, columns
//! destinations; `.` allowed, `X` denied.

use super::compile::Compiled;
use super::world::{Peer, PodInfo, PortQuery};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthTable {
    pub names: Vec<String>,
    cells: Vec<Vec<bool>>,
}

impl TruthTable {
    /// Every cell `value`.
    pub fn new(names: Vec<String>, value: bool) -> Self {
        let n = names.len();
        TruthTable {
            names,
            cells: vec![vec![value; n]; n],
        }
    }

    /// The compiled model's answer for every ordered pair of `pods`.
    pub fn evaluate(compiled: &Compiled, pods: &[PodInfo], port: &PortQuery) -> Self {
        let mut t = TruthTable::new(pods.iter().map(PodInfo::key).collect(), false);
        for (i, a) in pods.iter().enumerate() {
            for (j, b) in pods.iter().enumerate() {
                t.cells[i][j] = compiled.evaluate(Peer::pod(a), Peer::pod(b), port).verdict
                    == super::Decision::Allow;
            }
        }
        t
    }

    fn index(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("{name} is not in the truth table"))
    }

    pub fn get(&self, from: &str, to: &str) -> bool {
        self.cells[self.index(from)][self.index(to)]
    }

    pub fn set(&mut self, from: &str, to: &str, value: bool) -> &mut Self {
        let (i, j) = (self.index(from), self.index(to));
        self.cells[i][j] = value;
        self
    }

    /// Set every cell whose source and destination names match the predicates.
    pub fn set_where(
        &mut self,
        from: impl Fn(&str) -> bool,
        to: impl Fn(&str) -> bool,
        value: bool,
    ) -> &mut Self {
        for i in 0..self.names.len() {
            for j in 0..self.names.len() {
                if from(&self.names[i]) && to(&self.names[j]) {
                    self.cells[i][j] = value;
                }
            }
        }
        self
    }

    /// Everything into `to`.
    pub fn ingress(&mut self, to: &str, value: bool) -> &mut Self {
        self.set_where(|_| true, |t| t == to, value)
    }

    /// Everything out of `from`.
    pub fn egress(&mut self, from: &str, value: bool) -> &mut Self {
        self.set_where(|f| f == from, |_| true, value)
    }

    /// A pod always reaches itself (the e2e tests' AllowLoopback).
    pub fn allow_loopback(&mut self) -> &mut Self {
        for i in 0..self.names.len() {
            self.cells[i][i] = true;
        }
        self
    }

    /// The cells where `other` differs.
    pub fn differences(&self, other: &TruthTable) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for i in 0..self.names.len() {
            for j in 0..self.names.len() {
                if self.cells[i][j] != other.cells[i][j] {
                    out.push((self.names[i].clone(), self.names[j].clone()));
                }
            }
        }
        out
    }

    /// Every cell allowed in `self` is allowed in `other`.
    pub fn is_subset_of(&self, other: &TruthTable) -> bool {
        (0..self.names.len())
            .all(|i| (0..self.names.len()).all(|j| !self.cells[i][j] || other.cells[i][j]))
    }

    /// Ok, or a message with both grids and the differing cells marked.
    pub fn compare(expected: &TruthTable, actual: &TruthTable) -> Result<(), String> {
        let diff = expected.differences(actual);
        if diff.is_empty() {
            return Ok(());
        }
        let mut marks = TruthTable::new(expected.names.clone(), true);
        for (f, t) in &diff {
            marks.set(f, t, false);
        }
        let cells: Vec<String> = diff.iter().map(|(f, t)| format!("{f} → {t}")).collect();
        Err(format!(
            "{} cell(s) differ: {}\n\nexpected (rows: from, columns: to; . allow, X deny):\n{expected}\nactual:\n{actual}\ndifferences (!):\n{}",
            diff.len(),
            cells.join(", "),
            marks.render('.', '!')
        ))
    }

    fn render(&self, yes: char, no: char) -> String {
        let w = self.names.iter().map(|n| n.len()).max().unwrap_or(1);
        let mut s = format!("{:w$}", "");
        for n in &self.names {
            s.push_str(&format!(" {n:>w$}"));
        }
        s.push('\n');
        for (i, n) in self.names.iter().enumerate() {
            s.push_str(&format!("{n:w$}"));
            for j in 0..self.names.len() {
                let c = if self.cells[i][j] { yes } else { no };
                s.push_str(&format!(" {c:>w$}"));
            }
            s.push('\n');
        }
        s
    }
}

impl fmt::Display for TruthTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render('.', 'X'))
    }
}
