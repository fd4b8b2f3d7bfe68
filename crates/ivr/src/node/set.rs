//! `set`: give a variable a value (`${name}` expands other variables);
//! `goto`: jump to a node.

use serde::Deserialize;

use crate::run::{Ctx, Step};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Set {
    pub var: String,
    pub value: String,
    pub next: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goto {
    pub next: String,
}

impl Set {
    pub fn run(&self, cx: &mut Ctx<'_>) -> Step {
        let v = cx.expand(&self.value);
        cx.vars.insert(self.var.clone(), v);
        Step::Next(self.next.clone())
    }
}
