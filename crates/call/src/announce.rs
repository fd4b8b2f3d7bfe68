//! The announcement script: plays a sequence of prompts (barge-in allowed),
//! then listens for digits until the caller stops typing, then hangs up.
//! Numbers run it until their IVR flow is wired (the `ivr` crate).

use std::sync::Arc;
use std::time::Duration;

use media::prompt::PromptLibrary;

use crate::handle::{CallHandle, CallScript, HungUp, ScriptFuture};

/// Play `prompts` in order, then collect digits for `listen` after the last one.
pub struct Announcement {
    pub library: Arc<PromptLibrary>,
    pub prompts: Vec<String>,
    pub listen: Duration,
}

impl CallScript for Announcement {
    fn run(&self, call: CallHandle) -> ScriptFuture {
        let prompts: Vec<_> = self
            .prompts
            .iter()
            .filter_map(|name| {
                let p = self.library.get(name);
                if p.is_none() {
                    tracing::error!(prompt = %name, "prompt missing; skipped");
                }
                p
            })
            .collect();
        let listen = self.listen;
        Box::pin(async move {
            let mut call = call;
            let _ = announce(&mut call, prompts, listen).await;
        })
    }
}

async fn announce(
    call: &mut CallHandle,
    prompts: Vec<Arc<media::prompt::Prompt>>,
    listen: Duration,
) -> Result<(), HungUp> {
    for p in prompts {
        call.play(p, true).await?;
    }
    let mut digits = String::new();
    while let Some(d) = call.next_digit(listen).await? {
        digits.push(d);
    }
    tracing::info!(digits = %digits, "announcement done");
    call.hangup();
    Ok(())
}
