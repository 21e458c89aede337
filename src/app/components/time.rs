//! Times. The server renders them in UTC, and the browser's first render
//! (hydration) says the same; once hydrated, [`Time`] shows the age ("3 min
//! ago") with the exact time in the user's time zone on hover, and keeps the
//! age current.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// `2026-11-29 14:05 UTC`.
pub fn format_time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Like [`format_time`], or a dash.
pub fn format_optional(at: &Option<DateTime<Utc>>) -> String {
    at.as_ref()
        .map(format_time)
        .unwrap_or_else(|| "—".to_string())
}

/// How long ago `at` was at `now` ("just now", "5 min ago", "3 h ago",
/// "12 d ago"), or how far ahead it is ("in 5 min"); past a month, the date.
pub fn relative_age(at: &DateTime<Utc>, now: &DateTime<Utc>) -> String {
    let seconds = (*now - *at).num_seconds();
    let ahead = seconds < 0;
    let span = seconds.unsigned_abs();
    let amount = match span {
        0..45 => return "just now".to_string(),
        45..5_400 => format!("{} min", (span + 30) / 60),
        5_400..172_800 => format!("{} h", (span + 1_800) / 3_600),
        172_800..2_592_000 => format!("{} d", (span + 43_200) / 86_400),
        _ => return at.format("%Y-%m-%d").to_string(),
    };
    if ahead {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// The browser's clock, ticking every 30 s, shared by every [`Time`] of the
/// tab; `None` on the server and until the page has hydrated.
fn clock() -> Option<ArcRwSignal<Option<DateTime<Utc>>>> {
    #[cfg(feature = "hydrate")]
    {
        thread_local! {
            static CLOCK: std::cell::OnceCell<ArcRwSignal<Option<DateTime<Utc>>>> =
                const { std::cell::OnceCell::new() };
        }
        Some(CLOCK.with(|cell| {
            cell.get_or_init(|| {
                // reference-counted, not owned by the component that happened
                // to create it: it lives as long as the tab
                let now = ArcRwSignal::new(None);
                // starts after hydration, so the first render matches the server's
                let first = now.clone();
                request_animation_frame(move || first.set(Some(Utc::now())));
                let ticking = now.clone();
                let _ = set_interval_with_handle(
                    move || ticking.set(Some(Utc::now())),
                    std::time::Duration::from_secs(30),
                );
                now
            })
            .clone()
        }))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

/// The exact time in the browser's time zone.
#[cfg(feature = "hydrate")]
fn local_time(at: &DateTime<Utc>) -> String {
    let date = web_sys::js_sys::Date::new(&web_sys::wasm_bindgen::JsValue::from_f64(
        at.timestamp_millis() as f64,
    ));
    String::from(date.to_locale_string("default", &web_sys::js_sys::Object::new()))
}

/// A time: UTC when rendered, then its age, with the exact local time on
/// hover and for assistive technology.
#[component]
pub fn Time(
    /// The time.
    at: DateTime<Utc>,
) -> impl IntoView {
    let clock = clock();
    let exact = format_time(&at);
    let now = move || clock.as_ref().and_then(|clock| clock.get());
    let text = {
        let now = now.clone();
        move || match now() {
            Some(now) => relative_age(&at, &now),
            None => exact.clone(),
        }
    };
    let title = move || {
        now().map(|_| {
            #[cfg(feature = "hydrate")]
            {
                local_time(&at)
            }
            #[cfg(not(feature = "hydrate"))]
            {
                format_time(&at)
            }
        })
    };
    view! { <time datetime=at.to_rfc3339() title=title>{text}</time> }
}

/// [`Time`], or a dash.
#[component]
pub fn OptionalTime(
    /// The time, if any.
    at: Option<DateTime<Utc>>,
) -> impl IntoView {
    match at {
        Some(at) => view! { <Time at/> }.into_any(),
        None => "—".into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_people_say_them() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ago = |seconds: i64| relative_age(&(now - chrono::Duration::seconds(seconds)), &now);
        assert_eq!(ago(10), "just now");
        assert_eq!(ago(60), "1 min ago");
        assert_eq!(ago(3 * 60 + 10), "3 min ago");
        assert_eq!(ago(3 * 3600), "3 h ago");
        assert_eq!(ago(5 * 86_400), "5 d ago");
        assert_eq!(ago(60 * 86_400), "2026-10-03");
        assert_eq!(ago(-600), "in 10 min");
    }
}
