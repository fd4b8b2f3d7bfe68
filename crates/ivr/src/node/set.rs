//! `set`: give a variable a value (`${name}` expands other variables);
//! `goto`: jump to a node.

use serde::Deserialize;

use crate::run::{Ctx, Step};

/// A `set` node: gives a variable a value, then `next`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Set {
    /// The variable to set.
    pub var: String,
    /// The value; `${name}` is replaced by that variable (empty when unset).
    pub value: String,
    /// Node to go to next.
    pub next: String,
}

/// A `goto` node: jumps straight to another node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goto {
    /// Node to jump to.
    pub next: String,
}

impl Set {
    /// Set `var` to the expanded value, then `next`.
    pub fn run(&self, cx: &mut Ctx<'_>) -> Step {
        let v = cx.expand(&self.value);
        cx.vars.insert(self.var.clone(), v);
        Step::Next(self.next.clone())
    }
}
