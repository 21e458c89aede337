//! Charts drawn as SVG on the server (and redrawn in the browser when the
//! data changes): no script library, a link behind every bar, and a table
//! with the same numbers for screen readers and keyboards.

use leptos::prelude::*;

/// One bar of a [`StackedColumns`] chart: its segments bottom up.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// What the column stands for, e.g. "10:15–10:30".
    pub label: String,
    /// (value, CSS class, link) per segment.
    pub segments: Vec<(i64, &'static str, String)>,
}

/// Stacked columns over time (the Overview's throughput): `legend` names the
/// segments' classes in order.
#[component]
pub fn StackedColumns(
    /// Names the chart for assistive technology.
    title: String,
    columns: Vec<Column>,
    /// (CSS class, name) of each kind of segment.
    legend: Vec<(&'static str, &'static str)>,
) -> impl IntoView {
    const WIDTH: f64 = 960.0;
    const HEIGHT: f64 = 180.0;
    let peak = columns
        .iter()
        .map(|c| c.segments.iter().map(|s| s.0).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = WIDTH / columns.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let bars = columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            let x = index as f64 * slot + (slot - bar) / 2.0;
            let mut base = HEIGHT;
            column
                .segments
                .iter()
                .filter(|(value, _, _)| *value > 0)
                .map(|(value, class, href)| {
                    let height = (*value as f64 / peak as f64 * (HEIGHT - 4.0)).max(1.5);
                    base -= height;
                    let tip = format!("{}: {value}", column.label);
                    view! {
                        <a href=href.clone()>
                            <rect class=*class x=format!("{x:.1}") y=format!("{base:.1}")
                                width=format!("{bar:.1}") height=format!("{height:.1}")>
                                <title>{tip}</title>
                            </rect>
                        </a>
                    }
                })
                .collect_view()
        })
        .collect_view();
    let first = columns.first().map(|c| c.label.clone()).unwrap_or_default();
    let last = columns.last().map(|c| c.label.clone()).unwrap_or_default();
    let rows = columns
        .iter()
        .filter(|c| c.segments.iter().any(|s| s.0 > 0))
        .map(|column| {
            view! {
                <tr>
                    <th scope="row">{column.label.clone()}</th>
                    {column.segments.iter().map(|(value, _, href)| view! {
                        <td class="num"><a href=href.clone()>{*value}</a></td>
                    }).collect_view()}
                </tr>
            }
        })
        .collect_view();
    let empty = columns.iter().all(|c| c.segments.iter().all(|s| s.0 == 0));
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none"
                role="img" aria-label=title.clone()>
                <line class="axis" x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT/>
                {bars}
            </svg>
            <figcaption>
                <span class="muted">{first}" → "{last}" · peak "{peak}</span>
                <span class="legend">
                    {legend.iter().map(|(class, name)| view! {
                        <span><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true">
                            <rect class=*class width="10" height="10"/>
                        </svg>{*name}</span>
                    }).collect_view()}
                </span>
            </figcaption>
            <details>
                <summary>{format!("{title} as a table")}</summary>
                {if empty {
                    view! { <p class="muted">"Nothing ended in this period."</p> }.into_any()
                } else {
                    view! {
                        <div class="table-wrap">
                            <table class="list">
                                <thead><tr>
                                    <th scope="col">"From"</th>
                                    {legend.iter().map(|(_, name)| view! { <th scope="col" class="num">{*name}</th> }).collect_view()}
                                </tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                        </div>
                    }.into_any()
                }}
            </details>
        </figure>
    }
}

/// One row of a [`ShareBars`] chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareBar {
    pub label: String,
    /// 0–1; `None` draws no bar ("no data").
    pub share: Option<f64>,
    /// What the number says, e.g. "12.5 % (3 of 24)".
    pub text: String,
    pub href: String,
    /// CSS class of the bar.
    pub class: &'static str,
}

/// Horizontal bars of shares (failure rates by type, failures by age), each
/// a link, the number written beside it.
#[component]
pub fn ShareBars(
    /// Names the chart for assistive technology.
    title: String,
    bars: Vec<ShareBar>,
) -> impl IntoView {
    view! {
        <ul class="share-bars" aria-label=title>
            {bars.into_iter().map(|bar| {
                let width = bar.share.map(|s| (s * 100.0).clamp(0.0, 100.0)).unwrap_or(0.0);
                view! {
                    <li>
                        <a href=bar.href>
                            <span class="share-label">{bar.label}</span>
                            <svg class="share-track" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
                                <rect class="track" width="100" height="10"/>
                                <rect class=bar.class width=format!("{width:.2}") height="10"/>
                            </svg>
                            <span class="share-text">{bar.text}</span>
                        </a>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// One line of a [`Lines`] chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Its name in the legend and the table.
    pub name: &'static str,
    /// CSS class of the line and its swatch.
    pub class: &'static str,
    /// One value per point of the chart (`None`: nothing to draw there).
    pub values: Vec<Option<f64>>,
}

/// Lines over time (response-time percentiles, success rates): a point
/// without a value breaks its line, a lone point is drawn as a dot.
/// `format` writes a value for the tooltips, the caption and the table.
#[component]
pub fn Lines(
    /// Names the chart for assistive technology.
    title: String,
    /// What each point stands for, e.g. "10:15–10:30 UTC".
    labels: Vec<String>,
    lines: Vec<Line>,
    /// The top of the scale, when it is fixed (100 % for a rate); the
    /// highest value otherwise.
    #[prop(optional)]
    ceiling: Option<f64>,
    format: fn(f64) -> String,
) -> impl IntoView {
    const WIDTH: f64 = 960.0;
    const HEIGHT: f64 = 180.0;
    let peak = ceiling
        .or_else(|| {
            lines
                .iter()
                .flat_map(|l| l.values.iter().flatten().copied())
                .reduce(f64::max)
        })
        .filter(|p| *p > 0.0)
        .unwrap_or(1.0);
    let slot = WIDTH / labels.len().max(1) as f64;
    let x = move |index: usize| index as f64 * slot + slot / 2.0;
    let y = move |value: f64| HEIGHT - 2.0 - (value / peak).clamp(0.0, 1.0) * (HEIGHT - 6.0);
    let drawn = lines
        .iter()
        .map(|line| {
            // runs of consecutive points with values
            let mut runs: Vec<Vec<(usize, f64)>> = vec![Vec::new()];
            for (index, value) in line.values.iter().enumerate() {
                match value {
                    Some(v) => runs.last_mut().expect("one run").push((index, *v)),
                    None if runs.last().is_some_and(|r| !r.is_empty()) => runs.push(Vec::new()),
                    None => {}
                }
            }
            runs.into_iter()
                .filter(|run| !run.is_empty())
                .map(|run| {
                    let tips = run
                        .iter()
                        .map(|(index, value)| {
                            let tip = format!(
                                "{} — {}: {}",
                                labels.get(*index).cloned().unwrap_or_default(),
                                line.name,
                                format(*value)
                            );
                            view! {
                                <circle class=line.class cx=format!("{:.1}", x(*index))
                                    cy=format!("{:.1}", y(*value)) r="3">
                                    <title>{tip}</title>
                                </circle>
                            }
                        })
                        .collect_view();
                    let path = run
                        .iter()
                        .map(|(index, value)| format!("{:.1},{:.1}", x(*index), y(*value)))
                        .collect::<Vec<_>>()
                        .join(" ");
                    view! {
                        <polyline class=format!("line {}", line.class) points=path/>
                        {tips}
                    }
                })
                .collect_view()
        })
        .collect_view();
    let first = labels.first().cloned().unwrap_or_default();
    let last = labels.last().cloned().unwrap_or_default();
    let any = lines.iter().any(|l| l.values.iter().any(Option::is_some));
    let rows = labels
        .iter()
        .enumerate()
        .filter(|(index, _)| {
            lines
                .iter()
                .any(|l| l.values.get(*index).copied().flatten().is_some())
        })
        .map(|(index, label)| {
            view! {
                <tr>
                    <th scope="row">{label.clone()}</th>
                    {lines.iter().map(|l| view! {
                        <td class="num">{l.values.get(index).copied().flatten().map(format).unwrap_or_else(|| "—".into())}</td>
                    }).collect_view()}
                </tr>
            }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none"
                role="img" aria-label=title.clone()>
                <line class="axis" x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT/>
                {drawn}
            </svg>
            <figcaption>
                <span class="muted">{first}" → "{last}" · top of scale "{format(peak)}</span>
                <span class="legend">
                    {lines.iter().map(|l| view! {
                        <span><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true">
                            <rect class=l.class width="10" height="10"/>
                        </svg>{l.name}</span>
                    }).collect_view()}
                </span>
            </figcaption>
            <details>
                <summary>{format!("{title} as a table")}</summary>
                {if any {
                    view! {
                        <div class="table-wrap">
                            <table class="list">
                                <thead><tr>
                                    <th scope="col">"From"</th>
                                    {lines.iter().map(|l| view! { <th scope="col" class="num">{l.name}</th> }).collect_view()}
                                </tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                        </div>
                    }.into_any()
                } else {
                    view! { <p class="muted">"Nothing to show in this period."</p> }.into_any()
                }}
            </details>
        </figure>
    }
}
