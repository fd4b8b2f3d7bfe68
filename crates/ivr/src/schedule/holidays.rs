//! French metropolitan public holidays, with Easter by the anonymous Gregorian algorithm.

use chrono::{Datelike, NaiveDate};

/// Easter Sunday of a Gregorian `year` (Meeus/Jones/Butcher, the "anonymous
/// Gregorian" algorithm). `None` only for a year chrono cannot represent.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// Fixed-date holidays: (month, day, name).
const FIXED: [(u32, u32, &str); 8] = [
    (1, 1, "Jour de l'an"),
    (5, 1, "Fête du Travail"),
    (5, 8, "Victoire 1945"),
    (7, 14, "Fête nationale"),
    (8, 15, "Assomption"),
    (11, 1, "Toussaint"),
    (11, 11, "Armistice 1918"),
    (12, 25, "Noël"),
];

/// Holidays that move with Easter: (days after Easter Sunday, name).
const MOVABLE: [(u64, &str); 3] = [
    (1, "Lundi de Pâques"),
    (39, "Ascension"),
    (50, "Lundi de Pentecôte"),
];

/// The name of the French public holiday on `date`, if it is one. No
/// allocation: cheap enough to call on every incoming call.
pub fn french_holiday(date: NaiveDate) -> Option<&'static str> {
    if let Some(&(_, _, name)) = FIXED
        .iter()
        .find(|&&(m, d, _)| date.month() == m && date.day() == d)
    {
        return Some(name);
    }
    let easter = easter_sunday(date.year())?;
    let after = date.signed_duration_since(easter).num_days();
    MOVABLE
        .iter()
        .find(|&&(n, _)| i64::try_from(n).is_ok_and(|n| n == after))
        .map(|&(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Days;

    /// The 11 metropolitan French public holidays of `year`, sorted by date, with
    /// their French names. Two may fall on the same date (Ascension was 1 May in
    /// 2008); both are then listed. Years chrono cannot represent give fewer.
    pub fn french_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
        let mut days: Vec<(NaiveDate, &'static str)> = FIXED
            .iter()
            .filter_map(|&(m, d, name)| Some((NaiveDate::from_ymd_opt(year, m, d)?, name)))
            .collect();
        if let Some(easter) = easter_sunday(year) {
            days.extend(
                MOVABLE
                    .iter()
                    .filter_map(|&(n, name)| Some((easter.checked_add_days(Days::new(n))?, name))),
            );
        }
        days.sort_by_key(|&(date, _)| date);
        days
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn easter_sundays_known_years() {
        // Hand-checked against published Easter tables.
        assert_eq!(easter_sunday(2024), Some(date(2024, 3, 31)));
        assert_eq!(easter_sunday(2025), Some(date(2025, 4, 20)));
        assert_eq!(easter_sunday(2026), Some(date(2026, 4, 5)));
        assert_eq!(easter_sunday(2027), Some(date(2027, 3, 28)));
        assert_eq!(easter_sunday(2008), Some(date(2008, 3, 23)));
        assert_eq!(easter_sunday(2038), Some(date(2038, 4, 25)));
        assert_eq!(easter_sunday(2285), Some(date(2285, 3, 22)));
    }

    #[test]
    fn holidays_2026() {
        let got = french_holidays(2026);
        let want = vec![
            (date(2026, 1, 1), "Jour de l'an"),
            (date(2026, 4, 6), "Lundi de Pâques"),
            (date(2026, 5, 1), "Fête du Travail"),
            (date(2026, 5, 8), "Victoire 1945"),
            (date(2026, 5, 14), "Ascension"),
            (date(2026, 5, 25), "Lundi de Pentecôte"),
            (date(2026, 7, 14), "Fête nationale"),
            (date(2026, 8, 15), "Assomption"),
            (date(2026, 11, 1), "Toussaint"),
            (date(2026, 11, 11), "Armistice 1918"),
            (date(2026, 12, 25), "Noël"),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn holidays_2027_movable() {
        let got = french_holidays(2027);
        assert_eq!(got.len(), 11);
        assert_eq!(got[1], (date(2027, 3, 29), "Lundi de Pâques"));
        assert!(got.contains(&(date(2027, 5, 6), "Ascension")));
        assert!(got.contains(&(date(2027, 5, 17), "Lundi de Pentecôte")));
        // Sorted: Ascension (6 May) comes before Victoire 1945 (8 May).
        let dates: Vec<NaiveDate> = got.iter().map(|&(d, _)| d).collect();
        let mut sorted = dates.clone();
        sorted.sort();
        assert_eq!(dates, sorted);
        assert_eq!(got[3], (date(2027, 5, 6), "Ascension"));
    }

    #[test]
    fn holidays_2024_movable() {
        let got = french_holidays(2024);
        assert!(got.contains(&(date(2024, 4, 1), "Lundi de Pâques")));
        assert!(got.contains(&(date(2024, 5, 9), "Ascension")));
        assert!(got.contains(&(date(2024, 5, 20), "Lundi de Pentecôte")));
    }

    #[test]
    fn coinciding_holidays_both_listed() {
        let got = french_holidays(2008);
        assert_eq!(got.len(), 11);
        let on_may_1: Vec<&str> = got
            .iter()
            .filter(|&&(d, _)| d == date(2008, 5, 1))
            .map(|&(_, n)| n)
            .collect();
        assert_eq!(on_may_1.len(), 2);
        assert!(on_may_1.contains(&"Ascension"));
        assert!(on_may_1.contains(&"Fête du Travail"));
    }

    #[test]
    fn lookup_agrees_with_list_over_years() {
        for year in 1990..2100 {
            let list = french_holidays(year);
            assert_eq!(list.len(), 11, "{year}");
            for &(d, _) in &list {
                assert!(french_holiday(d).is_some(), "{d} should be a holiday");
            }
            let mut day = date(year, 1, 1);
            let mut count = 0;
            while day.year() == year {
                if french_holiday(day).is_some() {
                    count += 1;
                }
                day = day.succ_opt().unwrap();
            }
            let mut distinct: Vec<NaiveDate> = list.iter().map(|&(d, _)| d).collect();
            distinct.dedup();
            assert_eq!(count, distinct.len(), "{year}");
        }
    }

    #[test]
    fn lookup_names() {
        assert_eq!(french_holiday(date(2026, 4, 6)), Some("Lundi de Pâques"));
        assert_eq!(french_holiday(date(2026, 11, 11)), Some("Armistice 1918"));
        assert_eq!(french_holiday(date(2026, 4, 5)), None); // Easter Sunday itself
        assert_eq!(french_holiday(date(2026, 11, 24)), None);
    }
}
