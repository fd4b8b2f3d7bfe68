//! The commented `[sla]` section of configs/default.toml, uncommented,
//! reads as the defaults (with the example hours order it shows).

use sla::SlaConfig;

#[test]
fn commented_section_shows_the_defaults() {
    let text = include_str!("../../../configs/default.toml");
    let start = text.find("# [sla]\n").expect("a commented [sla] section");
    let mut toml_text = String::new();
    for line in text[start..].lines() {
        let Some(line) = line.strip_prefix("# ") else {
            continue;
        };
        // Settings and tables only, not the prose around them.
        let code = line.split("  #").next().unwrap().trim_end();
        let is_key = code.split_once(" = ").is_some_and(|(k, _)| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
        if code == "[sla]" {
            continue;
        }
        if let Some(table) = code.strip_prefix("[sla.") {
            toml_text.push_str(&format!("[{table}\n"));
        } else if is_key {
            toml_text.push_str(code);
            toml_text.push('\n');
        }
    }
    let shown: SlaConfig =
        toml::from_str(&toml_text).unwrap_or_else(|e| panic!("{e}\n{toml_text}"));
    let mut expected = SlaConfig::default();
    expected.productive_hours.ordered_per_day = Some(300.0);
    assert_eq!(shown, expected, "{toml_text}");
    assert!(toml_text.contains("[targets]") && toml_text.contains("pickup_rate = "));
}
