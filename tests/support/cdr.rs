//! Call records as tests read them: the CDR journal's lines, one call's
//! record, the prompts and digits it lists.

use super::*;

impl Server {
    /// All complete CDR lines written so far.
    pub fn records(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.cdr_dir()) {
            for e in rd.flatten() {
                if e.path().extension().is_none_or(|x| x != "jsonl") {
                    continue;
                }
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                // The server may be writing the last line as we read.
                let complete = text.rfind('\n').map_or("", |end| &text[..end]);
                for line in complete.lines().filter(|l| !l.trim().is_empty()) {
                    out.push(serde_json::from_str(line).expect("CDR line is JSON"));
                }
            }
        }
        out
    }

    /// Wait for the CDR of a SIP call. An answered call's record is closed
    /// when its agent's wrap-up ends (10 s by default): wait beyond that.
    pub fn record(&self, sip_call_id: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(r) = self
                .records()
                .into_iter()
                .find(|r| r["sip_call_id"] == sip_call_id)
            {
                return r;
            }
            if Instant::now() > deadline {
                panic!("no CDR for {sip_call_id}; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Wait for the softswitch's BYE on `call`, answer it 200, return the CDR.
pub fn await_bye(ua: &mut Ua, srv: &Server, call: &Call, within: Duration) -> serde_json::Value {
    let bye = ua
        .recv_until(within, |m| m.starts_with("BYE "))
        .unwrap_or_else(|| panic!("no BYE from the softswitch; log:\n{}", srv.log_text()));
    ua.reply_ok(&bye);
    srv.record(&call.call_id)
}

/// Call `did`, hang up once the first prompt has started; the record.
pub fn call_briefly(srv: &Server, ua: &mut Ua, did: &str) -> serde_json::Value {
    let mut call = ua.invite(did, &Offer::default());
    ua.answer(&mut call, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(400));
    ua.request(&mut call, "BYE", "", "");
    srv.record(&call.call_id)
}

/// (name, end) of every prompt a CDR lists, in order.
pub fn prompts_played(rec: &serde_json::Value) -> Vec<(String, String)> {
    rec["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["end"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// The digits a CDR lists, in order, as one string.
pub fn digits_of(rec: &serde_json::Value) -> String {
    rec["digits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["digit"].as_str().unwrap())
        .collect()
}
